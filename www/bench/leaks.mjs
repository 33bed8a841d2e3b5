// Leaks: 10,000 mount/unmount cycles of a subscribed React component, then 1,000 reconnects, in headless
// Chromium against a real server; memory and counts before and after. Prints a Markdown table.
// Usage: node bench/leaks.mjs [mounts] [reconnects] [memory|indexeddb]   (the client's persistence;
// LIVEPATH_SERVER_BIN picks the server binary)
import { LivepathServer } from "../../scripts/livepath-server.mjs";
import { runPage } from "./chromium.mjs";

const mounts = Number(process.argv[2] ?? 10_000);
const reconnects = Number(process.argv[3] ?? 1_000);
const persistence = process.argv[4] ?? "memory";
const server = await LivepathServer.start({ args: ["--fault-injection"] });
const r = await runPage(
  "bench/leaks.html",
  { server: server.url, mounts: String(mounts), reconnects: String(reconnects), persistence },
  { flags: ["--js-flags=--expose-gc", "--enable-precise-memory-info"] },
);
await server.close();

const kib = (b) => `${(b / 1024).toFixed(0)} KiB`;
const row = (label, s) =>
  `| ${label} | ${kib(s.heap)} | ${kib(s.wasm)} | ${s.stats.listeners} | ${s.stats.subscriptions} | ${s.stats.pendingWrites} | ${s.stats.socket} | ${s.stats.cache.documents}, ${s.stats.cache.bytes.toLocaleString("en")} B | ${s.serverSubscriptions} |`;
console.log(`${mounts.toLocaleString("en")} mount/unmount cycles (${(r.churnMs / mounts).toFixed(2)} ms each), then ${reconnects.toLocaleString("en")} reconnects, persistence "${persistence}"; JS heap after GC.\n`);
console.log("| when | JS heap | wasm memory | listeners | subscriptions | pending writes | socket | cache (documents, bytes) | server subscriptions |");
console.log("|---|---:|---:|---:|---:|---:|---|---:|---:|");
console.log(row("after 200 warm-up cycles", r.before));
console.log(row(`after ${Math.floor(mounts / 2).toLocaleString("en")} cycles`, r.halfway));
console.log(row(`after ${mounts.toLocaleString("en")} cycles`, r.afterMounts));
console.log(row(`after ${reconnects.toLocaleString("en")} reconnects`, r.afterReconnects));
