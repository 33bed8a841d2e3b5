// The npm package as users get it: `npm pack` of pkg/, installed with React and Vite into a fresh app
// that has no Vite config at all, served by `vite` (dev) and built with `vite build` (served by `vite
// preview`), and opened in Chromium against a real server. A value written over HTTP must show up
// live through `livepath/react`'s hooks, which must use the same copy of the client (and wasm instance)
// as the app's `import { connect } from "livepath"`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../scripts/livepath-server.mjs";
import { openPage, root, unique } from "./support.mjs";
import { answers, run, useFreshApp } from "./tarball.mjs";

const files = {
  "package.json": JSON.stringify({ name: "livepath-tarball-app", private: true, type: "module" }, null, 2),
  "index.html": `<!doctype html>
<html>
  <head><meta charset="UTF-8" /><link rel="icon" href="data:," /><title>livepath from npm</title></head>
  <body><div id="root"></div><script type="module" src="/src/main.tsx"></script></body>
</html>
`,
  "src/main.tsx": `import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Client, connect } from "livepath";
import { LivepathProvider, useClient, useConnectionStatus, useSnapshot, type SnapshotState } from "livepath/react";

const params = new URLSearchParams(location.search);
const client = connect({ url: params.get("server")! });

function Title() {
  const { status, data } = useSnapshot(params.get("path"));
  const connection = useConnectionStatus();
  return (
    <>
      <p data-testid="connection">{connection}</p>
      <h1 data-testid="value">{status === "success" ? String(data?.title ?? "") : status}</h1>
    </>
  );
}

// Outside any provider: the hooks' default client, made by the package's own connect, which must be
// the same module (and wasm instance) as the app's.
function DefaultClient() {
  const other = useClient();
  return <p data-testid="default-client">{other instanceof Client && other !== client ? "same module" : "another copy"}</p>;
}

// For tsc only (never called): the hooks' types come from the package, so a wrong path is an error.
export function typed(): SnapshotState["status"] {
  // @ts-expect-error: a path is a string or null
  useSnapshot(42);
  // Any WebSocket class will do (on Node 20, the ws package's); anything else will not.
  connect({ url: "ws://localhost/v1/ws", WebSocket });
  // @ts-expect-error: not a WebSocket class
  connect({ url: "ws://localhost/v1/ws", WebSocket: "ws" });
  return useSnapshot(null).status;
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <DefaultClient />
    <LivepathProvider client={client}>
      <Title />
    </LivepathProvider>
  </StrictMode>,
);
Object.assign(window, { livepath: client });
`,
  // Vite's react-ts template's compiler options.
  "tsconfig.json": JSON.stringify({
    compilerOptions: {
      target: "ES2022", lib: ["ES2022", "DOM", "DOM.Iterable"], module: "ESNext", moduleResolution: "bundler",
      jsx: "react-jsx", strict: true, noEmit: true, skipLibCheck: true, isolatedModules: true,
    },
    include: ["src"],
  }, null, 2),
};

const stack = useFreshApp("tarball", files, ["react", "react-dom", "vite", "@types/react", "@types/react-dom"]);

/** Runs the app's own `vite` with `args` on a free port; resolves with its URL once it answers. */
async function serve(...args) {
  const port = await freePort();
  const child = stack.children.spawn(stack.bin("vite"), [...args, "--host", "127.0.0.1", "--port", String(port), "--strictPort"], stack.app.dir);
  const url = `http://127.0.0.1:${port}/`;
  await answers(url, child, 10);
  return url;
}

/** The app at `appUrl` shows a document, then a write made over HTTP, through the app's own client. */
async function showsWritesLive(appUrl) {
  const path = `tarball/${unique("doc")}`;
  await stack.server.put(path, { title: "from the server" });
  const page = await openPage(stack.browser, `${appUrl}?server=${encodeURIComponent(`ws://127.0.0.1:${stack.server.port}/v1/ws`)}&path=${path}`);
  const defaultClient = page.getByTestId("default-client");
  await defaultClient.waitFor({ timeout: 10_000 }).catch((e) => {
    throw new Error(`the app did not render: ${e.message.split("\n")[0]} (page errors: ${page.errors.join("; ") || "none"})`);
  });
  assert.equal(await defaultClient.textContent(), "same module", `one copy of the client (${page.errors.join("; ")})`);
  const value = page.getByTestId("value");
  await value.filter({ hasText: "from the server" }).waitFor({ timeout: 10_000 });
  await page.getByTestId("connection").filter({ hasText: "open" }).waitFor({ timeout: 5_000 });
  await stack.server.put(path, { title: "written over HTTP" });
  await value.filter({ hasText: "written over HTTP" }).waitFor({ timeout: 5_000 });
  // The hook's listener is on the app's own client (the one given to LivepathProvider): one listener,
  // one subscription, also on the server.
  assert.deepEqual(await page.evaluate(() => [window.livepath.stats().listeners, window.livepath.stats().subscriptions]), [1, 1]);
  assert.equal(await stack.server.metric("subscriptions"), 1);
  assert.deepEqual(page.errors, []);
  await page.close();
  for (let i = 0; (await stack.server.metric("subscriptions")) !== 0; i++) {
    assert.ok(i < 50, "the closed page's subscription is released");
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("the tarball ships the adapters with their types, and the core entry point imports no framework", () => {
  for (const f of ["index.js", "index.d.ts", "node.js", "state.js", "state.d.ts", "react.js", "react.d.ts", "vue.js", "vue.d.ts", "svelte.js", "svelte.d.ts"]) {
    assert.ok(stack.app.packedFiles.includes(f), `the tarball holds ${f}`);
  }
  const installed = JSON.parse(readFileSync(join(stack.app.dir, "node_modules/livepath/package.json"), "utf8"));
  assert.deepEqual(Object.keys(installed.exports), [".", "./manual", "./react", "./vue", "./svelte"]);
  assert.deepEqual(Object.values(installed.peerDependenciesMeta), [{ optional: true }, { optional: true }, { optional: true }]);
  for (const core of ["index.js", "livepath.js"]) {
    const code = readFileSync(join(stack.app.dir, "node_modules/livepath", core), "utf8");
    assert.doesNotMatch(code, /from\s*["'](react|vue|svelte)/, `${core} imports no framework`);
  }
});

test("tsc: the app type-checks against the package's declarations", () => {
  // www's TypeScript; the types it checks against are the app's own node_modules.
  try {
    run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", stack.app.dir], stack.app.dir);
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
});

test("vite dev: a write over HTTP shows up live", async () => {
  await showsWritesLive(await serve());
});

test("vite build + vite preview: a write over HTTP shows up live", async (t) => {
  const started = Date.now();
  run(stack.bin("vite"), ["build", "--logLevel", "warn"], stack.app.dir);
  const assets = readdirSync(join(stack.app.dir, "dist/assets"));
  assert.equal(assets.filter((f) => f.endsWith(".wasm")).length, 1, `one .wasm in the bundle: ${assets.join(", ")}`);
  // The Node entry point (the .wasm inlined as base64, which starts "AGFzbQ") stays out of browser builds.
  for (const js of assets.filter((f) => f.endsWith(".js"))) {
    assert.doesNotMatch(readFileSync(join(stack.app.dir, "dist/assets", js), "utf8"), /AGFzbQ/, `${js} holds no inlined .wasm`);
  }
  await showsWritesLive(await serve("preview"));
  t.diagnostic(`npm pack + npm install ${stack.app.installSeconds.toFixed(1)} s, build and check ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
