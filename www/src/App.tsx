import { useState, type FormEvent } from "react";
import { isLivepathError } from "livepath";
import { useClient, useConnectionStatus, useSnapshot } from "./hooks/react";

const initialPath = new URLSearchParams(location.search).get("path") ?? "demo/welcome";

export function App() {
  const [path, setPath] = useState(initialPath);
  const [draftPath, setDraftPath] = useState(initialPath);
  return (
    <main>
      <header>
        <h1>
          <span className="logo">●</span> livepath
        </h1>
        <StatusBadge />
      </header>
      <p className="tagline">
        Subscribe to a path, get its value at once and every change after — over one WebSocket.
      </p>
      <form
        className="path"
        onSubmit={(e) => {
          e.preventDefault();
          setPath(draftPath.trim());
        }}
      >
        <label htmlFor="path">Document</label>
        <input id="path" value={draftPath} onChange={(e) => setDraftPath(e.target.value)} spellCheck={false} />
        <button type="submit">Open</button>
      </form>
      <LiveDocument key={path} path={path} />
      <TryIt path={path} />
    </main>
  );
}

function StatusBadge() {
  const status = useConnectionStatus();
  return (
    <span className={`badge ${status}`} data-testid="status">
      {status}
    </span>
  );
}

function LiveDocument({ path }: { path: string }) {
  const { status, snapshot, error } = useSnapshot(path);
  return (
    <section className="card">
      <div className="card-head">
        <code>{path}</code>
        {snapshot && <span className="version">v{snapshot.version}</span>}
      </div>
      {status === "loading" && <p className="muted">Loading…</p>}
      {status === "error" && <p className="error">{error.code}: {error.message}</p>}
      {status === "success" && !snapshot.exists && (
        <p className="muted" data-testid="missing">
          No document here yet. Write one below or with curl.
        </p>
      )}
      {status === "success" && snapshot.exists && (
        <pre className="json" data-testid="data">
          {JSON.stringify(snapshot.data, null, 2)}
        </pre>
      )}
      <Editor path={path} />
    </section>
  );
}

function Editor({ path }: { path: string }) {
  const client = useClient();
  const [text, setText] = useState('{ "title": "Hello from the browser" }');
  const [message, setMessage] = useState<string | null>(null);
  async function save(e: FormEvent) {
    e.preventDefault();
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      setMessage("That is not valid JSON.");
      return;
    }
    try {
      const { version } = await client.set(path, data as object);
      setMessage(`Saved as version ${version}.`);
    } catch (err) {
      setMessage(isLivepathError(err) ? `${err.code}: ${err.message}` : String(err));
    }
  }
  return (
    <form className="editor" onSubmit={save}>
      <textarea value={text} onChange={(e) => setText(e.target.value)} rows={3} spellCheck={false} aria-label="New data (JSON)" />
      <div className="row">
        <button type="submit">Save</button>
        {message && <span className="muted" data-testid="save-message">{message}</span>}
      </div>
    </form>
  );
}

function TryIt({ path }: { path: string }) {
  const command = `curl -X PUT ${location.origin}/v1/docs/${path} -H 'content-type: application/json' -d '{"title":"Hello from curl"}'`;
  return (
    <section className="card try">
      <h2>Try it from a terminal</h2>
      <p className="muted">Write the document from anywhere; this page updates without a reload.</p>
      <pre>{command}</pre>
    </section>
  );
}
