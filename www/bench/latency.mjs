// End-to-end latency: one client writes a document at 100, 1,000 and 5,000 writes/s through a real
// livepath-server; another client's listener in the same page timestamps each snapshot. Baseline: two
// bare WebSockets doing the same round trip through the same server. Runs the page several times
// (a fresh server and browser each), prints p50/p95/p99 in ms as median (min–max) over the runs, and
// leaves every sample in target/bench/latency.json for the charts.
// Usage: node bench/latency.mjs [RUNS]   (LIVEPATH_SERVER_BIN picks the server binary)
import { mkdirSync, writeFileSync } from "node:fs";
import { LivepathServer } from "../../scripts/livepath-server.mjs";
import { runPage } from "./chromium.mjs";

const runs = Number(process.argv[2] ?? 3);
const all = [];
for (let run = 0; run < runs; run++) {
  const server = await LivepathServer.start({ args: ["--fault-injection"] });
  const results = await runPage("bench/latency.html", { server: server.url.replace("http", "ws") + "/v1/ws" });
  await server.close();
  all.push(...results.map((r) => ({ run, ...r })));
}
const out = new URL("../../target/bench/", import.meta.url);
mkdirSync(out, { recursive: true });
writeFileSync(new URL("latency.json", out), JSON.stringify(all));

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const cell = (xs, digits = 1) => {
  const f = (x) => (x === undefined ? "–" : x.toFixed(digits));
  return xs.length === 1 ? f(xs[0]) : `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
};
console.log(`Write → listener callback, one page (one clock), real server on loopback; ${runs} run${runs > 1 ? "s" : ""}, median (min–max).\n`);
console.log("| writes/s | client | snapshots per run | p50 ms | p95 ms | p99 ms |");
console.log("|---:|---|---:|---:|---:|---:|");
for (const rate of [100, 1000, 5000]) {
  for (const mode of ["raw", "livepath"]) {
    const rows = all.filter((r) => r.rate === rate && r.mode === mode && r.samples.length > 0);
    const label = mode === "raw" ? "raw WebSocket (baseline)" : "livepath";
    const q = (p) => rows.map((r) => quantile(r.samples, p));
    console.log(`| ${rate.toLocaleString("en")} | ${label} | ${cell(rows.map((r) => r.samples.length), 0)} | ${cell(q(0.5))} | ${cell(q(0.95))} | ${cell(q(0.99))} |`);
  }
}
