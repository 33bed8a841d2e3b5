// Chaos: three clients write and listen while the server cuts every connection at random moments and
// restarts once. At the end every client's view equals the server's state, every write is there, and
// none was applied twice: each write commits one version of the one global sequence, so on a fresh
// data directory the highest version equals the number of writes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openPage, useStack } from "./support.mjs";

const CLIENTS = 3;
const WRITES = 30;
const stack = useStack();

test("writes survive random connection cuts and a restart, each applied exactly once", async () => {
  const collection = "chaos";
  const pages = [];
  for (let c = 0; c < CLIENTS; c++) {
    const page = await openPage(stack.browser, `${stack.appUrl}?board=chaos`);
    await page.getByTestId("status").filter({ hasText: "open" }).waitFor({ timeout: 10_000 });
    await page.evaluate(({ collection, c, writes }) => {
      const client = window.livepath;
      window.view = { docs: [], pending: true };
      client.onSnapshot(collection, (s) => {
        window.view = { docs: s.docs.map((d) => [d.id, d.version]), pending: s.hasPendingWrites };
      });
      window.done = (async () => {
        for (let i = 0; i < writes; i++) {
          await client.set(`${collection}/c${c}-${String(i).padStart(3, "0")}`, { c, i });
          await new Promise((r) => setTimeout(r, Math.random() * 20));
        }
      })();
    }, { collection, c, writes: WRITES });
    pages.push(page);
  }

  // Cut every connection at random moments, and restart the server once in the middle.
  const seed = Date.now();
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let round = 0; round < 8; round++) {
    await new Promise((r) => setTimeout(r, 100 + random() * 250));
    if (round === 4) {
      await stack.server.restart();
    } else {
      await fetch(`${stack.server.url}/v1/_faults/drop-connections`, { method: "POST" }).catch(() => {});
    }
  }

  await Promise.all(pages.map((p) => p.evaluate(() => window.done)));
  const listing = await stack.server.get(collection);
  const expected = listing.docs.map((d) => [d.id, d.version]);
  assert.equal(expected.length, CLIENTS * WRITES, `every write is there (seed ${seed})`);
  const highest = Math.max(...listing.docs.map((d) => d.version));
  assert.equal(highest, CLIENTS * WRITES, `no write was applied twice (seed ${seed})`);
  for (const page of pages) {
    await page.waitForFunction((n) => window.view.docs.length === n && !window.view.pending, CLIENTS * WRITES, {
      timeout: 15_000,
    });
    assert.deepEqual(await page.evaluate(() => window.view.docs), expected, `a client's view (seed ${seed})`);
  }
  await Promise.all(pages.map((p) => p.close()));
});
