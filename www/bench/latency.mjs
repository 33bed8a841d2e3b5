// End-to-end latency: one client writes a document at 100, 1,000 and 5,000 writes/s through a real
// livepath-server; another client's listener in the same page timestamps each snapshot. Baseline: two
// bare WebSockets doing the same round trip through the same server. Prints p50/p95/p99 in ms.
// Usage: node bench/latency.mjs   (LIVEPATH_SERVER_BIN picks the server binary)
import { LivepathServer } from "../tests/support.mjs";
import { runPage } from "./chromium.mjs";

const server = await LivepathServer.start();
const results = await runPage("bench/latency.html", { server: server.url.replace("http", "ws") + "/v1/ws" });
await server.close();

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const ms = (x) => (x === undefined ? "–" : x.toFixed(2));
console.log("Write → listener callback, one page (one clock), real server on loopback.\n");
console.log("| writes/s | client | snapshots | p50 ms | p95 ms | p99 ms |");
console.log("|---:|---|---:|---:|---:|---:|");
for (const { mode, rate, samples } of results) {
  const label = mode === "raw" ? "raw WebSocket (baseline)" : "livepath";
  console.log(`| ${rate.toLocaleString("en")} | ${label} | ${samples.length} | ${ms(quantile(samples, 0.5))} | ${ms(quantile(samples, 0.95))} | ${ms(quantile(samples, 0.99))} |`);
}
