// Several nodes on PostgreSQL: runs crates/loadgen against a single SQLite server and against clusters
// of 1, 2 and 3 livepath-server nodes on one PostgreSQL (scripts/cluster.mjs; durable, fsync on, as
// SQLite's synchronous = FULL is), and prints Markdown tables (median and range over the runs):
//
// 1. the same offered load on each (writers and subscribers spread evenly over the nodes, each
//    subscriber on its own document, so most writes are delivered by another node than the writer's),
//    and each one's ceiling with many writes in flight;
// 2. the ceiling of PostgreSQL's one version counter: writes one at a time against writes batched,
//    with the writes per transaction (from PostgreSQL's statistics) and a bare transaction of the same
//    round trips run by pgbench beside them;
// 3. fan-out of one hot document to 10,000 subscribers all on one node against split over three.
//
// Every run's figures go to target/bench/cluster.json. Each configuration starts fresh for each run.
// Usage: node scripts/cluster-bench.mjs [--quick]
//   (after cargo build --locked --profile server -p livepath-server -p livepath-loadgen; the open-file
//   limit, LIVEPATH_FD_LIMIT or 20,000, caps the fan-out's subscribers)
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster } from "./cluster.mjs";
import { LivepathServer, repoRoot as root } from "./livepath-server.mjs";
import { cell, fmt, median, values } from "./tables.mjs";

const bin = (name) => join(root, "target/server", name);
const quick = process.argv.includes("--quick");
const runs = quick ? 1 : 2;
const seconds = quick ? 3 : 4;
const warmup = quick ? 1 : 2;
const fdLimit = Number(process.env.LIVEPATH_FD_LIMIT ?? 20000);

// The offered load every configuration is given, and how it is spread.
const RATE = 1000; // writes/s, all writers together
const WRITERS = 3; // one per node on three nodes; all on the one node otherwise
const SUBSCRIBERS = quick ? 300 : 1000; // each on its own document
const CEILING_WINDOW = 64; // writes in flight per writer for a configuration's ceiling
const BATCHED_WINDOW = 256; // the store's largest batch
// Fan-out: one hot document; the offered deliveries/s are its subscribers × the write rate.
const FANOUT_SUBSCRIBERS = Math.min(quick ? 3000 : 10000, fdLimit - 1000);
const FANOUT_RATE = 10;
// Far above any ceiling: the writers' windows are what limits them.
const UNLIMITED = 1_000_000;

// No per-connection write limit (the ceiling runs exceed its default), and room for the fan-out.
const serverArgs = ["--max-connections", String(fdLimit - 100), "--max-writes-per-second", "0"];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The fields of /proc/PID/stat after the command name: [state, ppid, …]. */
const stat = (pid) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
/** The parent of process `pid`. */
const parentOf = (pid) => Number(stat(pid)[1]);
/** CPU seconds of the children `pid` has waited for (cutime + cstime): a postmaster's ended backends. */
const reapedCpu = (pid) => (Number(stat(pid)[13]) + Number(stat(pid)[14])) / 100;

/**
 * A configuration, started: `servers` ({ port, pid } each), `databasePids` (PostgreSQL's processes as
 * the nodes have connected, the postmaster first, to meter), `cluster` (PostgreSQL's) and `close()`.
 */
async function start(setup) {
  if (setup.store === "sqlite") {
    const server = await LivepathServer.start({ bin: bin("livepath-server"), args: serverArgs });
    return {
      servers: [{ port: server.port, pid: server.process.pid }],
      databasePids: [],
      cluster: null,
      close: () => server.close("SIGKILL"),
    };
  }
  const cluster = await Cluster.start({ nodes: setup.nodes, bin: bin("livepath-server"), args: serverArgs, fast: false });
  const backends = cluster.sql("SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()").split("\n").map(Number);
  return {
    servers: cluster.nodes.map((n) => ({ port: n.port, pid: n.process.pid })),
    databasePids: [parentOf(backends[0]), ...backends],
    cluster,
    close: () => cluster.close(),
  };
}

/**
 * Batches written so far: each transaction that writes updates the counter row once (and the
 * housekeeping, every 30 s per node, a few times more), each write inserts one log row. PostgreSQL's
 * statistics lag the backends by up to a second or so; the nodes' once-a-second reads flush them.
 */
