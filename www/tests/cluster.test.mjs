// Several nodes: three livepath-server nodes on one real PostgreSQL behind a real nginx
// (scripts/cluster.mjs), the demo app served by Vite proxying to nginx, headless Chromium. A node is
// killed with SIGKILL while the page writes and another node writes too: the page goes reconnecting,
// then open on another node, resumes, and ends with exactly the database's state; each of its writes
// landed once.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Cluster } from "../../scripts/cluster.mjs";
import { launchBrowser, openPage, startVite } from "./support.mjs";

const WRITES = 60;
let cluster, vite, browser, appUrl;

before(async () => {
  cluster = await Cluster.start({ nodes: 3 });
  vite = await startVite(cluster);
  appUrl = vite.resolvedUrls.local[0];
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await vite?.close();
  await cluster?.close();
});

/** The index of the node whose open connections rose to `count` (the page's), or -1. */
async function nodeWith(count) {
  for (let i = 0; i < cluster.nodes.length; i++) {
    if (cluster.nodes[i].process && (await cluster.nodes[i].metric("connections")) === count) return i;
  }
  return -1;
}

test("a node killed mid-stream: the page reconnects to another, resumes, and ends with the database's state", async () => {
  const page = await openPage(browser, `${appUrl}?board=cluster`);
  await page.getByTestId("status").filter({ hasText: "open" }).waitFor({ timeout: 10_000 });
  // The page's one socket is on some node; find it.
  let victim = -1;
  for (let tries = 0; victim < 0 && tries < 50; tries++) {
    victim = await nodeWith(1);
    if (victim < 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(victim >= 0, "the page's socket is on one node");

  await page.evaluate((writes) => {
    const client = window.livepath;
    window.statuses = [];
    client.onStatus((s) => window.statuses.push(s));
    window.view = null;
    client.onSnapshot("race", (s) => {
      window.view = { docs: s.docs.map((d) => [d.id, d.version, d.data]), pending: s.hasPendingWrites };
    });
    window.written = 0;
    window.done = (async () => {
      for (let i = 0; i < writes; i++) {
        await client.set(`race/page-${String(i).padStart(3, "0")}`, { i });
        window.written = i + 1;
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
  }, WRITES);

  // Another node writes the same collection meanwhile, by HTTP.
  const other = (victim + 1) % cluster.nodes.length;
  const outside = (async () => {
    for (let i = 0; i < 20; i++) {
      await cluster.nodes[other].put(`race/http-${String(i).padStart(3, "0")}`, { i });
      await new Promise((r) => setTimeout(r, 25));
    }
  })();

  await page.waitForFunction(() => window.written >= 15, null, { timeout: 10_000 });
  await cluster.nodes[victim].close("SIGKILL");
  await Promise.all([page.evaluate(() => window.done), outside]);

  const statuses = await page.evaluate(() => window.statuses);
  const lost = statuses.indexOf("reconnecting");
  assert.ok(lost >= 0 && statuses.slice(lost).includes("open"), `reconnecting, then open again: ${statuses}`);
  assert.ok((await nodeWith(1)) >= 0, "the page is on a surviving node now");

  const listing = await cluster.nodes[other].get("race");
  assert.equal(listing.docs.length, WRITES + 20, "every write is there");
  // Each write is one version of the one sequence: none was applied twice.
  assert.equal(Number(cluster.sql("SELECT version FROM livepath_meta")), WRITES + 20, "no write applied twice");
  const expected = listing.docs.map((d) => [d.id, d.version, d.data]);
  await page.waitForFunction((n) => window.view?.docs.length === n && !window.view.pending, WRITES + 20, { timeout: 15_000 });
  assert.deepEqual(await page.evaluate(() => window.view.docs), expected, "the page shows the database's state");
  assert.deepEqual(page.errors.filter((e) => !/WebSocket|ERR_CONNECTION|502|503/.test(e)), []);
  await page.close();
});
