// Browser dispatch throughput: snapshots per second delivered to JS callbacks by livepath, against a
// bare WebSocket + JSON.parse page reading the same frames (the baseline), in headless Chromium, for 1
// path and for 1,000 paths. The two alternate, several times each; prints a Markdown table.
// Usage: node bench/dispatch.mjs [repetitions]
import { runPage } from "./chromium.mjs";
import { startReplayServer } from "./replay-server.mjs";

const repetitions = Number(process.argv[2] ?? 5);
const UPDATES = 50_000;
const BYTES = 1024;

const replay = await startReplayServer({ updates: UPDATES, bytes: BYTES });
const results = await runPage("bench/dispatch.html", {
  replay: replay.url,
  updates: String(UPDATES),
  repetitions: String(repetitions),
});
await replay.close();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const n = (x) => Math.round(x).toLocaleString("en");
console.log(`${UPDATES.toLocaleString("en")} snapshots of ~${BYTES} B each, ${repetitions} runs per cell; median (min–max).\n`);
console.log("| paths | raw WebSocket + JSON.parse, snapshots/s | livepath, snapshots/s | livepath ÷ raw |");
console.log("|---:|---:|---:|---:|");
for (const paths of [1, 1000]) {
  const rate = (mode) => results.filter((r) => r.paths === paths && r.mode === mode).map((r) => UPDATES / (r.ms / 1000));
  const [raw, lp] = [rate("raw"), rate("livepath")];
  const ratios = lp.map((l, i) => l / raw[i]);
  const cell = (xs) => `${n(median(xs))} (${n(Math.min(...xs))}–${n(Math.max(...xs))})`;
  const r2 = (x) => x.toFixed(2);
  console.log(`| ${paths} | ${cell(raw)} | ${cell(lp)} | ${r2(median(ratios))} (${r2(Math.min(...ratios))}–${r2(Math.max(...ratios))}) |`);
}
