// Browser dispatch throughput: snapshots per second delivered to JS callbacks by livepath, against a
// bare WebSocket + JSON.parse page reading the same frames (the baseline), in headless Chromium, for 1
// path and for 1,000 paths. The two alternate, several times each; prints a Markdown table.
// Chromium is started directly, without DevTools: Playwright's network instrumentation reports every
// WebSocket frame to the driver, and that, not the page, was what its runs measured.
// Usage: node bench/dispatch.mjs [repetitions]
import { spawn } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "vite";
import { startReplayServer } from "./replay-server.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const repetitions = Number(process.argv[2] ?? 5);
const UPDATES = 50_000;
const BYTES = 1024;

const replay = await startReplayServer({ updates: UPDATES, bytes: BYTES });
const vite = await createServer({ root, logLevel: "warn", server: { host: "127.0.0.1", port: 0 } });
await vite.listen();
let deliver;
const delivered = new Promise((r) => (deliver = r));
const reports = createHttpServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    res.writeHead(204, { "access-control-allow-origin": "*" }).end();
    if (req.method === "POST") deliver(JSON.parse(body));
  });
}).listen(0, "127.0.0.1");
await new Promise((r) => reports.once("listening", r));

const profile = mkdtempSync(join(tmpdir(), "livepath-bench-"));
const page = new URL(`${vite.resolvedUrls.local[0]}bench/dispatch.html`);
page.search = new URLSearchParams({
  replay: replay.url,
  report: `http://127.0.0.1:${reports.address().port}/`,
  updates: String(UPDATES),
  repetitions: String(repetitions),
}).toString();
const chromium = spawn(process.env.CHROMIUM ?? "/usr/bin/chromium", [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", `--user-data-dir=${profile}`, page.href,
], { stdio: "ignore" });
const timeout = setTimeout(() => deliver(null), 10 * 60_000);
const results = await delivered;
clearTimeout(timeout);
const exited = new Promise((r) => chromium.once("exit", r));
chromium.kill();
await exited;
reports.close();
await vite.close();
await replay.close();
rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
if (!results) throw new Error("the benchmark page did not report within 10 minutes");

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
