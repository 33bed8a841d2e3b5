// Epochs: versions mean something only within one database. A page that saw version 1 of a document
// reconnects to a fresh database (a wiped data directory, or a restored backup) that also has a version
// 1 of it, with other data: the client must not resume with `since` (the server would answer
// `unchanged` and the page would keep showing data that no longer exists) but fetch it in full.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LivepathServer } from "../../scripts/livepath-server.mjs";
import { openPage, useStack } from "./support.mjs";

const stack = useStack();

test("a client resuming against a fresh database (a new epoch) gets the full snapshot, never unchanged", async () => {
  // The database the page will come back to, made beforehand: the same path, the same version, other data.
  const fresh = await LivepathServer.start({ args: ["--fault-injection"] });
  assert.equal((await fresh.put("epoch/doc", { from: "the new database" })).version, 1);
  await fresh.stopProcess();

  assert.equal((await stack.server.put("epoch/doc", { from: "the old database" })).version, 1);
  const page = await openPage(stack.browser, `${stack.appUrl}?board=epoch`);
  await page.getByTestId("status").filter({ hasText: "open" }).waitFor({ timeout: 10_000 });
  await page.evaluate(() => {
    window.seen = [];
    window.livepath.onSnapshot("epoch/doc", (s) => window.seen.push([s.version, s.data?.from]));
  });
  await page.waitForFunction(() => window.seen.length === 1);
  assert.deepEqual(await page.evaluate(() => window.seen), [[1, "the old database"]]);

  // The old database goes away; a server on the same port serves the new one.
  await stack.server.stopProcess();
  const replacement = new LivepathServer(stack.server.port, { args: ["--fault-injection"], dataDir: fresh.dataDir });
  await replacement.startProcess();
  try {
    await page.waitForFunction(() => window.seen.length === 2, null, { timeout: 15_000 });
    assert.deepEqual(await page.evaluate(() => window.seen), [[1, "the old database"], [1, "the new database"]]);
    assert.deepEqual(page.errors.filter((e) => !/WebSocket|ERR_CONNECTION|502|503/.test(e)), []);
  } finally {
    await page.close();
    await replacement.stopProcess();
    await fresh.close();
    await stack.server.startProcess(); // for useStack's `after`
  }
});
