// Shared tabs (connect({ tabs: "shared" })): several pages of one browser context (one origin, so
// they share Web Locks and BroadcastChannel), the real server counting connections and
// subscriptions in /metrics, the leader closed and crashed. tests/pages/tabs.ts logs every snapshot.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { LivepathServer } from "../../scripts/livepath-server.mjs";
import { unique, useStack } from "./support.mjs";

const stack = useStack();

/** A page of `context` with a shared-tabs client named `name` listening to `paths` from the start. */
async function tabPage(context, name, paths = [], extra = "") {
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && page.errors.push(m.text()));
  await page.goto(`${stack.appUrl}tests/pages/tabs.html?name=${name}&paths=${paths.join(",")}${extra}`);
  await page.waitForFunction(() => window.client);
  return page;
}

/** Runs `body` with a new browser context (its pages are one browser's tabs), closed after it. */
async function inContext(body) {
  const context = await stack.browser.newContext();
  try {
    return await body(context);
  } finally {
    await context.close();
  }
}

/** `n` tabs of `context`, each listening to `paths`, each shown the server's state. */
async function tabs(context, name, n, paths, extra) {
  const pages = [];
  for (let i = 0; i < n; i++) pages.push(await tabPage(context, name, paths, extra));
  for (const page of pages) await shown(page, paths[0], (s) => !s[2]);
  return pages;
}

const snapshots = (page, path) =>
  page.evaluate((path) => window.log.filter((e) => e[0] === "snapshot" && e[1] === path), path);
/** Waits until `page` has delivered a snapshot of `path` that `accept` takes. */
const shown = (page, path, accept) =>
  page.waitForFunction(
    ([path, accept]) => window.log.some((e) => e[0] === "snapshot" && e[1] === path && new Function("s", `return (${accept})(s)`)(e)),
    [path, accept.toString()],
    { timeout: 15_000 },
  );
const role = (page) => page.evaluate(() => window.client.stats().tabs);
const roles = (pages) => Promise.all(pages.map(role));

