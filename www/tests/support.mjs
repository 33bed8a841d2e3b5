// What the end-to-end tests share: a real livepath-server they own (started by scripts/livepath-server.mjs,
// so they can stop and restart it on the same data directory), the app served by Vite with the real npm
// package, and headless Chromium.
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import { chromium } from "playwright-core";
import { createLogger, createServer } from "vite";
import { LivepathServer } from "../../scripts/livepath-server.mjs";

export const root = fileURLToPath(new URL("..", import.meta.url));

/** livepath-server with `--fault-injection` on a fresh data directory, which `restart` keeps. */
export function startServer() {
  return LivepathServer.start({ args: ["--fault-injection"] });
}

/** The www dev server (React StrictMode, development build) proxying to `server`. Proxy errors while
 * a test has stopped the server on purpose are expected and not logged. */
export async function startVite(server) {
  process.env.LIVEPATH_SERVER = server.url;
  const logger = createLogger("warn");
  const error = logger.error;
  logger.error = (message, options) => {
    if (!/proxy error|ECONNREFUSED|socket has been ended/i.test(`${message} ${options?.error ?? ""}`)) error(message, options);
  };
  const vite = await createServer({ root, customLogger: logger, server: { host: "127.0.0.1", port: 0 } });
  await vite.listen();
  return vite;
}

const chromiumOptions = {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
};

export async function launchBrowser() {
  return chromium.launch(chromiumOptions);
}

/**
 * A browser context with a profile on disk (in `dir`), as a user's browser has: unlike the
 * in-memory contexts of `launchBrowser()`, its storage quota is enforced.
 */
export async function launchProfile(dir) {
  return chromium.launchPersistentContext(dir, chromiumOptions);
}

/** A new page at `url` whose console errors are collected in `page.errors`. */
export async function openPage(browser, url) {
  const page = await browser.newPage();
  page.errors = [];
  page.on("console", (m) => m.type() === "error" && page.errors.push(m.text()));
  page.on("pageerror", (e) => page.errors.push(String(e)));
  await page.goto(url);
  return page;
}

/**
 * Registers the file's `before` and `after`: a server of its own, Vite in front of it, and Chromium.
 * The returned object's fields are set once `before` has run.
 */
export function useStack() {
  const stack = { server: null, vite: null, browser: null, appUrl: null };
  before(async () => {
    stack.server = await startServer();
    stack.vite = await startVite(stack.server);
    stack.appUrl = stack.vite.resolvedUrls.local[0];
    stack.browser = await launchBrowser();
  });
  after(async () => {
    await stack.browser?.close();
    await stack.vite?.close();
    await stack.server?.close();
  });
  return stack;
}

export function unique(prefix) {
  return `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}
