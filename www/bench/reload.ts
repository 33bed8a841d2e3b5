// The reload benchmark's page: an app with 100 subscribed documents, loaded again and again, alternately
// with persistence ("indexeddb": the cache filled by the load before) and without ("memory"). Each load
// measures, from the start of the navigation, when every document had its first snapshot and when every
// one was confirmed by the server (fromCache: false), and the bytes its socket received and sent until
// then. Between a persistent load and the next, 5 of the documents change on the server, so a
// persistent load finds 95 unchanged. The page reloads itself (its state is in sessionStorage) and
// POSTs every load's figures to `report` at the end. Run by bench/reload.mjs.
import { connect, type Client } from "livepath";

const params = new URLSearchParams(location.search);
const url = `${params.get("server")!.replace("http", "ws")}/v1/ws`;
const rounds = Number(params.get("rounds"));
const DOCS = 100;
const CHANGED = 5;

type Load = { mode: string; firstMs: number; liveMs: number; received: number; sent: number };
type State = { prefix: string; step: number; loads: Load[] };
const state: State = JSON.parse(sessionStorage.getItem("reload") ?? "null") ?? {
  prefix: `reload-${Date.now()}`,
  step: 0,
  loads: [],
};
const paths = Array.from({ length: DOCS }, (_, i) => `${state.prefix}/d${i}`);
// Step 0 seeds the documents and fills the cache; then persistent and memory loads alternate.
const mode = state.step % 2 === 1 ? "indexeddb" : "memory";

let received = 0;
let sent = 0;
class CountingWebSocket extends WebSocket {
  constructor(u: string | URL, protocols?: string | string[]) {
    super(u, protocols);
    this.addEventListener("message", (e) => (received += (e as MessageEvent).data.length));
  }
  send(data: string) {
    sent += data.length;
    super.send(data);
  }
}

const when = (check: () => boolean) =>
  new Promise<void>((resolve) => {
    const poll = () => (check() ? resolve() : setTimeout(poll, 5));
    poll();
  });

async function write(changes: string[], body: (i: number) => object) {
  const writer = connect({ url, name: "writer" });
  await Promise.all(changes.map((p, i) => writer.set(p, body(i))));
  writer.close();
}

const text = "lorem ipsum dolor sit amet ".repeat(8);
if (state.step === 0) await write(paths, (i) => ({ title: `document ${i}`, text, n: 0 }));

const client: Client = connect({
  url,
  persistence: state.step === 0 ? "indexeddb" : mode,
  name: "bench",
  lingerMs: 0,
  WebSocket: CountingWebSocket,
});
const first = new Set<string>();
const live = new Set<string>();
let firstMs = 0;
let liveMs = 0;
const stops = paths.map((p) =>
  client.onSnapshot(p, (s) => {
    first.add(p);
    if (!s.fromCache) live.add(p);
    if (!firstMs && first.size === DOCS) firstMs = performance.now();
    if (!liveMs && live.size === DOCS) liveMs = performance.now();
  }),
);
await when(() => liveMs > 0);
await new Promise((r) => setTimeout(r, 300)); // anything more the server sends counts too
if (state.step > 0) state.loads.push({ mode, firstMs, liveMs, received, sent });
stops.forEach((stop) => stop());
await when(() => client.stats().subscriptions === 0);
await new Promise((r) => setTimeout(r, 300)); // the cache's last stores
client.close();
if (mode === "indexeddb" || state.step === 0) {
  const n = state.step + 1;
  const changed = Array.from({ length: CHANGED }, (_, i) => paths[(n * 7 + i * 19) % DOCS]);
  await write(changed, (i) => ({ title: `document changed at step ${n}`, text, n: i }));
}
state.step++;
if (state.step <= rounds * 2) {
  sessionStorage.setItem("reload", JSON.stringify(state));
  location.reload();
} else {
  await fetch(params.get("report")!, { method: "POST", body: JSON.stringify(state.loads) });
}
