// Reload with and without persistence: an app with 100 subscribed documents, 5 of them changed while
// it was closed (bench/reload.ts), in headless Chromium (a profile on disk, so IndexedDB is real)
// against a real server. Time to the first snapshot of every document, to every one confirmed, and
// the bytes on the socket, persistent loads against memory-only ones in the same run. Prints a
// Markdown table. Usage: node bench/reload.mjs [rounds]   (LIVEPATH_SERVER_BIN picks the server binary)
import { LivepathServer } from "../../scripts/livepath-server.mjs";
import { runPage } from "./chromium.mjs";
import { median } from "../../scripts/tables.mjs";

const rounds = Number(process.argv[2] ?? 7);
const server = await LivepathServer.start();
const loads = await runPage("bench/reload.html", { server: server.url, rounds: String(rounds) });
await server.close();

const of = (mode, key) => loads.filter((l) => l.mode === mode).map((l) => l[key]);
const spread = (xs, unit, digits = 0) => {
  const f = (x) => `${x.toFixed(digits)}${unit}`;
  return `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
};
const kb = (xs) => spread(xs.map((x) => x / 1000), " KB", 1);
const ratio = (key) => (median(of("indexeddb", key)) / median(of("memory", key))).toFixed(2);
console.log(`${rounds} loads of each kind, alternating; times from the start of the navigation, median (min–max).\n`);
console.log("| load | every document shown | every document confirmed | received | sent |");
console.log("|---|---:|---:|---:|---:|");
for (const [mode, label] of [["memory", "without persistence (baseline)"], ["indexeddb", "persistence: \"indexeddb\", 5 changed"]]) {
  console.log(`| ${label} | ${spread(of(mode, "firstMs"), " ms")} | ${spread(of(mode, "liveMs"), " ms")} | ${kb(of(mode, "received"))} | ${kb(of(mode, "sent"))} |`);
}
console.log(`| ratio, persistent / baseline | ${ratio("firstMs")} | ${ratio("liveMs")} | ${ratio("received")} | ${ratio("sent")} |`);
