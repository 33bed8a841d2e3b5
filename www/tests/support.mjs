// What the end-to-end tests share: a real livepath-server they own (so they can stop and restart it on
// the same data directory), the app served by Vite with the real npm package, and headless Chromium.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import { chromium } from "playwright-core";
import { createLogger, createServer } from "vite";

export const root = fileURLToPath(new URL("..", import.meta.url));
const serverBin = process.env.LIVEPATH_SERVER_BIN ?? join(root, "../target/debug/livepath-server");

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** livepath-server on a fixed port and data directory, which `restart` keeps. */
export class LivepathServer {
  static async start() {
    const server = new LivepathServer(await freePort(), mkdtempSync(join(tmpdir(), "livepath-e2e-")));
    await server.startProcess();
    return server;
  }

  constructor(port, dataDir) {
    this.port = port;
    this.dataDir = dataDir;
    this.url = `http://127.0.0.1:${port}`;
    this.process = null;
  }

  async startProcess() {
    const args = ["--listen", `127.0.0.1:${this.port}`, "--data-dir", this.dataDir, "--fault-injection"];
    this.process = spawn(serverBin, args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, RUST_LOG: "warn" } });
    for (let i = 0; i < 100; i++) {
      try {
        if ((await fetch(`${this.url}/healthz`)).ok) return;
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`livepath-server did not start (${serverBin})`);
  }

  /** SIGTERM, and wait for the process to exit (it closes sockets with 1001 first); its exit code. */
  async stopProcess() {
    const child = this.process;
    this.process = null;
    if (!child) return null;
    if (child.exitCode !== null) return child.exitCode;
    const exited = new Promise((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    return exited;
  }

  async restart() {
    await this.stopProcess();
    await this.startProcess();
  }

  async close() {
    await this.stopProcess();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** A number from /metrics. */
  async metric(name) {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`livepath_${name} `));
    return Number(line.split(" ")[1]);
  }

  async get(path) {
    return (await fetch(`${this.url}/v1/docs/${path}`)).json();
  }

  async put(path, data) {
    const response = await fetch(`${this.url}/v1/docs/${path}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(data),
    });
    return response.json();
  }
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

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
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
    stack.server = await LivepathServer.start();
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
