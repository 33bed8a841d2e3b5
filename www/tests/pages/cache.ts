// A page with a persistent client, for the persistence tests. ?name= names the client (and so its
// cache), ?paths= lists what it listens to from the first moment (comma-separated), ?cacheBytes= caps
// the cache. Every frame its socket receives and every snapshot it delivers go, in order, to
// window.log; window.dropAcks makes the socket swallow acknowledgements and window.dropWrites keep
// writes from being sent, as a network that fails between send and answer would.
import { connect, type Snapshot } from "livepath";

const params = new URLSearchParams(location.search);
const log: unknown[][] = [];
const flags = window as unknown as { dropAcks?: boolean; dropWrites?: boolean };

class RecordingWebSocket extends WebSocket {
  set onmessage(handler: ((e: MessageEvent) => void) | null) {
    super.onmessage = handler && ((e: MessageEvent) => {
      const frame = JSON.parse(e.data);
      log.push(["frame", frame.type, frame.id ?? frame.req ?? null]);
      if (!(flags.dropAcks && frame.type === "ack")) handler(e);
    });
  }
  get onmessage() {
    return super.onmessage;
  }
  send(data: string) {
    const frame = JSON.parse(data);
    if (flags.dropWrites && ["set", "update", "delete"].includes(frame.type)) return;
    log.push(["sent", frame.type, frame.path ?? null]);
    super.send(data);
  }
}

const client = connect({
  persistence: "indexeddb",
  name: params.get("name") ?? "default",
  cacheBytes: params.has("cacheBytes") ? Number(params.get("cacheBytes")) : undefined,
  WebSocket: RecordingWebSocket,
  backoff: { initialMs: 100, maxMs: 400 },
});

function record(s: Snapshot) {
  const data = s.kind === "document" ? s.data : s.docs.map((d) => [d.id, d.data]);
  log.push(["snapshot", s.path, s.fromCache, s.hasPendingWrites, data]);
}

/** Listens to `path`, recording its snapshots; returns the function that stops. */
function listen(path: string) {
  return client.onSnapshot(path, record, (e) => log.push(["error", path, e.code]));
}

const notices: string[] = [];
client.onStatus((_, notice) => notice && notices.push(notice.message));
for (const path of params.get("paths")?.split(",").filter(Boolean) ?? []) listen(path);
Object.assign(window, { client, log, listen, notices });
