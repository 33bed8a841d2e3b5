// The package in Node, as a script, a worker or a test would use it: the packed tarball installed into a
// fresh directory with the `ws` package, run by child Node processes against a real server. Node cannot
// fetch a file, so this is the package's `node` entry point, which must need no configuration.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { unique } from "./support.mjs";
import { run, useFreshApp } from "./tarball.mjs";

const files = {
  "package.json": JSON.stringify({ name: "livepath-node-app", private: true, type: "module" }, null, 2),
  // Reads a document, writes it, sees the write, then stops; the process must then exit by itself.
  "live.mjs": `import { connect } from "livepath";

const [url, path, passWs, persistence, tabs] = process.argv.slice(2);
const WebSocket = passWs === "ws" ? (await import("ws")).WebSocket : undefined;
const client = connect({ url, WebSocket, lingerMs: 0, persistence, tabs });
const notices = [];
client.onStatus((_, notice) => notice && notices.push(notice));
const seen = [];
let stop;
await new Promise((resolve, reject) => {
  stop = client.onSnapshot(path, (s) => {
    seen.push({ data: s.data, pending: s.hasPendingWrites });
    if (seen.length === 1) client.set(path, { n: s.data.n + 1, from: "node" }).catch(reject);
    if (s.data.from === "node" && !s.hasPendingWrites) resolve();
  }, reject);
});
stop();
client.close();
console.log(JSON.stringify({ seen, stats: client.stats(), status: client.status, notices }));
`,
  // A module-scope client without a url, as server-rendered code has: nothing throws, nothing connects,
  // each listener and write is told why, once.
  "no-url.mjs": `import { connect } from "livepath";

const [url] = process.argv.slice(2);
if (url) delete globalThis.WebSocket; // the other case: a url but no WebSocket to open it with
const client = connect(url ? { url } : {});
const errors = [];
const snapshots = []; // at most the local write (it is made in the same task), never a confirmed one
const stop = client.onSnapshot("rooms/r1", (s) => snapshots.push(s.hasPendingWrites), (e) => errors.push([e.name, e.code, e.message]));
const write = await client.set("rooms/r1", { n: 1 }).then(() => "resolved", (e) => [e.code, e.message]);
await new Promise((r) => setTimeout(r, 300));
stop();
console.log(JSON.stringify({ errors, snapshots, write, stats: client.stats(), status: client.status }));
`,
  // Through a server that is down, then back: the ws package reports a refused connection as an `error`
  // event, which kills a Node process if nobody listens; the client retries, and the write lands once
  // the server is back. Or the client closed while its first socket is still connecting.
  "down.mjs": `import { connect } from "livepath";
import { WebSocket } from "ws";

const [url, path, mode] = process.argv.slice(2);
const client = connect({ url, WebSocket, lingerMs: 0, backoff: { initialMs: 50, maxMs: 200 } });
const statuses = [];
client.onStatus((s) => statuses.push(s));
if (mode === "close-while-connecting") {
  client.onSnapshot(path, () => {});
  client.close();
} else {
  await client.set(path, { from: "down" });
  client.close();
}
console.log(JSON.stringify({ statuses: [...new Set(statuses)] }));
`,
  // The Vue and Svelte adapters where a server renders components: no `window`, so no subscription, even
  // with a url and a WebSocket at hand.
  "adapters.mjs": `import { connect } from "livepath";
import { snapshotStore } from "livepath/svelte";
import { useSnapshot } from "livepath/vue";
import { effectScope } from "vue";
import { WebSocket } from "ws";

const [url, path] = process.argv.slice(2);
const client = connect({ url, WebSocket });
const svelte = [];
const unsubscribe = snapshotStore(client, path).subscribe((s) => svelte.push(s.status));
const scope = effectScope();
const vue = scope.run(() => useSnapshot(client, path));
await new Promise((r) => setTimeout(r, 300));
console.log(JSON.stringify({ svelte, vue: vue.value.status, stats: client.stats() }));
unsubscribe();
scope.stop();
`,
};

const stack = useFreshApp("node", files, ["ws", "react", "vue", "svelte"], { browser: false });

/** Runs `node [flags] script args` in the app; its parsed JSON output. Fails if it does not exit by itself. */
function node(flags, script, ...args) {
  const out = run(process.execPath, [...flags, script, ...args], stack.app.dir, { ...process.env, NODE_OPTIONS: "" }, 30);
  return JSON.parse(out.trim().split("\n").at(-1));
}

/** What `stats()` says of a client that holds nothing, in memory. */
const idle = {
  listeners: 0, subscriptions: 0, pendingWrites: 0, socket: "none", persistence: "memory", cache: { documents: 0, bytes: 0 },
  tabs: "single",
};
const wsUrl = () => `ws://127.0.0.1:${stack.server.port}/v1/ws`;

test("import, require and the framework adapters load in Node, with no fetch of files", () => {
  const esm = `import("livepath").then((m) => console.log(JSON.stringify(Object.keys(m).sort())))`;
  assert.deepEqual(node(["--input-type=module", "-e"], esm), ["Client", "connect", "init", "isLivepathError", "onSnapshot"]);
  // No top-level await in the Node entry point, so CommonJS can require it where Node requires ES modules.
  if (process.features.require_module) {
    const cjs = `const { connect } = require("livepath"); console.log(JSON.stringify(connect({}).status))`;
    assert.equal(node(["-e"], cjs), "idle");
  }
  for (const [adapter, name] of [["react", "useSnapshot"], ["vue", "useSnapshot"], ["svelte", "snapshotStore"]]) {
    const code = `import("livepath/${adapter}").then((m) => console.log(JSON.stringify(typeof m.${name})))`;
    assert.equal(node(["--input-type=module", "-e"], code), "function", `livepath/${adapter}`);
  }
});

