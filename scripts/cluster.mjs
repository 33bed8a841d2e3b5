// Several livepath-server nodes on one PostgreSQL behind nginx, all on loopback ports: what `make cluster`
// runs, and what the cluster tests and benchmarks start. Only Node's built-in modules.
//
//   const cluster = await Cluster.start({ nodes: 3 });
//   cluster.url;                     // nginx, in front of every node (HTTP and WebSocket)
//   cluster.nodes[0].url;            // one node directly
//   await cluster.nodes[1].close("SIGKILL");
//   await cluster.close();           // nginx, the nodes, and the PostgreSQL cluster (deleted)
//
// PostgreSQL is a throwaway cluster from scripts/postgres; the nodes connect as a role `livepath` that
// owns its database and is not a superuser, as in production. nginx gets a configuration of its own
// (written by `nginxConfig`, the one the README shows) in a temporary directory.
//
// Run as a program it starts a cluster and keeps it until Ctrl-C:
//   node scripts/cluster.mjs [--nodes N] [--port PORT] [--vite] [--bin PATH]
// --vite also serves the demo app (www) proxying to nginx, as `make demo` does to one server.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LivepathServer, defaultServerBin, freePort, repoRoot } from "./livepath-server.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const NGINX = process.env.NGINX ?? "/usr/sbin/nginx";

/** PostgreSQL's psql as the cluster's superuser, running `sql`. */
function psql(url, sql) {
  return execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], { encoding: "utf8" }).trim();
}

/**
 * The nginx configuration in front of `upstreams` ("127.0.0.1:PORT" each), listening on `listen`: every
 * request and WebSocket goes to one node; a node that refuses connections, or answers 503 before the
 * upgrade (its database is unreachable), is skipped for the next.
 */
export function nginxConfig({ listen, upstreams, dir }) {
  return `# Written by scripts/cluster.mjs.
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;

  # WebSocket: pass the upgrade on, and keep a quiet socket open (the server pings every 25 s).
  map $http_upgrade $connection_upgrade { default upgrade; "" close; }

  upstream livepath {
${upstreams.map((u) => `    server ${u} max_fails=1 fail_timeout=2s;`).join("\n")}
  }

  server {
    listen ${listen};
    location / {
      proxy_pass http://livepath;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_connect_timeout 2s;
      proxy_next_upstream error timeout http_502 http_503;
    }
  }
}
`;
}

export class Cluster {
  /**
   * Options: `nodes` (3), `port` (nginx's; a free one by default), `bin` (the server binary), `args`
   * (more flags for every node), `fast` (fsync off, for tests; default true).
   */
  static async start({ nodes = 3, port, bin = defaultServerBin, args = [], fast = true } = {}) {
    const cluster = new Cluster();
    try {
      await cluster.startPostgres(fast);
      for (let i = 0; i < nodes; i++) cluster.nodes.push(await cluster.startNode(bin, args));
      await cluster.startNginx(port ?? (await freePort()));
    } catch (e) {
      await cluster.close();
      throw e;
    }
    return cluster;
  }

  constructor() {
    this.nodes = [];
    this.nginx = null;
    this.dir = mkdtempSync(join(tmpdir(), "livepath-cluster-"));
    this.superuser = null;
    this.databaseUrl = null;
    this.url = null;
  }

  async startPostgres(fast) {
    // The PostgreSQL cluster deletes itself when this process exits, however it exits.
    const script = join(repoRoot, "scripts/postgres");
    this.superuser = execFileSync(script, ["--watch", String(process.pid), ...(fast ? ["--fast"] : [])], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim();
    psql(this.superuser, "CREATE ROLE livepath LOGIN");
    psql(this.superuser, "CREATE DATABASE livepath OWNER livepath");
    this.databaseUrl = this.superuser.replace("//postgres@", "//livepath@").replace(/\/postgres$/, "/livepath");
  }

  /** A new node on the cluster's database (also after `close`-ing another). */
  async startNode(bin = defaultServerBin, args = []) {
    return LivepathServer.start({
      bin,
      dataDir: null,
      args: ["--database-url", this.databaseUrl, "--trust-proxy", "127.0.0.1", ...args],
    });
  }

  async startNginx(port) {
    for (const sub of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(this.dir, sub), { recursive: true });
    const conf = join(this.dir, "nginx.conf");
    writeFileSync(conf, nginxConfig({ listen: `127.0.0.1:${port}`, upstreams: this.nodes.map((n) => `127.0.0.1:${n.port}`), dir: this.dir }));
    this.nginx = spawn(NGINX, ["-p", this.dir, "-c", conf, "-e", join(this.dir, "error.log")], { stdio: ["ignore", "ignore", "inherit"] });
    this.url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (this.nginx.exitCode !== null) throw new Error(`nginx exited: ${this.nginxLog()}`);
      try {
        if ((await fetch(`${this.url}/healthz`)).ok) return;
      } catch {}
      await sleep(50);
    }
    throw new Error(`nginx did not answer on port ${port}: ${this.nginxLog()}`);
  }

  nginxLog() {
    try {
      return readFileSync(join(this.dir, "error.log"), "utf8");
    } catch {
      return "(no log)";
    }
  }

  /** Runs `sql` on the cluster's database as the superuser; the output, one row a line. */
  sql(sql) {
    return psql(this.superuser.replace(/\/postgres$/, "/livepath"), sql);
  }

  async close() {
    if (this.nginx && this.nginx.exitCode === null) {
      const exited = new Promise((r) => this.nginx.once("exit", r));
      this.nginx.kill("SIGQUIT");
      await Promise.race([exited, sleep(3000)]);
      this.nginx.kill("SIGKILL");
    }
    await Promise.all(this.nodes.map((n) => n.close()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// As a program: `make cluster`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i < 0 ? fallback : process.argv[i + 1];
  };
  const cluster = await Cluster.start({
    nodes: Number(arg("--nodes", 3)),
    port: arg("--port") ? Number(arg("--port")) : undefined,
    bin: arg("--bin", defaultServerBin),
    fast: false,
  });
  let vite = null;
  const stop = async () => {
    vite?.kill("SIGTERM");
    await cluster.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const lines = [
    "",
    `  livepath cluster: nginx at ${cluster.url} (WebSocket ${cluster.url.replace("http", "ws")}/v1/ws)`,
    ...cluster.nodes.map((n, i) => `    node ${i + 1}: ${n.url} (pid ${n.process.pid})`),
    `    PostgreSQL: ${cluster.databaseUrl}`,
  ];
  if (process.argv.includes("--vite")) {
    vite = spawn("npx", ["vite", "--host", "127.0.0.1", "--port", "5173", "--strictPort", "--clearScreen", "false"], {
      cwd: join(repoRoot, "www"),
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, LIVEPATH_SERVER: cluster.url },
    });
    lines.push(`  The demo app, through nginx: open http://127.0.0.1:5173/`);
  }
  lines.push(
    `  Write from a terminal; every node's subscribers see it:`,
    `    curl -X PUT ${cluster.url}/v1/docs/boards/main -H 'content-type: application/json' -d '{"title":"Hello"}'`,
    `  Kill a node (kill -9 PID) and watch the page reconnect to another. Ctrl-C stops everything.`,
    "",
  );
  console.log(lines.join("\n"));
}
