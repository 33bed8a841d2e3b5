// Server rendering with Vite, as its guide sets it up: a Node server runs Vite in middleware mode, renders
// the React app with `renderToString` on each request (the package loaded by Node itself: Vite leaves
// dependencies external on the server), and the browser hydrates it. The app makes its client at module
// scope and uses `useSnapshot` and `useConnectionStatus`. The server process has a global WebSocket, so
// "no socket from the server" is a real check: it renders `loading`, opens nothing, and the hydrated
// page then subscribes and shows live data with no hydration mismatch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { freePort } from "../../scripts/livepath-server.mjs";
import { openPage, unique } from "./support.mjs";
import { answers, useFreshApp } from "./tarball.mjs";

const files = {
  "package.json": JSON.stringify({ name: "livepath-ssr-app", private: true, type: "module" }, null, 2),
  "index.html": `<!doctype html>
<html>
  <head><meta charset="UTF-8" /><link rel="icon" href="data:," /><title>livepath, server-rendered</title></head>
  <body><div id="root"><!--app--></div><script type="module" src="/src/entry-client.tsx"></script></body>
</html>
`,
  "src/app.tsx": `import { connect } from "livepath";
import { LivepathProvider, useConnectionStatus, useSnapshot } from "livepath/react";

// At module scope, as apps do: on the server this client must stay inert.
export const client = connect({ url: import.meta.env.VITE_LIVEPATH_URL });

function Title() {
  const { status, data } = useSnapshot(import.meta.env.VITE_LIVEPATH_PATH);
  const connection = useConnectionStatus();
  return (
    <>
      <h1 data-testid="value">{status === "success" ? String(data?.title) : status}</h1>
      <p data-testid="connection">{connection}</p>
    </>
  );
}

export function App() {
  return (
    <LivepathProvider client={client}>
      <Title />
    </LivepathProvider>
  );
}
`,
  "src/entry-server.tsx": `import { renderToString } from "react-dom/server";
import { App } from "./app";

export const render = () => renderToString(<App />);
`,
  "src/entry-client.tsx": `import { hydrateRoot } from "react-dom/client";
import { App, client } from "./app";

hydrateRoot(document.getElementById("root")!, <App />);
Object.assign(window, { livepath: client });
`,
  "server.mjs": `import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createVite } from "vite";

const vite = await createVite({ server: { middlewareMode: true }, appType: "custom", logLevel: "warn" });
createServer((req, res) =>
  vite.middlewares(req, res, async () => {
    try {
      const html = await vite.transformIndexHtml(req.url, readFileSync("index.html", "utf8"));
      const { render } = await vite.ssrLoadModule("/src/entry-server.tsx");
      res.setHeader("content-type", "text/html");
      res.end(html.replace("<!--app-->", render()));
    } catch (e) {
      vite.ssrFixStacktrace(e);
      console.error(e);
      res.statusCode = 500;
      res.end(String(e.stack));
    }
  }),
).listen(Number(process.env.PORT), "127.0.0.1");
`,
};

const stack = useFreshApp("ssr", files, ["react", "react-dom", "vite"]);

test("renderToString renders loading and opens no socket; the hydrated page subscribes and shows live data", async () => {
  const path = `ssr/${unique("doc")}`;
  await stack.server.put(path, { title: "from the server" });
  const port = await freePort();
  // Node 22 has a global WebSocket; Node 20.10+ and 21 have it behind this flag.
  const websocket = Number(process.versions.node.split(".")[0]) >= 22 ? "" : "--experimental-websocket";
  const ssr = stack.children.spawn(process.execPath, ["server.mjs"], stack.app.dir, {
    ...process.env,
    PORT: String(port),
    NODE_OPTIONS: websocket,
    VITE_LIVEPATH_URL: `ws://127.0.0.1:${stack.server.port}/v1/ws`,
    VITE_LIVEPATH_PATH: path,
  });
  const url = `http://127.0.0.1:${port}/`;
  const before = await stack.server.metric("connections_total");
  await answers(url, ssr);

  const html = await (await fetch(url)).text();
  assert.match(html, /data-testid="value">loading</, `the server renders loading:\n${html}`);
  assert.match(html, /data-testid="connection">idle</, "and the status it starts with");
  // Give a socket the server might have opened time to reach the livepath server.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await stack.server.metric("connections_total"), before, "the rendering server opened no WebSocket");

  const page = await openPage(stack.browser, url);
  const value = page.getByTestId("value");
  await value.filter({ hasText: "from the server" }).waitFor({ timeout: 10_000 });
  await page.getByTestId("connection").filter({ hasText: "open" }).waitFor({ timeout: 5_000 });
  await stack.server.put(path, { title: "written over HTTP" });
  await value.filter({ hasText: "written over HTTP" }).waitFor({ timeout: 5_000 });
  assert.deepEqual(await page.evaluate(() => window.livepath.stats().listeners), 1);
  // React reports a hydration mismatch on the console; there must be none, nor any other error.
  assert.deepEqual(page.errors, []);
  assert.equal((await stack.server.metric("connections_total")) - before, 1, "one socket: the browser's");
  await page.close();
  assert.doesNotMatch(ssr.output, /error/i, "the rendering server logged no error");
});