/** Polls `read` until it returns `expected` (the server's gauges follow the tabs within moments). */
async function settles(read, expected, what) {
  const deadline = Date.now() + 15_000;
  let value;
  while (Date.now() < deadline) {
    value = await read();
    if (value === expected) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(value, expected, what);
}

const connections = () => stack.server.metric("connections");
const subscriptions = () => stack.server.metric("subscriptions");

test("five tabs share one connection: a write in tab 3 shows in all five, pending at once in the other four; every tab unsubscribing ends every subscription", async () => {
  const name = unique("five");
  const doc = `${name}/d`;
  await stack.server.put(doc, { v: 0 });
  await inContext(async (context) => {
    const pages = await tabs(context, name, 5, [doc], "&linger=300");
    await settles(connections, 1, "the server sees one WebSocket connection for five tabs");
    assert.equal(await subscriptions(), 5, "each tab's listener is a subscription of that one connection");
    const r = await roles(pages);
    assert.equal(r.filter((x) => x === "leader").length, 1, `one leader: ${r}`);
    assert.equal(r.filter((x) => x === "follower").length, 4);

    const { version } = await pages[2].evaluate((doc) => window.client.set(doc, { v: 3 }), doc);
    for (const page of pages) await shown(page, doc, (s) => s[4]?.v === 3 && !s[3]);
    assert.equal((await stack.server.get(doc)).version, version);
    for (const [i, page] of pages.entries()) {
      const log = (await snapshots(page, doc)).filter((s) => s[4]?.v === 3);
      // The writing tab shows its write at once (pending), like every other: the leader told them of it
      // before the server answered; then the confirmed state, once.
      assert.deepEqual(log.map((s) => s.slice(0, 5)), [["snapshot", doc, false, true, { v: 3 }], ["snapshot", doc, false, false, { v: 3 }]], `tab ${i + 1}`);
    }

    for (const page of pages) await page.evaluate(() => window.stop());
    await settles(subscriptions, 0, "every tab's listeners gone: no subscription left on the server");
    await settles(connections, 0, "and, after the linger, no connection");
    for (const page of pages) assert.deepEqual(page.errors, []);
  });
});

/**
 * Each page writes `count` documents into collection `name` without waiting (so some are in flight
 * when the leader goes); resolves, per page, to the `[path, version]` each write's promise gave.
 */
function writeMany(pages, name, count, tag) {
  return pages.map((page, i) =>
    page.evaluate(
      ([name, count, tab]) => {
        const writes = [];
        for (let j = 0; j < count; j++) {
          const path = `${name}/${tab}-${j}`;
          writes.push(window.client.set(path, { tab, j }).then(({ version }) => [path, version]));
        }
        window.writes = [...(window.writes ?? []), ...writes];
      },
      [name, count, `${tag}${i}`],
    ),
  );
}

/** The leader goes (`end` closes or crashes its page); the other tabs, writing meanwhile, lose nothing. */
async function leaderGoes(end) {
  const name = unique("leader");
  await stack.server.put(`${name}/seed`, { seed: true });
  await inContext(async (context) => {
    const pages = await tabs(context, name, 4, [name]);
    await leaderGoesIn(name, pages, end);
  });
}

async function leaderGoesIn(name, pages, end) {
  await settles(connections, 1, "one connection");
  const leader = (await roles(pages)).indexOf("leader");
  const others = pages.filter((_, i) => i !== leader);
  await Promise.all(writeMany(others, name, 5, "a"));
  end(pages[leader]);
  await Promise.all(writeMany(others, name, 5, "b"));

  // Another tab leads, on one connection again, and every write lands once.
  const written = (await Promise.all(others.map((p) => p.evaluate(() => Promise.all(window.writes))))).flat();
  assert.equal(written.length, 2 * 5 * others.length);
  const r = await roles(others);
  assert.equal(r.filter((x) => x === "leader").length, 1, `one new leader: ${r}`);
  await settles(connections, 1, "the new leader's one connection");
  for (const [path, version] of written) {
    // Applied twice, a document would be at a later version than its write's acknowledgement.
    assert.equal((await stack.server.get(path)).version, version, `${path} written once`);
  }
  const ids = [...written.map(([path]) => path.split("/")[1]), "seed"].sort();
  for (const page of others) {
    await page.waitForFunction((n) => window.log.at(-1)[4].length === n && !window.log.at(-1)[3], ids.length);
    const last = (await snapshots(page, name)).at(-1);
    assert.deepEqual(last[4].map(([id]) => id).sort(), ids, "every tab sees every write");
  }
  await settles(subscriptions, others.length, "one subscription per remaining tab: the gone leader's ended");
  for (const page of others) assert.deepEqual(page.errors, []);
}

test("closing the leader tab moves the socket to another tab: every write of the others lands once, every tab resumes", async () => {
  await leaderGoes((page) => void page.close());
});

test("a crashed leader tab is replaced the same way", async () => {
  await leaderGoes(async (page) => {
    const cdp = await page.context().newCDPSession(page);
    void cdp.send("Page.crash").catch(() => {}); // never answers: the page is gone
  });
});

test("a follower tab that crashes loses its subscriptions on the server; the others keep the connection", async () => {
  const name = unique("follower");
  const doc = `${name}/d`;
  await stack.server.put(doc, { v: 0 });
  await inContext(async (context) => {
    const pages = await tabs(context, name, 3, [doc]);
    await settles(subscriptions, 3, "three subscriptions");
    const follower = pages[(await roles(pages)).indexOf("follower")];
    const cdp = await context.newCDPSession(follower);
    void cdp.send("Page.crash").catch(() => {});
    await settles(subscriptions, 2, "the crashed tab's subscription ended (the leader waited for its lock)");
    assert.equal(await connections(), 1);
    const rest = pages.filter((p) => p !== follower);
    await stack.server.put(doc, { v: 1 });
    for (const page of rest) await shown(page, doc, (s) => s[4]?.v === 1);
  });
});

test("where Web Locks are missing, each tab keeps its own socket", async () => {
  const name = unique("nolocks");
  const doc = `${name}/d`;
  await stack.server.put(doc, { v: 0 });
  await inContext(async (context) => {
    await context.addInitScript(() => Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined }));
    const pages = [await tabPage(context, name, [doc]), await tabPage(context, name, [doc])];
    for (const page of pages) await shown(page, doc, (s) => !s[2]);
    assert.deepEqual(await roles(pages), ["single", "single"]);
    await settles(connections, 2, "two tabs, two connections");
    await pages[0].evaluate((doc) => window.client.set(doc, { v: 1 }), doc);
    await shown(pages[1], doc, (s) => s[4]?.v === 1);
  });
});

test("while the server is down every tab reconnects; a write made meanwhile lands once when it is back, on one connection", async () => {
  const name = unique("down");
  const doc = `${name}/d`;
  await stack.server.put(doc, { v: 0 });
  await inContext(async (context) => {
    const pages = await tabs(context, name, 3, [doc]);
    const follower = pages[(await roles(pages)).indexOf("follower")];
    await stack.server.stopProcess();
    await follower.waitForFunction(() => window.client.status === "reconnecting");
    await follower.evaluate((doc) => { window.written = window.client.set(doc, { v: 1 }); }, doc);
    await stack.server.startProcess();
    const { version } = await follower.evaluate(() => window.written);
    assert.equal((await stack.server.get(doc)).version, version, "written once");
    for (const page of pages) await shown(page, doc, (s) => s[4]?.v === 1 && !s[3]);
    await settles(connections, 1, "one connection again");
  });
});

