// Persistence in IndexedDB (connect({ persistence: "indexeddb" })): real IndexedDB in headless
// Chromium, pages of one browser context (so they share storage) reloaded, closed and crashed, and the
// real server stopped and started. tests/pages/cache.ts logs every frame received and every snapshot
// delivered, in order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchProfile, unique, useStack } from "./support.mjs";

const stack = useStack();

/** A page of `context` with a persistent client named `name` listening to `paths` from the start. */
async function cachePage(context, name, paths = [], extra = "") {
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  await page.goto(`${stack.appUrl}tests/pages/cache.html?name=${name}&paths=${paths.join(",")}${extra}`);
  await page.waitForFunction(() => window.client);
  return page;
}

const snapshots = (log) => log.filter((e) => e[0] === "snapshot");
const live = (page, n) => page.waitForFunction((n) => window.log.filter((e) => e[0] === "snapshot" && !e[2]).length >= n, n);
const cachedDocuments = (page, n) => page.waitForFunction((n) => window.client.stats().cache.documents === n, n);
const stats = (page) => page.evaluate(() => window.client.stats());

/** A page of `context` whose client `name` has cached `doc` ({ v: 1 } on the server) and still listens. */
async function cachedDocPage(context, name, doc) {
  await stack.server.put(doc, { v: 1 });
  const page = await cachePage(context, name, [doc]);
  await live(page, 1);
  await cachedDocuments(page, 1);
  return page;
}

test("a reload shows the cached snapshots before any frame arrives, then resumes: unchanged documents cost no snapshot, a changed one arrives once", async () => {
  const name = unique("reload");
  const [a, b] = [`${name}/a`, `${name}/b`];
  await stack.server.put(a, { v: "a1" });
  await stack.server.put(b, { v: "b1" });
  const context = await stack.browser.newContext();
  let page = await cachePage(context, name, [a, b]);
  await live(page, 2);
  await cachedDocuments(page, 2);
  await page.close();
  await stack.server.put(b, { v: "b2" });

  page = await cachePage(context, name, [a, b]);
  await live(page, 2);
  await page.waitForTimeout(200); // nothing more may come
  const log = await page.evaluate(() => window.log);
  const firstFrame = log.findIndex((e) => e[0] === "frame");
  assert.deepEqual(snapshots(log.slice(0, firstFrame)), [
    ["snapshot", a, true, false, { v: "a1" }],
    ["snapshot", b, true, false, { v: "b1" }],
  ], "both cached snapshots come before the first frame");
  const frames = log.filter((e) => e[0] === "frame").map((e) => e[1]);
  assert.deepEqual(frames.sort(), ["snapshot", "unchanged", "welcome"], "one snapshot frame: the changed document's");
  assert.deepEqual(snapshots(log.slice(firstFrame)).sort(), [
    ["snapshot", a, false, false, { v: "a1" }],
    ["snapshot", b, false, false, { v: "b2" }],
  ], "the unchanged one is confirmed once (fromCache: false), the changed one arrives once");
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("a cached collection resumes with only what changed while the page was closed", async () => {
  const name = unique("listing");
  for (const id of ["a", "b", "c"]) await stack.server.put(`${name}/${id}`, { id });
  const context = await stack.browser.newContext();
  let page = await cachePage(context, name, [name]);
  await live(page, 1);
  await cachedDocuments(page, 3);
  await page.close();
  await stack.server.put(`${name}/b`, { id: "b", changed: true });

  page = await cachePage(context, name, [name]);
  await live(page, 1);
  const log = await page.evaluate(() => window.log);
  const [cached, fresh, ...more] = snapshots(log);
  assert.deepEqual(cached, ["snapshot", name, true, false, [["a", { id: "a" }], ["b", { id: "b" }], ["c", { id: "c" }]]]);
  assert.deepEqual(fresh, ["snapshot", name, false, false, [["a", { id: "a" }], ["b", { id: "b", changed: true }], ["c", { id: "c" }]]]);
  assert.deepEqual(more, []);
  assert.deepEqual(log.filter((e) => e[0] === "frame").map((e) => e[1]), ["welcome", "changes"], "a delta, not the listing");
  await context.close();
});

test("offline start: cached data shows, writes queue and survive a reload, then land once and in order", async () => {
  const name = unique("offline");
  const doc = `${name}/doc`;
  const context = await stack.browser.newContext();
  let page = await cachedDocPage(context, name, doc);
  await page.close();

  await stack.server.stopProcess();
  try {
    page = await cachePage(context, name, [doc]);
    await page.waitForFunction(() => window.log.some((e) => e[0] === "snapshot"));
    assert.deepEqual(snapshots(await page.evaluate(() => window.log))[0], ["snapshot", doc, true, false, { v: 1 }]);
    await page.evaluate(([doc, name]) => {
      window.client.set(doc, { v: 2 });
      window.client.set(`${name}/after`, { v: 3 });
    }, [doc, name]);
    const last = snapshots(await page.evaluate(() => window.log)).at(-1);
    assert.deepEqual(last, ["snapshot", doc, true, true, { v: 2 }], "shown at once, pending");
    await page.waitForTimeout(100); // let the writes reach IndexedDB
    await page.reload();
    await page.waitForFunction(() => window.client?.stats().pendingWrites === 2);
    await page.waitForFunction(() => window.log.some((e) => e[0] === "snapshot"));
    assert.deepEqual(snapshots(await page.evaluate(() => window.log))[0], ["snapshot", doc, true, true, { v: 2 }],
      "after the reload the queued write shows, still pending");
  } finally {
    await stack.server.startProcess();
  }
  await page.waitForFunction(() => window.client.stats().pendingWrites === 0, null, { timeout: 15_000 });
  assert.deepEqual(snapshots(await page.evaluate(() => window.log)).at(-1), ["snapshot", doc, false, false, { v: 2 }]);
  const [first, second] = [await stack.server.get(doc), await stack.server.get(`${name}/after`)];
  assert.deepEqual([first.data, second.data], [{ v: 2 }, { v: 3 }]);
  assert.equal(second.version, first.version + 1, "in order, each once");
  await context.close();
});

/** Crashes `page`'s renderer, as a tab killed by the system. */
async function crash(page) {
  const cdp = await page.context().newCDPSession(page);
  const crashed = page.waitForEvent("crash", { timeout: 5000 });
  cdp.send("Page.crash").catch(() => {}); // never answers: the renderer is gone
  await crashed;
}

/** Waits (up to 10 s) until `check()` resolves true. */
async function until(check) {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`not met in 10 s: ${check}`);
}

/** Pending writes in the cache of client `name`, read from IndexedDB in `page`. */
const storedWrites = (page, name) =>
  page.evaluate((name) => new Promise((resolve, reject) => {
    const open = indexedDB.open(`livepath-${name}`);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const count = open.result.transaction("w").objectStore("w").count();
      count.onsuccess = () => { resolve(count.result); open.result.close(); };
    };
  }), name);

