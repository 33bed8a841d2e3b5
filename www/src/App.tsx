import { LeakLab } from "./components/LeakLab";
import { SharedTitle } from "./components/SharedTitle";
import { StatusBadge } from "./components/StatusBadge";
import { Todos } from "./components/Todos";
import { paths } from "./board";

export function App() {
  return (
    <main>
      <header>
        <h1>
          <span className="logo">●</span> livepath
        </h1>
        <StatusBadge />
      </header>
      <p className="tagline">
        A live board: open this page in two windows and edit in either. Every change travels over one
        WebSocket; yours show at once, faded until the server confirms them.
      </p>
      <div className="grid">
        <div className="column">
          <SharedTitle />
          <Todos />
        </div>
        <div className="column">
          <LeakLab />
          <TryIt />
        </div>
      </div>
    </main>
  );
}

function TryIt() {
  const command = `curl -X PUT ${location.origin}/v1/docs/${paths.board} \\\n  -H 'content-type: application/json' -d '{"title":"Hello from curl"}'`;
  return (
    <section className="card try">
      <h2>From a terminal</h2>
      <p className="muted">Write the shared document from anywhere; every open page updates.</p>
      <pre>{command}</pre>
    </section>
  );
}