/** An HS256 token for `sub`, valid for an hour, signed with `secret`. */
function token(sub, secret) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub, exp: Math.floor(Date.now() / 1000) + 3600 + Math.floor(Math.random() * 100) })}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

test("tabs of one user share the connection; a tab signed in as someone else, or signed out, keeps a socket of its own", async () => {
  const secret = `tabs-secret-${Date.now()}-${Math.random()}`;
  const server = await LivepathServer.start({ authSecret: secret });
  const name = unique("users");
  const doc = `${name}/d`;
  const url = `&url=${encodeURIComponent(`ws://127.0.0.1:${server.port}/v1/ws`)}`;
  try {
    await inContext(async (context) => {
      const alice = [await tabPage(context, name, [doc], `${url}&token=${token("alice", secret)}`)];
      alice.push(await tabPage(context, name, [doc], `${url}&token=${token("alice", secret)}`));
      const bob = await tabPage(context, name, [doc], `${url}&token=${token("bob", secret)}`);
      for (const page of [...alice, bob]) await shown(page, doc, (s) => !s[2]);
      assert.deepEqual((await roles(alice)).sort(), ["follower", "leader"], "alice's two tabs share");
      await bob.waitForFunction(() => window.client.stats().tabs === "single");
      assert.equal(await server.metric("connections"), 2, "alice's connection and bob's own");
      await bob.evaluate((doc) => window.client.set(doc, { by: "bob" }), doc);
      for (const page of alice) await shown(page, doc, (s) => s[4]?.by === "bob");
      for (const page of [...alice, bob]) assert.deepEqual(page.errors, []);
      // Signed out (its token function answers null): not served as alice, refused as anonymous.
      const nobody = await tabPage(context, name, [doc], `${url}&token=none`);
      await nobody.waitForFunction(() => window.log.length > 0);
      assert.deepEqual(await nobody.evaluate(() => window.log), [["error", doc, "unauthenticated"]]);
      assert.equal(await role(nobody), "single");
    });
  } finally {
    await server.close();
  }
});

test("a URL the browser cannot parse fails each listener with invalid-argument, as with a socket of its own", async () => {
  await inContext(async (context) => {
    const page = await tabPage(context, unique("badurl"), ["c/d"], `&url=${encodeURIComponent("ws://exa mple:99999/")}`);
    await page.waitForFunction(() => window.log.some((e) => e[0] === "error"));
    assert.deepEqual(await page.evaluate(() => window.log), [["error", "c/d", "invalid-argument"]]);
  });
});

test("where Web Locks refuse (an opaque origin, a sandboxed frame), each tab keeps its own socket", async () => {
  const name = unique("refused");
  const doc = `${name}/d`;
  await stack.server.put(doc, { v: 0 });
  await inContext(async (context) => {
    await context.addInitScript(() => {
      navigator.locks.request = () => Promise.reject(new DOMException("refused here", "SecurityError"));
    });
    const page = await tabPage(context, name, [doc]);
    await shown(page, doc, (s) => !s[2]);
    assert.equal(await role(page), "single");
  });
});

test("with persistence too: a reloaded follower shows the cached document first, then the server's, still on one connection", async () => {
  const name = unique("both");
  const doc = `${name}/d`;
  await stack.server.put(doc, { v: 1 });
  await inContext(async (context) => {
    const first = await tabPage(context, name, [doc], "&persistence=indexeddb");
    await first.waitForFunction(() => window.client.stats().cache.documents === 1);
    // The second tab finds the document the first one stored: it counts it as held, too.
    const follower = await tabPage(context, name, [doc], "&persistence=indexeddb");
    await shown(follower, doc, (s) => !s[2]);
    assert.deepEqual(await roles([first, follower]), ["leader", "follower"]);
    await follower.waitForFunction(() => window.client.stats().cache.documents === 1);
    await follower.reload();
    await follower.waitForFunction(() => window.log?.length >= 2);
    const log = (await snapshots(follower, doc)).map((s) => s.slice(0, 5));
    assert.deepEqual(log.slice(0, 2), [["snapshot", doc, true, false, { v: 1 }], ["snapshot", doc, false, false, { v: 1 }]]);
    assert.equal(await role(follower), "follower");
    await settles(connections, 1, "one connection");
  });
});
