import { useEffect, useState } from "react";
import { connect } from "livepath";
import { LivepathProvider, useSnapshot } from "livepath/react";
import { paths } from "../board";

/** The lab's own client, so its counts show only what the lab does. */
const labClient = connect({ lingerMs: 2000 });
Object.assign(window, { livepathLab: labClient });

type Stats = ReturnType<typeof labClient.stats>;

/** A component that subscribes while it is mounted. */
function Subscriber() {
  const { status, data } = useSnapshot(paths.board);
  return <span className="muted">mounted · {status === "success" ? String(data?.title ?? "(untitled)") : status}</span>;
}

/** The server's gauges: its subscriptions and its WebSocket connections (every tab's board shares
 * one, with `tabs: "shared"`; the lab's own client has its own while it is busy). */
async function serverGauges(): Promise<{ subscriptions: number; connections: number } | null> {
  try {
    const response = await fetch("/metrics");
    const text = response.ok ? await response.text() : "";
    const gauge = (name: string) => Number(text.split("\n").find((l) => l.startsWith(`livepath_${name} `))?.split(" ")[1]);
    const [subscriptions, connections] = [gauge("subscriptions"), gauge("connections")];
    // While the server is away (a restart), there is nothing to show.
    return Number.isFinite(subscriptions) && Number.isFinite(connections) ? { subscriptions, connections } : null;
  } catch {
    return null;
  }
}

/** The board's client (main.tsx): whether this tab holds the shared socket. */
const boardTabs = () => (window as unknown as { livepath?: typeof labClient }).livepath?.stats().tabs ?? "single";

/** Mount and unmount a subscribed component, and watch the listener counts go back to zero. */
export function LeakLab() {
  const [mounted, setMounted] = useState(false);
  const [cycles, setCycles] = useState(0);
  const [running, setRunning] = useState(false);
  const [stats, setStats] = useState<Stats>(labClient.stats());
  const [server, setServer] = useState<Awaited<ReturnType<typeof serverGauges>>>(null);
  const [tabs, setTabs] = useState(boardTabs());

  useEffect(() => {
    let alive = true;
    const tick = async () => {
      setStats(labClient.stats());
      setTabs(boardTabs());
      const gauges = await serverGauges();
      if (alive) setServer(gauges);
    };
    const timer = setInterval(tick, 250);
    tick();
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, []);

  async function churn(times: number) {
    setRunning(true);
    for (let i = 0; i < times; i++) {
      setMounted(true);
      await new Promise((r) => setTimeout(r, 0));
      setMounted(false);
      await new Promise((r) => setTimeout(r, 0));
      setCycles((c) => c + 1);
    }
    setRunning(false);
  }

  return (
    <section className="card lab">
      <div className="card-head">
        <h2>Leak lab</h2>
        <span className="muted">its own client · lingerMs 2000</span>
      </div>
      <div className="row">
        <button onClick={() => setMounted((m) => !m)} disabled={running} data-testid="lab-toggle">
          {mounted ? "Unmount" : "Mount"}
        </button>
        <button onClick={() => churn(100)} disabled={running} data-testid="lab-churn">
          Mount/unmount ×100
        </button>
        <span className="muted" data-testid="lab-cycles">{cycles} cycles</span>
      </div>
      <div className="lab-slot">
        {mounted ? (
          <LivepathProvider client={labClient}>
            <Subscriber />
          </LivepathProvider>
        ) : (
          <span className="muted">unmounted</span>
        )}
      </div>
      <dl className="stats">
        <div><dt>listeners</dt><dd data-testid="lab-listeners">{stats.listeners}</dd></div>
        <div><dt>subscriptions</dt><dd data-testid="lab-subscriptions">{stats.subscriptions}</dd></div>
        <div><dt>socket</dt><dd data-testid="lab-socket">{stats.socket}</dd></div>
        <div><dt>server subscriptions</dt><dd data-testid="server-subscriptions">{server?.subscriptions ?? "–"}</dd></div>
        <div><dt>server sockets</dt><dd data-testid="server-sockets">{server?.connections ?? "–"}</dd></div>
        <div><dt>this tab's board</dt><dd data-testid="board-tabs">{tabs}</dd></div>
      </dl>
    </section>
  );
}
