// The leak benchmark's page: 10,000 mount/unmount cycles of a subscribed React component, then 1,000
// reconnects (with ?persistence=indexeddb, with the cache on: every cycle reads and stores it); JS heap after GC, wasm memory, the client's stats() and the server's subscriptions before
// and after. Run by bench/leaks.mjs in a Chromium started with --js-flags=--expose-gc.
import { flushSync } from "react-dom";
import { createRoot } from "react-dom/client";
import { connect } from "livepath";
import loadWasm from "livepath/manual";
import { LivepathProvider, useSnapshot } from "livepath/react";

const params = new URLSearchParams(location.search);
const server = params.get("server")!;
const mounts = Number(params.get("mounts"));
const reconnects = Number(params.get("reconnects"));
const persistence = params.get("persistence") === "indexeddb" ? "indexeddb" : "memory";
const client = connect({ url: `${server.replace("http", "ws")}/v1/ws`, backoff: { initialMs: 5, maxMs: 20 }, persistence });
const root = createRoot(document.getElementById("root")!);

function Subscribed({ path }: { path: string }) {
  const { status } = useSnapshot(path);
  return <p>{status}</p>;
}

const tick = () => new Promise((r) => setTimeout(r, 0));
const gc = (window as unknown as { gc?: () => void }).gc;

async function sample() {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await tick();
  }
  const memory = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory;
  const wasm = await loadWasm();
  const metrics = await (await fetch(`${server}/metrics`)).text();
  const line = metrics.split("\n").find((l) => l.startsWith("livepath_subscriptions "));
  return {
    heap: memory?.usedJSHeapSize ?? 0,
    wasm: wasm.memory.buffer.byteLength,
    stats: client.stats(),
    serverSubscriptions: Number(line?.split(" ")[1]),
  };
}

async function churn(times: number) {
  for (let i = 0; i < times; i++) {
    flushSync(() =>
      root.render(
        <LivepathProvider client={client}>
          <Subscribed path={`leaks/d${i % 10}`} />
        </LivepathProvider>,
      ),
    );
    await tick();
    flushSync(() => root.render(null));
    await tick();
  }
}

async function reconnect(times: number) {
  const unsubscribe = client.onSnapshot("leaks/held", () => {});
  // onStatus calls back at once with the current status, before `stop` is assigned: stop in a microtask.
  const open = () =>
    new Promise<void>((resolve) => {
      let done = false;
      const stop = client.onStatus((s) => {
        if (s !== "open" || done) return;
        done = true;
        queueMicrotask(() => stop());
        resolve();
      });
    });
  await open();
  for (let i = 0; i < times; i++) {
    await fetch(`${server}/v1/_faults/drop-connections`, { method: "POST" });
    await new Promise((r) => setTimeout(r, 5));
    await open();
  }
  unsubscribe();
}

const report = params.get("report");
if (report) {
  await churn(200); // warm up: JIT, caches, the socket
  const before = await sample();
  // A sample half way too: growth that stops in the second half is a cache filling up; growth that
  // goes on at the same pace is a leak.
  const half = Math.floor(mounts / 2);
  let started = performance.now();
  await churn(half);
  let churnMs = performance.now() - started;
  const halfway = await sample();
  started = performance.now();
  await churn(mounts - half);
  churnMs += performance.now() - started;
  const afterMounts = await sample();
  await reconnect(reconnects);
  await new Promise((r) => setTimeout(r, 300));
  const afterReconnects = await sample();
  const results = { before, halfway, afterMounts, afterReconnects, churnMs };
  await fetch(report, { method: "POST", body: JSON.stringify(results) });
}
