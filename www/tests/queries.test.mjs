// Live queries in a real browser against the real server: `onSnapshot({ path, where, orderBy, limit })`
// keeps its window as documents enter, move and leave; local writes show at once; a bad query fails
// only its own listener; equal queries, however written, share one server subscription.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openPage, unique, useStack } from "./support.mjs";

const stack = useStack();

/** A page with the demo's client as `window.livepath`, connected. */
async function page() {
  const p = await openPage(stack.browser, `${stack.appUrl}?board=${unique("queries")}`);
  await p.getByTestId("status").filter({ hasText: "open" }).waitFor({ timeout: 10_000 });
  return p;
}

/**
 * Starts listening to `query` in the page: `window.seen[name]` collects each snapshot's ids, changes
 * and `hasPendingWrites`, `window.failed[name]` its error code.
 */
async function listen(p, name, query) {
  await p.evaluate(
    ([name, query]) => {
      window.seen ??= {};
      window.failed ??= {};
      window.stops ??= {};
      window.seen[name] = [];
      window.stops[name] = window.livepath.onSnapshot(
        query,
        (s) =>
          window.seen[name].push({
            ids: s.docs.map((d) => d.id),
            changes: s.changes.map((c) => [c.type, c.doc.id, c.oldIndex, c.newIndex]),
            pending: s.hasPendingWrites,
          }),
        (e) => (window.failed[name] = e.code),
      );
    },
    [name, query],
  );
}

const last = (p, name, count) =>
  p.waitForFunction(([name, count]) => window.seen[name]?.length >= count, [name, count], { timeout: 10_000 })
    .then(() => p.evaluate((name) => window.seen[name].at(-1), name));

test("equal queries written differently share one server subscription", async () => {
  const p = await page();
  const path = `${unique("shared")}/c/items`;
  await stack.server.put(`${path}/i1`, { tag: { a: 1, b: 2 }, n: 1 });
  const before = await stack.server.metric("live_queries");
  await listen(p, "one", { path, where: [["tag", "==", { a: 1, b: 2 }]], orderBy: [["n", "asc"]], limit: 5 });
  await listen(p, "two", { limit: 5, orderBy: [["n"]], where: [["tag", "==", { b: 2, a: 1.0 }]], path });
  await last(p, "one", 1);
  assert.deepEqual((await last(p, "two", 1)).ids, ["i1"]);
  const stats = await p.evaluate(() => window.livepath.stats());
  assert.equal(await stack.server.metric("live_queries"), before + 1, "one query on the server");
  await p.evaluate(() => Object.values(window.stops).forEach((stop) => stop()));
  const after = await p.evaluate(() => new Promise((r) => setTimeout(() => r(window.livepath.stats()), 50)));
  assert.equal(stats.subscriptions - after.subscriptions, 1, "one subscription for both listeners");
  await p.close();
});

test("a limited query pulls the next document in when its top one is deleted", async () => {
  const p = await page();
  const path = `${unique("scores")}/c/games`;
  for (const [id, score] of [["a", 50], ["b", 40], ["c", 30], ["d", 20]]) {
    await stack.server.put(`${path}/${id}`, { score });
  }
  await listen(p, "top", { path, orderBy: [["score", "desc"]], limit: 2 });
  assert.deepEqual((await last(p, "top", 1)).ids, ["a", "b"]);
  await p.evaluate((path) => window.livepath.delete(`${path}/a`), path);
  // At once, locally: the window holds what the client knows (b); then the server's answer pulls c in.
  await p.waitForFunction(() => window.seen.top.some((s) => s.ids.join() === "b,c" && !s.pending), null, {
    timeout: 10_000,
  });
  const seen = await p.evaluate(() => window.seen.top);
  assert.deepEqual(seen[1], { ids: ["b"], changes: [["removed", "a", 0, -1]], pending: true });
  assert.deepEqual(seen.slice(2).flatMap((s) => s.changes), [["added", "c", -1, 1]]);
  await p.close();
});

test("an update that moves a document is modified with its old and new index", async () => {
  const p = await page();
  const path = `${unique("tasks")}/c/tasks`;
  for (const [id, due] of [["x", 1], ["y", 2], ["z", 3]]) await stack.server.put(`${path}/${id}`, { due });
  await listen(p, "due", { path, orderBy: [["due"]] });
  assert.deepEqual((await last(p, "due", 1)).ids, ["x", "y", "z"]);
  await stack.server.put(`${path}/x`, { due: 9 });
  const moved = await last(p, "due", 2);
  assert.deepEqual(moved.ids, ["y", "z", "x"]);
  assert.deepEqual(moved.changes, [["modified", "x", 0, 2]]);
  await p.close();
});

test("a pending write enters a filtered view at once, then the confirmed state follows", async () => {
  const p = await page();
  const path = `${unique("notes")}/c/notes`;
  await stack.server.put(`${path}/n1`, { status: "open", at: 1 });
  await stack.server.put(`${path}/n2`, { status: "done", at: 2 });
  await listen(p, "open", { path, where: [["status", "==", "open"]], orderBy: [["at", "desc"]] });
  assert.deepEqual((await last(p, "open", 1)).ids, ["n1"]);
  // n2 is known from another listener (the whole collection): an update can bring it in locally.
  await listen(p, "all", path);
  await last(p, "all", 1);
  const shown = await p.evaluate((path) => {
    window.livepath.update(`${path}/n2`, { status: "open" });
    window.livepath.set(`${path}/n3`, { status: "open", at: 3 });
    return window.seen.open.at(-1); // delivered inside the calls, before any frame
  }, path);
  assert.deepEqual(shown, { ids: ["n3", "n2", "n1"], changes: [["added", "n3", -1, 0]], pending: true });
  const confirmed = await p.waitForFunction(() => !window.seen.open.at(-1).pending, null, { timeout: 10_000 });
  assert.ok(confirmed);
  assert.deepEqual((await p.evaluate(() => window.seen.open.at(-1))).ids, ["n3", "n2", "n1"]);
  await p.close();
});

test("a bad query fails its own listener with invalid-argument, and only it", async () => {
  const p = await page();
  const path = `${unique("bad")}/c/items`;
  await stack.server.put(`${path}/i1`, { n: 1 });
  await listen(p, "good", { path, where: [["n", ">", 0]] });
  await listen(p, "tooMany", { path, where: [["n", "in", Array.from({ length: 31 }, (_, i) => i)]] });
  await listen(p, "typo", { path, orderby: [["n"]] });
  await listen(p, "document", { path: `${path}/i1` });
  await p.waitForFunction(() => Object.keys(window.failed).length === 3, null, { timeout: 10_000 });
  assert.deepEqual(await p.evaluate(() => window.failed), {
    tooMany: "invalid-argument",
    typo: "invalid-argument",
    document: "invalid-argument",
  });
  await stack.server.put(`${path}/i2`, { n: 2 });
  assert.deepEqual((await last(p, "good", 2)).ids, ["i1", "i2"]);
  await p.close();
});
