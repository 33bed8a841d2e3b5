// End to end: the demo app, served by Vite with the real npm package, in headless Chromium, against the
// real livepath-server that scripts/test starts (LIVEPATH_SERVER=http://127.0.0.1:PORT).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { createServer } from "vite";

const SERVER = process.env.LIVEPATH_SERVER;
const root = fileURLToPath(new URL("..", import.meta.url));
let vite, browser, appUrl;

before(async () => {
  assert.ok(SERVER, "LIVEPATH_SERVER must name a running livepath-server");
  vite = await createServer({ root, logLevel: "warn", server: { host: "127.0.0.1", port: 0 } });
  await vite.listen();
  appUrl = vite.resolvedUrls.local[0];
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  await vite?.close();
});

/** A page of the demo on a fresh document; collects console errors. */
async function openDemo(path) {
  const page = await browser.newPage();
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${appUrl}?path=${encodeURIComponent(path)}`);
  await page.getByTestId("status").filter({ hasText: "open" }).waitFor({ timeout: 10_000 });
  return { page, errors };
}

function uniquePath() {
  return `e2e/doc-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

test("a document written with HTTP PUT appears without a reload", async () => {
  const path = uniquePath();
  const { page, errors } = await openDemo(path);
  await page.getByTestId("missing").waitFor();
  const response = await fetch(`${SERVER}/v1/docs/${path}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ title: "Hello from curl" }),
  });
  assert.equal(response.status, 200);
  await page.getByTestId("data").filter({ hasText: "Hello from curl" }).waitFor({ timeout: 5_000 });
  mkdirSync(`${root}/test-results`, { recursive: true });
  await page.screenshot({ path: `${root}/test-results/live-document.png`, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test("saving in the page writes the document through the client", async () => {
  const path = uniquePath();
  const { page, errors } = await openDemo(path);
  await page.getByLabel("New data (JSON)").fill('{"title":"Saved from the page"}');
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByTestId("save-message").filter({ hasText: "Saved as version" }).waitFor();
  await page.getByTestId("data").filter({ hasText: "Saved from the page" }).waitFor();
  const stored = await (await fetch(`${SERVER}/v1/docs/${path}`)).json();
  assert.equal(stored.data.title, "Saved from the page");
  assert.deepEqual(errors, []);
  await page.close();
});
