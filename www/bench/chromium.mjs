// Runs a benchmark page in a Chromium started without DevTools (Playwright's network instrumentation
// reports every WebSocket frame to the driver and becomes what gets measured). The page reads its
// parameters from the URL and POSTs its results to `report`; this resolves with them.
import { spawn } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "vite";

const root = fileURLToPath(new URL("..", import.meta.url));

export async function runPage(page, params, { minutes = 10, flags = [] } = {}) {
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
  const url = new URL(`${vite.resolvedUrls.local[0]}${page}`);
  url.search = new URLSearchParams({ ...params, report: `http://127.0.0.1:${reports.address().port}/` }).toString();
  const chromium = spawn(process.env.CHROMIUM ?? "/usr/bin/chromium", [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", `--user-data-dir=${profile}`, ...flags, url.href,
  ], { stdio: "ignore", detached: true }); // its own process group: the renderers go with it
  const timeout = setTimeout(() => deliver(null), minutes * 60_000);
  const results = await delivered;
  clearTimeout(timeout);
  const exited = new Promise((r) => chromium.once("exit", r));
  process.kill(-chromium.pid, "SIGTERM");
  await exited;
  reports.close();
  await vite.close();
  // Chromium's helper processes can still be writing into the profile for a moment after the browser
  // exits: retry, and never fail a measurement over a temporary directory.
  try {
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 300 });
  } catch (e) {
    console.error(`bench: could not remove ${profile}: ${e.message}`);
  }
  if (!results) throw new Error(`${page} did not report within ${minutes} minutes`);
  return results;
}
