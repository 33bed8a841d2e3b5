// The npm package in Next.js: `npm pack` of pkg/, installed into a fresh app-router app whose client
// component makes its client at module scope, as users write it. `next build` type-checks the app against
// the package's declarations and bundles it for the server (the `node` entry point, the .wasm inlined)
// and for the browser; `next start` then renders the page on every request. On the server the client
// must never connect, even though Node has a WebSocket, and the hooks must render `loading` and `idle`,
// which is what the browser renders while hydrating (anything else is a hydration mismatch); once
// hydrated, the page must show a document and a write made over HTTP live, through one socket.
import { test } from "node:test";
import assert from "node:assert/strict";
import { freePort } from "../../scripts/livepath-server.mjs";
import { openPage, unique } from "./support.mjs";
import { answers, run, useFreshApp } from "./tarball.mjs";

const files = {
  "package.json": JSON.stringify({ name: "livepath-next-app", private: true }, null, 2),
  "app/layout.tsx": `import type { ReactNode } from "react";

export const metadata = { title: "livepath in Next.js", icons: { icon: "data:," } };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
`,
  // A server component, rendered on each request by \`next start\` rather than once by \`next build\`;
  // it tells whether the server has a WebSocket the client could have used.
  "app/page.tsx": `import Live from "./live";

export const dynamic = "force-dynamic";

export default function Page() {
  return (
    <main>
      <p data-testid="server-websocket">{typeof WebSocket}</p>
      <Live />
    </main>
  );
}
`,
  // The url and path are inlined by \`next build\` into both the server and the browser bundles.
  "app/live.tsx": `"use client";
import { connect } from "livepath";
import { LivepathProvider, useConnectionStatus, useSnapshot } from "livepath/react";

const client = connect({ url: process.env.NEXT_PUBLIC_LIVEPATH_URL });

function Title() {
  const { status, data } = useSnapshot(process.env.NEXT_PUBLIC_LIVEPATH_PATH!);
  const connection = useConnectionStatus();
  return (
    <>
      <p data-testid="value">{status === "success" ? String(data?.title ?? "") : status}</p>
      <p data-testid="connection">{connection}</p>
    </>
  );
}

export default function Live() {
  return (
    <LivepathProvider client={client}>
      <Title />
    </LivepathProvider>
  );
}
`,
};

const stack = useFreshApp("next", files, ["next", "react", "react-dom", "typescript", "@types/react", "@types/node"]);
const path = `next/${unique("doc")}`;
let built = false;
let appUrl = null;
let nextStart = null;
let connectionsBefore = null; // the server's connections_total before the build

/** The environment of `next build` and `next start`. */
function env() {
  // Node 22 has a global WebSocket; Node 20 and 21 have it behind a flag. The server must have one, or
  // "no socket from the server" would hold only for want of a WebSocket class.
  const major = Number(process.versions.node.split(".")[0]);
  const nodeOptions = [process.env.NODE_OPTIONS, major < 22 && "--experimental-websocket"].filter(Boolean).join(" ");
  return {
    ...process.env, NODE_OPTIONS: nodeOptions, NEXT_TELEMETRY_DISABLED: "1",
    NEXT_PUBLIC_LIVEPATH_URL: `ws://127.0.0.1:${stack.server.port}/v1/ws`, NEXT_PUBLIC_LIVEPATH_PATH: path,
  };
}


test("next build: the app type-checks against the package's declarations and builds", async (t) => {
  connectionsBefore = await stack.server.metric("connections_total");
  const started = Date.now();
  try {
    run(stack.bin("next"), ["build"], stack.app.dir, env());
  } catch (e) {
    assert.fail(`next build failed:\n${e.stdout}${e.stderr}`);
  }
  built = true;
  t.diagnostic(`npm pack + npm install ${stack.app.installSeconds.toFixed(1)} s, next build ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

/** The text of the element with `data-testid="<id>"` in server-rendered `html`. */
const testId = (html, id) => html.match(new RegExp(`data-testid="${id}"[^>]*>([^<]*)<`))?.[1];

test("next start: each request renders loading and idle on the server, and opens no socket", async (t) => {
  if (!built) return t.skip("the build failed");
  const port = await freePort();
  nextStart = stack.children.spawn(stack.bin("next"), ["start", "-p", String(port), "-H", "127.0.0.1"], stack.app.dir, env());
  nextStart.stderrText = "";
  nextStart.stderr.on("data", (d) => (nextStart.stderrText += d));
  appUrl = `http://127.0.0.1:${port}/`;
  await answers(appUrl, nextStart, 30);
  const html = await (await fetch(appUrl)).text();
  assert.equal(testId(html, "server-websocket"), "function", "the server has a global WebSocket");
  assert.equal(testId(html, "value"), "loading", `the server renders the snapshot as loading:\n${html}`);
  assert.equal(testId(html, "connection"), "idle", `the server renders the connection as idle:\n${html}`);
  // Give a socket the server might have opened time to reach the livepath server.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await stack.server.metric("connections_total"), connectionsBefore,
    "neither next build nor server rendering opened a socket to the livepath server");
});

test("Chromium: the page hydrates without a mismatch and shows a document and a later write live, over one socket", async (t) => {
  if (!appUrl) return t.skip("next start did not run");
  await stack.server.put(path, { title: "written before" });
  const page = await openPage(stack.browser, appUrl);
  const value = page.getByTestId("value");
  await value.filter({ hasText: "written before" }).waitFor({ timeout: 10_000 }).catch((e) => {
    throw new Error(`the document did not show: ${e.message.split("\n")[0]} (page errors: ${page.errors.join("; ") || "none"})`);
  });
  await stack.server.put(path, { title: "written after" });
  await value.filter({ hasText: "written after" }).waitFor({ timeout: 5_000 });
  await page.getByTestId("connection").filter({ hasText: "open" }).waitFor({ timeout: 5_000 });
  assert.deepEqual(page.errors, [], "no console errors (React reports a hydration mismatch as one)");
  await page.close();
  for (let i = 0; (await stack.server.metric("subscriptions")) !== 0; i++) {
    assert.ok(i < 50, "the closed page's subscription is released");
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(await stack.server.metric("connections_total"), connectionsBefore + 1, "one socket in all: the browser's");
});

test("next start logged no error", (t) => {
  if (!nextStart) return t.skip("next start did not run");
  assert.doesNotMatch(nextStart.stderrText, /Error/, `next start's output:\n${nextStart.output}`);
});
