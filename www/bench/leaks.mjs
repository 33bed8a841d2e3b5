// Leaks: 10,000 mount/unmount cycles of a subscribed React component, then 1,000 reconnects, in headless
// Chromium against a real server; memory and counts before and after. Prints a Markdown table.
// Usage: node bench/leaks.mjs [mounts] [reconnects]   (LIVEPATH_SERVER_BIN picks the server binary)
import { LivepathServer } from "../../scripts/livepath-server.mjs";
import { runPage } from "./chromium.mjs";

const mounts = Number(process.argv[2] ?? 10_000);
const reconnects = Number(process.argv[3] ?? 1_000);
const server = await LivepathServer.start({ args: ["--fault-injection"] });
const r = await runPage(
  "bench/leaks.html",
  { server: server.url, mounts: String(mounts), reconnects: String(reconnects) },
  { flags: ["--js-flags=--expose-gc", "--enable-precise-memory-info"] },
);
await server.close();

const kib = (b) => `${(b / 1024).toFixed(0)} KiB`;
const row = (label, s) =>
  `| ${label} | ${kib(s.heap)} | ${kib(s.wasm)} | ${s.stats.listeners} | ${s.stats.subscriptions} | ${s.stats.pendingWrites} | ${s.stats.socket} | ${s.serverSubscriptions} |`;
console.log(`${mounts.toLocaleString("en")} mount/unmount cycles (${(r.churnMs / mounts).toFixed(2)} ms each), then ${reconnects.toLocaleString("en")} reconnects; JS heap after GC.\n`);
console.log("| when | JS heap | wasm memory | listeners | subscriptions | pending writes | socket | server subscriptions |");
console.log("|---|---:|---:|---:|---:|---:|---|---:|");
console.log(row("after 200 warm-up cycles", r.before));
console.log(row(`after ${Math.floor(mounts / 2).toLocaleString("en")} cycles`, r.halfway));
console.log(row(`after ${mounts.toLocaleString("en")} cycles`, r.afterMounts));
console.log(row(`after ${reconnects.toLocaleString("en")} reconnects`, r.afterReconnects));
