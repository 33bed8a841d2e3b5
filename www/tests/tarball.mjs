// The npm package as users get it: `npm pack` of pkg/, installed into a fresh app made of files a test
// gives, beside other packages at the versions www's lockfile has (so npm finds them in its cache).
// Shared by the tests of the tarball in Vite, in Node, in server rendering and in Next.js.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { LivepathServer } from "../../scripts/livepath-server.mjs";
import { launchBrowser, root } from "./support.mjs";

const pkgDir = join(root, "../pkg");
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));

/** The version of `name` in www's lockfile. */
export const lockedVersion = (name) => lock.packages[`node_modules/${name}`].version;

/**
 * Runs a command to completion; its stdout. On failure the error carries stdout and stderr. One that
 * has not exited after `seconds` is killed and fails (a process that should end by itself and does not
 * is a failure, not a hang).
 */
export function run(cmd, args, cwd, env = process.env, seconds = 300) {
  return execFileSync(cmd, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: seconds * 1000 });
}

/**
 * A fresh app in a scratch directory: `files` (path → text) written, then the packed tarball and
 * `packages` (names, at www's locked versions) installed. `remove()` deletes it all.
 */
export function freshApp(prefix, files, packages) {
  const started = Date.now();
  const scratch = mkdtempSync(join(tmpdir(), `livepath-${prefix}-`));
  const dir = join(scratch, "app");
  const [packed] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", scratch], pkgDir));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(dir, file, ".."), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error",
    join(scratch, packed.filename), ...packages.map((p) => `${p}@${lockedVersion(p)}`)], dir);
  return {
    dir,
    packedFiles: packed.files.map((f) => f.path),
    installSeconds: (Date.now() - started) / 1000,
    remove: () => rmSync(scratch, { recursive: true, force: true }),
  };
}

/**
 * Registers the file's `before` and `after` for tests of the tarball: a fresh app (`freshApp`), a
 * livepath-server, Chromium (unless `browser` is false) and the children the tests spawn, all stopped
 * and removed afterwards. The returned object's fields are set once `before` has run; `bin(name)` is
 * the path of one of the app's own commands (`vite`, `next`).
 */
export function useFreshApp(prefix, files, packages, { browser = true } = {}) {
  const stack = {
    app: null, server: null, browser: null, children: new Children(),
    bin: (name) => join(stack.app.dir, "node_modules/.bin", name),
  };
  before(async () => {
    stack.app = freshApp(prefix, files, packages);
    stack.server = await LivepathServer.start();
    if (browser) stack.browser = await launchBrowser();
  });
  after(async () => {
    await stack.browser?.close();
    await stack.children.stop();
    await stack.server?.close();
    stack.app?.remove();
  });
  return stack;
}

/** Long-running children (dev servers, `next start`), stopped together by `stop()`. */
export class Children {
  list = [];

  /** Spawns `cmd` in `cwd`; its output is kept in `child.output` for failure messages. */
  spawn(cmd, args, cwd, env = process.env) {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    child.output = "";
    for (const stream of [child.stdout, child.stderr]) stream.on("data", (d) => (child.output += d));
    this.list.push(child);
    return child;
  }

  async stop() {
    for (const child of this.list) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill();
      await exited;
    }
  }
}

/** Waits until `url` answers 200 while `child` runs (up to `seconds`). */
export async function answers(url, child, seconds = 30) {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    assert.ok(i < seconds * 10 && child.exitCode === null, `${url} answers within ${seconds} s:\n${child.output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
