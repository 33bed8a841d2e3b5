// Shared tabs against a socket per tab: five tabs of one app (tests/pages/tabs.ts) in headless
// Chromium against a real server, first with tabs: "single" (the baseline), then "shared", in the same
// run. Measures the server's connections, the time from a write in one tab to its display in another
// (at once, then confirmed), and the time for every tab to be open again after the leader tab closes
// (shared) or after the server drops every connection (single). Prints a Markdown table.
// Usage: node bench/tabs.mjs [writes] [rounds]   (LIVEPATH_SERVER_BIN picks the server binary)
import { launchBrowser, startServer, startVite } from "../tests/support.mjs";
import { median } from "../../scripts/tables.mjs";

const writes = Number(process.argv[2] ?? 30);
const rounds = Number(process.argv[3] ?? 3);
const TABS = 5;
const server = await startServer();
const vite = await startVite(server);
const browser = await launchBrowser();
const appUrl = vite.resolvedUrls.local[0];
const results = { single: [], shared: [] };

async function round(mode, r) {
  const name = `bench-${mode}-${r}-${Date.now().toString(36)}`;
  const doc = `${name}/d`;
  await server.put(doc, { i: -1 });
  const context = await browser.newContext();
  const pages = [];
  for (let i = 0; i < TABS; i++) {
    const page = await context.newPage();
    await page.goto(`${appUrl}tests/pages/tabs.html?name=${name}&paths=${doc}&tabs=${mode}`);
    pages.push(page);
  }
  for (const page of pages) await page.waitForFunction(() => window.log.some((e) => !e[2]));
  await new Promise((res) => setTimeout(res, 300));
  const connections = await server.metric("connections");
  const roles = await Promise.all(pages.map((p) => p.evaluate(() => window.client.stats().tabs)));
  const leader = Math.max(roles.indexOf("leader"), 0);
  // Writer and reader are two tabs other than the leader: a frame goes tab → leader → server → leader → tab.
  const [writer, reader] = pages.filter((_, i) => i !== leader);
  const shown = [], confirmed = [];
  for (let i = 0; i < writes; i++) {
    const t0 = await writer.evaluate(([doc, i]) => { const t = window.now(); void window.client.set(doc, { i }); return t; }, [doc, i]);
    const [first, last] = await (await reader.waitForFunction((i) => {
      const seen = window.log.filter((e) => e[4]?.i === i);
      const done = seen.find((e) => !e[3]);
      return done && [seen[0][5], done[5]];
    }, i)).jsonValue();
    shown.push(first - t0);
    confirmed.push(last - t0);
  }
  // Every remaining tab open again on a new connection.
  const rest = mode === "shared" ? pages.filter((_, i) => i !== leader) : pages;
  const t0 = await rest[0].evaluate(() => window.now());
  if (mode === "shared") await pages[leader].close();
  else await fetch(`${server.url}/v1/_faults/drop-connections`, { method: "POST" });
  const reopened = [];
  for (const page of rest) {
    reopened.push(await (await page.waitForFunction((t0) => {
      const lost = window.statuses.findIndex((s) => s[1] >= t0 && s[0] !== "open");
      const back = lost >= 0 && window.statuses.slice(lost).find((s) => s[0] === "open");
      return back && back[1];
    }, t0)).jsonValue());
  }
  await context.close();
  return { connections, shown: median(shown), confirmed: median(confirmed), takeover: Math.max(...reopened) - t0 };
}

for (let r = 0; r < rounds; r++) for (const mode of ["single", "shared"]) results[mode].push(await round(mode, r));
await browser.close();
await vite.close();
await server.close();

const of = (mode, key) => median(results[mode].map((x) => x[key]));
const ms = (x) => `${x.toFixed(1)} ms`;
console.log(`${TABS} tabs of one app, ${rounds} rounds of each kind, alternating; ${writes} writes per round (medians of the round medians).\n`);
console.log("| tabs | server connections | write in one tab shown in another | confirmed there | every tab open again after losing the socket |");
console.log("|---|---:|---:|---:|---:|");
console.log(`| "single": a socket per tab (baseline; the socket lost: the server drops it) | ${of("single", "connections")} | ${ms(of("single", "shown"))} | ${ms(of("single", "confirmed"))} | ${ms(of("single", "takeover"))} |`);
console.log(`| "shared" (the socket lost: the leader tab closes) | ${of("shared", "connections")} | ${ms(of("shared", "shown"))} | ${ms(of("shared", "confirmed"))} | ${ms(of("shared", "takeover"))} |`);
const ratio = (key) => (of("shared", key) / of("single", key)).toFixed(2);
console.log(`| ratio, shared / single | ${ratio("connections")} | ${ratio("shown")} | ${ratio("confirmed")} | ${ratio("takeover")} |`);