test("a write in flight when the page crashes lands exactly once after the next load", async () => {
  const name = unique("crash");
  const context = await stack.browser.newContext();

  // Sent and committed, but the page dies before it hears the acknowledgement.
  let page = await cachePage(context, name);
  await page.evaluate((doc) => {
    window.dropAcks = true;
    window.client.set(doc, { n: 1 });
  }, `${name}/acked`);
  let committed;
  for (let i = 0; i < 100 && !committed?.exists; i++) {
    committed = await stack.server.get(`${name}/acked`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(committed.exists, true);
  await crash(page);

  // Stored, but the page dies before the frame goes.
  page = await cachePage(context, name);
  await until(async () => (await storedWrites(page, name)) === 0); // the first one resent and forgotten
  await page.evaluate((doc) => {
    window.dropWrites = true;
    window.client.set(doc, { n: 2 });
  }, `${name}/unsent`);
  await until(async () => (await storedWrites(page, name)) === 1);
  await crash(page);

  page = await cachePage(context, name);
  // The dead tab's lock may outlive it a moment: its writes are adopted once it is free.
  await until(async () => (await stack.server.get(`${name}/unsent`)).exists && (await storedWrites(page, name)) === 0);
  assert.equal(await page.evaluate(() => window.client.stats().pendingWrites), 0);
  const [acked, unsent] = [await stack.server.get(`${name}/acked`), await stack.server.get(`${name}/unsent`)];
  assert.equal(acked.version, committed.version, "the resent write did not apply again");
  assert.deepEqual(unsent.data, { n: 2 });
  const next = await stack.server.put(`${name}/probe`, {});
  assert.equal(next.version, unsent.version + 1, "no other commit happened: each write applied once");
  await context.close();
});

test("the cache stays under cacheBytes, evicting the least recently used paths without listeners first", async () => {
  const name = unique("evict");
  const filler = "x".repeat(900);
  const docs = Array.from({ length: 6 }, (_, i) => `${name}/d${i}`);
  for (const doc of docs) await stack.server.put(doc, { filler });
  const context = await stack.browser.newContext();
  let page = await cachePage(context, name, [docs[0]], "&cacheBytes=3200");
  await live(page, 1); // d0 keeps its listener: never evicted, though the oldest
  for (const doc of docs.slice(1)) {
    await page.evaluate(async (doc) => {
      const stop = window.listen(doc);
      while (!window.log.some((e) => e[0] === "snapshot" && e[1] === doc && !e[2])) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 150)); // stored
      stop();
    }, doc);
  }
  await page.waitForTimeout(100);
  const { cache } = await stats(page);
  assert.ok(cache.bytes <= 3200, `${cache.bytes} bytes`);
  assert.equal(cache.documents, 3);
  await page.close();

  page = await cachePage(context, name, docs);
  await live(page, docs.length);
  const log = await page.evaluate(() => window.log);
  const cached = snapshots(log.slice(0, log.findIndex((e) => e[0] === "frame"))).map((e) => e[1]);
  assert.deepEqual(cached, [docs[0], docs[4], docs[5]], "the listened one and the two most recently used");
  await context.close();
});

