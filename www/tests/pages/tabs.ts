// A page with a client sharing its socket with the other tabs (tabs: "shared"), for the shared-tabs
// tests. ?name= names the client (tabs share by name), ?paths= lists what it listens to from the first
// moment (comma-separated), ?linger= sets lingerMs, ?tabs=single turns sharing off (the benchmark's
// baseline), ?url=, ?token= and ?persistence= are connect()'s options (?token=none: a token function
// that answers null, as when nobody is signed in). Every snapshot it delivers goes, in order, to window.log, and every status to
// window.statuses, each with the wall-clock time in ms; window.listen(path) listens to one more path
// and window.stop() ends every listener.
import { connect, type Snapshot, type Unsubscribe } from "livepath";

const params = new URLSearchParams(location.search);
const log: unknown[][] = [];

const now = () => performance.timeOrigin + performance.now();
const statuses: unknown[][] = [];

const client = connect({
  tabs: params.get("tabs") === "single" ? "single" : "shared",
  name: params.get("name") ?? "default",
  url: params.get("url") ?? undefined,
  token: params.get("token") === "none" ? () => null : params.get("token") ?? undefined,
  persistence: params.get("persistence") === "indexeddb" ? "indexeddb" : "memory",
  lingerMs: params.has("linger") ? Number(params.get("linger")) : undefined,
  backoff: { initialMs: 100, maxMs: 400 },
});

function record(s: Snapshot) {
  const data = s.kind === "document" ? s.data : s.docs.map((d) => [d.id, d.data]);
  log.push(["snapshot", s.path, s.fromCache, s.hasPendingWrites, data, now()]);
}
client.onStatus((s) => statuses.push([s, now()]));

const listeners: Unsubscribe[] = [];

/** Listens to `path`, recording its snapshots. */
function listen(path: string) {
  listeners.push(client.onSnapshot(path, record, (e) => log.push(["error", path, e.code])));
}

/** Ends every listener. */
function stop() {
  for (const unsubscribe of listeners.splice(0)) unsubscribe();
}

for (const path of params.get("paths")?.split(",").filter(Boolean) ?? []) listen(path);
Object.assign(window, { client, log, statuses, listen, stop, now });