/** Runs live.mjs on a fresh document; checks what it saw, and that the server has the write. */
async function readsAndWrites(flags, passWs, persistence = "memory", tabs = "single") {
  const path = `node/${unique("doc")}`;
  await stack.server.put(path, { n: 1 });
  const before = await stack.server.metric("connections_total");
  const result = node(flags, "live.mjs", wsUrl(), path, passWs, persistence, tabs);
  assert.deepEqual(result.seen, [
    { data: { n: 1 }, pending: false },
    { data: { n: 2, from: "node" }, pending: true },
    { data: { n: 2, from: "node" }, pending: false },
  ]);
  const unavailable = persistence === "indexeddb";
  assert.deepEqual(result.stats, unavailable ? { ...idle, persistence: "unavailable" } : idle);
  assert.deepEqual(result.notices.map((n) => n.persistence), unavailable ? ["unavailable"] : [], "said once");
  assert.equal(result.status, "closed");
  assert.deepEqual((await stack.server.get(path)).data, { n: 2, from: "node" });
  assert.equal((await stack.server.metric("connections_total")) - before, 1, "one socket");
  return result;
}

test("onSnapshot and set against the real server through a WebSocket class passed in (the ws package)", async () => {
  await readsAndWrites([], "ws");
});

test("persistence: \"indexeddb\" where there is no IndexedDB (Node) says so once and goes on in memory", async () => {
  const { notices } = await readsAndWrites([], "ws", "indexeddb");
  assert.match(notices[0].message, /IndexedDB/);
});

test("tabs: \"shared\" where there are no Web Locks (Node) keeps a socket of its own", async () => {
  await readsAndWrites([], "ws", "memory", "shared");
});

test("an unknown persistence or tabs option throws invalid-argument naming the choices", () => {
  const code = `import("livepath").then(({ connect }) => console.log(JSON.stringify(
    [{ persistence: "local" }, { tabs: "all" }].map((o) => { try { connect(o); } catch (e) { return [e.code, e.message]; } }))))`;
  const [persistence, tabs] = node(["--input-type=module", "-e"], code);
  assert.equal(persistence[0], "invalid-argument");
  assert.match(persistence[1], /"memory" or "indexeddb"/);
  assert.equal(tabs[0], "invalid-argument");
  assert.match(tabs[1], /"single" or "shared"/);
});

test("onSnapshot and set through Node's global WebSocket", async (t) => {
  // Node 22 has one; Node 20.10+ and 21 have it behind a flag.
  const [major, minor] = process.versions.node.split(".").map(Number);
  const flags = major >= 22 ? [] : major > 20 || minor >= 10 ? ["--experimental-websocket"] : null;
  if (!flags) return t.skip(`Node ${process.versions.node} has no global WebSocket`);
  await readsAndWrites(flags, "global");
});

test("without a url, connect() does not throw; each listener and write gets invalid-argument naming url, once, and nothing is held", () => {
  const result = node([], "no-url.mjs");
  assert.equal(result.errors.length, 1, `one error: ${JSON.stringify(result.errors)}`);
  assert.ok(result.snapshots.every((pending) => pending), "nothing confirmed");
  const [name, code, message] = result.errors[0];
  assert.deepEqual([name, code], ["LivepathError", "invalid-argument"]);
  assert.match(message, /\burl\b/);
  assert.equal(result.write[0], "invalid-argument");
  assert.match(result.write[1], /\burl\b/);
  assert.deepEqual(result.stats, idle);
  assert.equal(result.status, "idle");
});

test("with a url but no WebSocket anywhere, the error names the WebSocket option", () => {
  const result = node([], "no-url.mjs", wsUrl());
  assert.equal(result.errors.length, 1);
  assert.equal(result.errors[0][1], "invalid-argument");
  assert.match(result.errors[0][2], /WebSocket/);
  assert.equal(result.write[0], "invalid-argument");
});

test("on a server the Vue and Svelte adapters stay loading and never subscribe", async () => {
  const path = `node/${unique("doc")}`;
  await stack.server.put(path, { n: 1 });
  const before = await stack.server.metric("connections_total");
  const result = node([], "adapters.mjs", wsUrl(), path);
  assert.deepEqual(result, {
    svelte: ["loading"],
    vue: "loading",
    stats: idle,
  });
  assert.equal(await stack.server.metric("connections_total"), before);
});

test("with the ws package, a server that is down is retried without crashing Node, and the write lands once it is back", async () => {
  const path = `node/${unique("doc")}`;
  await stack.server.stopProcess();
  // Settled at once (an exit or a crash is a value here), so a crash cannot go unhandled meanwhile.
  const script = promisify(execFile)(process.execPath, ["down.mjs", wsUrl(), path], { cwd: stack.app.dir, timeout: 30_000 })
    .catch((e) => e);
  try {
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    await stack.server.startProcess();
  }
  const done = await script;
  assert.ok(!(done instanceof Error), `the process ended cleanly: ${done.message}`);
  const { statuses } = JSON.parse(done.stdout.trim());
  assert.ok(statuses.includes("reconnecting"), `it retried: ${statuses}`);
  assert.deepEqual((await stack.server.get(path)).data, { from: "down" });
});

test("with the ws package, closing the client while its socket is connecting ends the process cleanly", async () => {
  await stack.server.stopProcess();
  try {
    const result = node([], "down.mjs", wsUrl(), "node/never", "close-while-connecting");
    assert.deepEqual(result.statuses, ["idle", "connecting", "closed"]);
  } finally {
    await stack.server.startProcess();
  }
});