test("clearPersistence() is refused while listening, then forgets everything", async () => {
  const name = unique("clear");
  const doc = `${name}/doc`;
  const context = await stack.browser.newContext();
  let page = await cachedDocPage(context, name, doc);
  const refused = await page.evaluate(() => window.client.clearPersistence().then(() => "cleared", (e) => e.code));
  assert.equal(refused, "failed-precondition");
  await page.close();

  page = await cachePage(context, name);
  const result = await page.evaluate(() => window.client.clearPersistence().then(() => window.client.stats().cache));
  assert.deepEqual(result, { documents: 0, bytes: 0 });
  await page.close();
  page = await cachePage(context, name, [doc]);
  await live(page, 1);
  const log = await page.evaluate(() => window.log);
  assert.equal(log[0][0], "frame", "nothing was cached: the first snapshot waits for the server");
  await context.close();
});

test("a storage quota error falls back to memory, says so once, and loses no pending write", async (t) => {
  const name = unique("quota");
  const profile = mkdtempSync(join(tmpdir(), "livepath-profile-"));
  t.after(() => rmSync(profile, { recursive: true, force: true }));
  const context = await launchProfile(profile); // quotas hold only for a profile on disk
  // Chromium reads an origin's quota when it opens the database: set before the page loads.
  const cdp = await context.newCDPSession(context.pages()[0]);
  await cdp.send("Storage.overrideQuotaForOrigin", { origin: new URL(stack.appUrl).origin, quotaSize: 150_000 });
  const page = await cachePage(context, name);
  await page.evaluate(() => window.listen("warm/up"));
  await page.waitForFunction(() => window.client.stats().persistence === "indexeddb" && window.client.status === "open");
  await stack.server.stopProcess();
  let big;
  try {
    await page.waitForFunction(() => window.client.status === "reconnecting");
    await page.evaluate((name) => void window.client.set(`${name}/small`, { n: 1 }), name);
    big = await page.evaluate((name) => {
      let filler = ""; // random, so the store cannot compress it under the quota
      while (filler.length < 200_000) filler += Math.random().toString(36).slice(2);
      void window.client.set(`${name}/big`, { filler });
      return filler.length;
    }, name);
    await page.waitForFunction(() => window.client.stats().persistence === "unavailable", null, { timeout: 10_000 });
    assert.equal(await page.evaluate(() => window.notices.length), 1, "said once");
    assert.equal((await stats(page)).pendingWrites, 2);
  } finally {
    await stack.server.startProcess();
  }
  await page.waitForFunction(() => window.client.stats().pendingWrites === 0, null, { timeout: 15_000 });
  assert.deepEqual((await stack.server.get(`${name}/small`)).data, { n: 1 });
  assert.equal((await stack.server.get(`${name}/big`)).data.filler.length, big);
  await context.close();
});

test("writes queued in one task come back after a reload in the order they were made", async () => {
  const name = unique("order");
  const docs = Array.from({ length: 5 }, (_, i) => `${name}/d${i}`);
  const context = await stack.browser.newContext();
  let page = await cachePage(context, name);
  await page.evaluate(() => window.listen("warm/up"));
  await page.waitForFunction(() => window.client.status === "open");
  await stack.server.stopProcess();
  try {
    await page.waitForFunction(() => window.client.status === "reconnecting");
    await page.evaluate((docs) => {
      for (const doc of docs) {
        window.client.set(doc, { a: 1 });
        window.client.update(doc, { b: 2 }); // after the set, or it would apply to nothing
      }
    }, docs);
    await until(async () => (await storedWrites(page, name)) === docs.length * 2);
    await page.close();
    page = await cachePage(context, name);
  } finally {
    await stack.server.startProcess();
  }
  await until(async () => (await storedWrites(page, name)) === 0);
  for (const doc of docs) assert.deepEqual((await stack.server.get(doc)).data, { a: 1, b: 2 }, doc);
  await context.close();
});