async function batches(cluster) {
  await sleep(2500);
  const [updates, inserts] = cluster
    .sql(`SELECT coalesce(sum(n_tup_upd) FILTER (WHERE relname = 'livepath_meta'), 0),
                 coalesce(sum(n_tup_ins) FILTER (WHERE relname = 'livepath_log'), 0) FROM pg_stat_user_tables`)
    .split("|")
    .map(Number);
  return { transactions: updates, writes: inserts };
}

/** One load generator run against a started configuration; its JSON report. */
async function load(started, label, loadArgs) {
  const args = [
    ...started.servers.flatMap((s) => ["--server", `127.0.0.1:${s.port}`, "--server-pid", String(s.pid)]),
    ...started.databasePids.flatMap((pid) => ["--database-pid", String(pid)]),
    "--label", label, "--warmup", warmup, "--seconds", seconds, ...loadArgs,
  ].map(String);
  const gen = spawn(bin("livepath-loadgen"), args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  gen.stdout.on("data", (d) => (out += d));
  const code = await new Promise((r) => gen.once("exit", r));
  if (code !== 0) throw new Error(`livepath-loadgen failed (${label}: ${loadArgs.join(" ")})`);
  const report = JSON.parse(out);
  delete report.cdf;
  return report;
}

/**
 * A bare transaction as a livepath batch's (four round trips, the counter row locked), by pgbench; with
 * the CPU its PostgreSQL backends used, read from the postmaster once they have ended.
 */
async function pgbench(url, postmaster, clients) {
  const dir = mkdtempSync(join(tmpdir(), "livepath-pgbench-"));
  try {
    const table = "SET client_min_messages = warning; DROP TABLE IF EXISTS bench_counter; CREATE TABLE bench_counter (v bigint); INSERT INTO bench_counter VALUES (0)";
    execFileSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-qAtc", table]);
    const script = join(dir, "counter.sql");
    writeFileSync(script, "BEGIN;\nSELECT v FROM bench_counter FOR UPDATE;\nUPDATE bench_counter SET v = v + 1;\nCOMMIT;\n");
    const cpu0 = reapedCpu(postmaster);
    let out;
    try {
      out = execFileSync("pgbench", ["-n", "-M", "prepared", "-f", script, "-T", String(seconds), "-c", String(clients), url], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      });
    } catch (e) {
      if (e.code === "ENOENT") return null; // pgbench is not installed: no such table
      throw e;
    }
    const tps = Number(out.match(/tps = ([\d.]+)/)[1]);
    const latency = Number(out.match(/latency average = ([\d.]+) ms/)[1]);
    await sleep(500); // the backends end after pgbench does
    const transactions = Number(out.match(/number of transactions actually processed: (\d+)/)[1]);
    const cpuMs = ((reapedCpu(postmaster) - cpu0) * 1000) / transactions;
    return { tps, latency_ms: latency, database_cpu_ms: cpuMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const setups = [
  { name: "SQLite, 1 node", store: "sqlite", nodes: 1 },
  { name: "PostgreSQL, 1 node", store: "postgres", nodes: 1 },
  { name: "PostgreSQL, 2 nodes", store: "postgres", nodes: 2 },
  { name: "PostgreSQL, 3 nodes", store: "postgres", nodes: 3 },
];

const results = [];
const record = (part, setup, extra, report) => results.push({ part, setup: setup.name, nodes: setup.nodes, store: setup.store, ...extra, ...report });

for (let run = 0; run < runs; run++) {
  for (const setup of setups) {
    process.stderr.write(`cluster-bench: run ${run + 1}/${runs}, ${setup.name}\n`);
    const started = await start(setup);
    try {
      // 1. The same offered load, then the ceiling with many writes in flight.
      const common = ["--connections", SUBSCRIBERS, "--paths", "own", "--writers", WRITERS];
      record("load", setup, { mode: "paced" }, await load(started, setup.name, [...common, "--rate", RATE]));
      record("load", setup, { mode: "ceiling" }, await load(started, setup.name, [...common, "--rate", UNLIMITED, "--in-flight", CEILING_WINDOW]));
      if (setup.store !== "postgres" || setup.nodes === 2) continue;

      // 2. The counter's ceiling: one writer per node, one write in flight or a full batch's worth.
      for (const window of [1, BATCHED_WINDOW]) {
        const before = await batches(started.cluster);
        const report = await load(started, setup.name, ["--connections", 100, "--paths", "own", "--writers", setup.nodes, "--rate", UNLIMITED, "--in-flight", window]);
        const after = await batches(started.cluster);
        const writes = after.writes - before.writes;
        const transactions = after.transactions - before.transactions;
        record("counter", setup, { window, writes_per_transaction: transactions > 0 ? writes / transactions : null }, report);
      }
      if (setup.nodes === 1) {
        for (const clients of [1, 3]) {
          const bare = await pgbench(started.cluster.superuser, started.databasePids[0], clients);
          if (bare) results.push({ part: "pgbench", setup: setup.name, clients, ...bare });
        }
      }

      // 3. Fan-out of one hot document: all subscribers on one node, or split over three.
      record("fanout", setup, {}, await load(started, setup.name, ["--connections", FANOUT_SUBSCRIBERS, "--paths", "hot", "--writers", 1, "--rate", FANOUT_RATE]));
    } finally {
      await started.close();
    }
  }
}

mkdirSync(join(root, "target/bench"), { recursive: true });
writeFileSync(join(root, "target/bench/cluster.json"), JSON.stringify(results, null, 1));

// Tables: median (min–max) of each figure over the runs (scripts/tables.mjs).
const mid = (rows, key) => {
  const xs = values(rows, key);
  return xs.length ? median(xs) : NaN;
};
const ratio = (x, base) => (Number.isFinite(x) && Number.isFinite(base) && base > 0 ? `${fmt(x / base, 2)}×` : "–");
const rowsOf = (part, filter = () => true) => {
  const map = new Map();
  for (const r of results.filter((r) => r.part === part && filter(r))) {
    const key = `${r.setup}/${r.mode ?? ""}/${r.window ?? ""}/${r.clients ?? ""}`;
    map.set(key, [...(map.get(key) ?? []), r]);
  }
  return [...map.values()];
};
const perNode = (rows) => {
  const nodes = rows[0].server_cpus_percent.length;
  return Array.from({ length: nodes }, (_, i) => fmt(mid(rows, (r) => r.server_cpus_percent[i]), 0)).join(" / ");
};

console.log(`${runs} run${runs > 1 ? "s" : ""} per row, each against a freshly started configuration; median (min–max). ${warmup} s of warm-up, ${seconds} s measured. PostgreSQL is durable (fsync on), as SQLite is (synchronous = FULL). Node CPU is each livepath-server process's, in % of one core; PostgreSQL's is all its processes together.\n`);

console.log(`**The same load**: ${fmt(SUBSCRIBERS, 0)} subscribers, each on its own document, spread evenly over the nodes; ${WRITERS} writers spread over the nodes going round the documents together (so on several nodes most writes reach their subscriber through another node). "paced": ${fmt(RATE, 0)} writes/s offered; "ceiling": as fast as the acks allow, ${CEILING_WINDOW} writes in flight per writer. Latency is write → delivery on the load generator's clock; ratios are against SQLite's median.\n`);
console.log("| store | load | writes/s acked | × SQLite | delivered | p50 ms | × SQLite | p99 ms | ack p50 ms | node CPU % | PostgreSQL CPU % | machine busy % |");
console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
for (const mode of ["paced", "ceiling"]) {
  const base = mid(results.filter((r) => r.part === "load" && r.mode === mode && r.store === "sqlite"), "acks_per_second");
  const baseP50 = mid(results.filter((r) => r.part === "load" && r.mode === mode && r.store === "sqlite"), "p50_ms");
  for (const rows of rowsOf("load", (r) => r.mode === mode)) {
    const r = rows[0];
    const acked = mid(rows, "acks_per_second");
    const delivered = rows.map((x) => ({ ...x, pct: 100 * x.delivered_fraction }));
    console.log(`| ${r.setup} | ${mode} | ${cell(rows, "acks_per_second")} | ${ratio(acked, base)} | ${cell(delivered, "pct")} % | ${cell(rows, "p50_ms", 1)} | ${ratio(mid(rows, "p50_ms"), baseP50)} | ${cell(rows, "p99_ms", 1)} | ${cell(rows, "ack_p50_ms", 1)} | ${perNode(rows)} | ${cell(rows, "database_cpu_percent")} | ${cell(rows, "machine_busy_percent")} |`);
  }
}

console.log(`\n**The version counter's ceiling**: every write locks PostgreSQL's one counter row for its transaction. One writer per node, as fast as the acks allow, with one write in flight (each waits for the previous one's ack: one transaction a write) or ${BATCHED_WINDOW} (the store commits those waiting as one transaction). 100 subscribers, each on its own document. Writes per transaction from PostgreSQL's statistics (the counter row's updates against the log's inserts).\n`);
console.log("| store | writers × in flight | writes/s acked | × one at a time | writes per transaction | ms per transaction | ack p50 ms | ack p99 ms | node CPU % | node CPU ms per transaction | PostgreSQL CPU % | PostgreSQL CPU ms per transaction | machine busy % |");
console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
const unbatched = mid(results.filter((r) => r.part === "counter" && r.nodes === 1 && r.window === 1), "acks_per_second");
for (const rows of rowsOf("counter")) {
  const r = rows[0];
  // Per transaction: wall time (the counter row is locked for most of it), and CPU (% of a core is
  // 10 ms a second) over transactions a second.
  const perTransaction = (x, percent) => (x.writes_per_transaction ? (percent * x.writes_per_transaction) / x.acks_per_second : null);
  const wall = (x) => perTransaction(x, 1000);
  const nodeCpu = (x) => perTransaction(x, 10 * x.server_cpu_percent);
  const databaseCpu = (x) => perTransaction(x, 10 * x.database_cpu_percent);
  console.log(`| ${r.setup} | ${r.writers} × ${r.window} | ${cell(rows, "acks_per_second")} | ${ratio(mid(rows, "acks_per_second"), unbatched)} | ${cell(rows, "writes_per_transaction", 1)} | ${cell(rows, wall, 2)} | ${cell(rows, "ack_p50_ms", 2)} | ${cell(rows, "ack_p99_ms", 2)} | ${perNode(rows)} | ${cell(rows, nodeCpu, 2)} | ${cell(rows, "database_cpu_percent")} | ${cell(rows, databaseCpu, 2)} | ${cell(rows, "machine_busy_percent")} |`);
}
const bare = rowsOf("pgbench");
if (bare.length) {
  console.log(`\nBeside it, pgbench (prepared statements) running a bare transaction with a livepath batch's four round trips and the same lock: \`BEGIN; SELECT … FOR UPDATE; UPDATE …; COMMIT\` on a one-row table.\n`);
  console.log("| connections | transactions/s | ms per transaction | PostgreSQL CPU ms per transaction |");
  console.log("|---:|---:|---:|---:|");
  for (const rows of bare) console.log(`| ${rows[0].clients} | ${cell(rows, "tps")} | ${cell(rows, "latency_ms", 2)} | ${cell(rows, "database_cpu_ms", 2)} |`);
}

console.log(`\n**Fan-out across nodes**: ${fmt(FANOUT_SUBSCRIBERS, 0)} subscribers of one hot document, all on one node or split evenly over three, PostgreSQL both; one writer (on the first node) at ${FANOUT_RATE} writes/s: ${fmt(FANOUT_SUBSCRIBERS * FANOUT_RATE, 0)} deliveries/s offered.\n`);
console.log("| nodes | deliveries/s | × one node | delivered | p50 ms | p99 ms | node CPU % | node CPU ms per 1,000 deliveries | PostgreSQL CPU % | load generator CPU % | machine busy % |");
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
const oneNode = mid(results.filter((r) => r.part === "fanout" && r.nodes === 1), "deliveries_per_second");
for (const rows of rowsOf("fanout")) {
  const r = rows[0];
  const delivered = rows.map((x) => ({ ...x, pct: 100 * x.delivered_fraction }));
  const cost = (x) => (x.deliveries_per_second > 0 ? (10 * x.server_cpu_percent * 1000) / x.deliveries_per_second : null);
  console.log(`| ${r.nodes} | ${cell(rows, "deliveries_per_second")} | ${ratio(mid(rows, "deliveries_per_second"), oneNode)} | ${cell(delivered, "pct")} % | ${cell(rows, "p50_ms", 1)} | ${cell(rows, "p99_ms", 1)} | ${perNode(rows)} | ${cell(rows, cost, 2)} | ${cell(rows, "database_cpu_percent")} | ${cell(rows, "loadgen_cpu_percent")} | ${cell(rows, "machine_busy_percent")} |`);
}
