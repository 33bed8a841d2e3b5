// The one way JS starts a server for tests and benchmarks: a livepath-server (or another binary that
// takes `--listen HOST:PORT`) on a free port, waited for until it answers, and stopped, restarted or
// removed with its data directory. Used by www/tests, www/bench and scripts/fanout.mjs; only Node's
// built-in modules, so it runs without any node_modules. (The shell's equivalent is `wait_healthy` in
// scripts/env.sh, Rust's is crates/server/tests/common.)
//
//   const server = await LivepathServer.start({ args: ["--fault-injection"] });
//   await server.put("rooms/r1", { title: "Hello" });
//   await server.restart();           // same port, same data directory
//   await server.close();             // stops it and removes the data directory it made
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** `LIVEPATH_SERVER_BIN`, or the debug build in this repository's target/. */
export const defaultServerBin = process.env.LIVEPATH_SERVER_BIN ?? join(repoRoot, "target/debug/livepath-server");

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const accepts = (port) =>
  new Promise((resolve) => {
    const c = connect(port, "127.0.0.1", () => (c.destroy(), resolve(true))).on("error", () => resolve(false));
  });

/**
 * A server process on a fixed port (and data directory), which `restart` keeps.
 *
 * Options of `start` and the constructor:
 * - `bin`: the executable (default `defaultServerBin`);
 * - `args`: more arguments after `--listen` and `--data-dir`, e.g. `["--fault-injection"]`;
 * - `dataDir`: a directory to keep (not removed by `close`); default a fresh temporary one that `close`
 *   removes; `null` passes no `--data-dir` (for `--memory`, or a binary without one);
 * - `authSecret`: sets `LIVEPATH_AUTH_SECRET`; `env`: more environment variables (`RUST_LOG` is `warn`
 *   unless set here);
 * - `healthz`: wait for `GET /healthz` to answer 200 (default); `false` waits until the port accepts a
 *   TCP connection (the fan-out benchmark's broadcast baseline has no HTTP routes);
 * - `timeoutMs`: how long to wait (default 10 s).
 */
export class LivepathServer {
  static async start(options = {}) {
    const server = new LivepathServer(await freePort(), options);
    try {
      await server.startProcess();
    } catch (e) {
      await server.close();
      throw e;
    }
    return server;
  }

  constructor(port, { bin = defaultServerBin, args = [], dataDir, authSecret, env = {}, healthz = true, timeoutMs = 10_000 } = {}) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.bin = bin;
    this.args = args;
    this.ownsDataDir = dataDir === undefined;
    this.dataDir = dataDir === undefined ? mkdtempSync(join(tmpdir(), "livepath-server-")) : dataDir;
    this.env = { ...process.env, RUST_LOG: "warn", ...(authSecret ? { LIVEPATH_AUTH_SECRET: authSecret } : {}), ...env };
    this.healthz = healthz;
    this.timeoutMs = timeoutMs;
    this.process = null;
  }

  /** Spawns the server and resolves once it answers; rejects if it exits first or never answers. */
  async startProcess() {
    const args = ["--listen", `127.0.0.1:${this.port}`, ...(this.dataDir === null ? [] : ["--data-dir", this.dataDir]), ...this.args];
    const child = spawn(this.bin, args, { stdio: ["ignore", "ignore", "inherit"], env: this.env });
    this.process = child;
    let spawnError = null;
    child.once("error", (e) => (spawnError = e));
    const deadline = Date.now() + this.timeoutMs;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`could not start ${this.bin}: ${spawnError.message}`);
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${this.bin} exited (${child.exitCode ?? child.signalCode}) before answering on port ${this.port}`);
      }
      if (await this.answers()) return;
      await sleep(50);
    }
    await this.stopProcess("SIGKILL");
    throw new Error(`${this.bin} did not answer on port ${this.port} within ${this.timeoutMs / 1000} s`);
  }

  async answers() {
    if (!this.healthz) return accepts(this.port);
    try {
      return (await fetch(`${this.url}/healthz`)).ok;
    } catch {
      return false;
    }
  }

  /** Sends `signal` (SIGTERM: the server closes sockets with 1001 first) and waits for the exit; its code. */
  async stopProcess(signal = "SIGTERM") {
    const child = this.process;
    this.process = null;
    if (!child || child.pid === undefined) return null;
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise((r) => child.once("exit", (code) => r(code)));
    child.kill(signal);
    return exited;
  }

  async restart() {
    await this.stopProcess();
    await this.startProcess();
  }

  /** Stops the process and removes the data directory if this object made it. */
  async close(signal = "SIGTERM") {
    await this.stopProcess(signal);
    if (this.ownsDataDir && this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
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
