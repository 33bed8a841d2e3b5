// Writes under contention and in bulk: runs crates/loadgen's commit-bench against one SQLite server (on
// disk, synchronous = FULL) and three nodes on one PostgreSQL (scripts/cluster.mjs, fsync on), and
// prints Markdown tables (median and range over the runs), each with its baseline from the same run:
//
// 1. one hot counter: increments (commits with the `increment` transform, pipelined) against the
//    read-modify-write an app does without them (get, then set the value plus one), with the final
//    value against the acknowledged writes (lost updates);
// 2. transactions on one document (get, then a commit conditioned on the version read, retried with
//    backoff and jitter when it fails) from 10 and 100 clients: commits/s, retries per commit, p50/p99;
// 3. commits of 1, 10 and 100 writes: documents written per second against single writes'.
//
// Every run's figures go to target/bench/commits.json. Each configuration starts fresh for each run.
// Usage: node scripts/commit-bench.mjs [--quick]
//   (after cargo build --locked --profile server -p livepath-server -p livepath-loadgen)
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Cluster } from "./cluster.mjs";
import { LivepathServer, repoRoot as root } from "./livepath-server.mjs";
import { cell } from "./tables.mjs";

const bin = (name) => join(root, "target/server", name);
const quick = process.argv.includes("--quick");
const runs = quick ? 1 : 3;
const runsText = runs === 1 ? "1 run" : `${runs} runs`;
const seconds = quick ? 2 : 4;
// No per-connection write limit: the pipelined runs exceed its default.
const serverArgs = ["--max-writes-per-second", "0"];

async function start(store) {
  if (store === "sqlite") {
    const server = await LivepathServer.start({ bin: bin("livepath-server"), args: serverArgs });
    return { ports: [server.port], close: () => server.close("SIGKILL") };
  }
  const cluster = await Cluster.start({ nodes: 3, bin: bin("livepath-server"), args: serverArgs, fast: false });
  return { ports: cluster.nodes.map((n) => n.port), close: () => cluster.close() };
}

const all = [];

/** `commit-bench` with `flags` on a fresh `store`, `runs` times; each run's JSON, tagged. */
async function measure(store, label, flags) {
  const rows = [];
  for (let run = 0; run < runs; run++) {
    const setup = await start(store);
    try {
      const servers = setup.ports.flatMap((p) => ["--server", `127.0.0.1:${p}`]);
      const out = execFileSync(bin("commit-bench"), [...servers, "--seconds", String(seconds), ...flags], {
        encoding: "utf8",
        timeout: (seconds + 60) * 1000,
      });
      const row = { store, label, run, ...JSON.parse(out) };
      rows.push(row);
      all.push(row);
    } finally {
      await setup.close();
    }
  }
  return rows;
}

const stores = [
  ["sqlite", "SQLite, one node"],
  ["postgres", "PostgreSQL, three nodes"],
];

const counter = ["| store | writes | connections | acked/s | final value = acks | lost updates |", "|---|---|---:|---:|---|---:|"];
for (const [store, name] of stores) {
  for (const [label, flags] of [
    ["increment (10 in flight each)", ["--mode", "increment", "--connections", "10", "--window", "10"]],
    ["read, then set the value + 1", ["--mode", "read-modify-write", "--connections", "10"]],
  ]) {
    const rows = await measure(store, label, flags);
    const exact = rows.every((r) => r.lost_updates === 0) ? "yes" : "no";
    counter.push(`| ${name} | ${label} | 10 | ${cell(rows, "acks_per_second")} | ${exact} | ${cell(rows, "lost_updates")} |`);
  }
}

const tx = [
  "| store | clients | commits/s | retries per commit | p50 ms | p99 ms | final value = commits |",
  "|---|---:|---:|---:|---:|---:|---|",
];
for (const [store, name] of stores) {
  for (const clients of [10, 100]) {
    const rows = await measure(store, `transactions x${clients}`, ["--mode", "transaction", "--connections", String(clients)]);
    const exact = rows.every((r) => r.lost_updates === 0) ? "yes" : "no";
    tx.push(
      `| ${name} | ${clients} | ${cell(rows, "acks_per_second")} | ${cell(rows, "retries_per_commit", 2)} | ${cell(rows, "p50_ms", 1)} | ${cell(rows, "p99_ms", 1)} | ${exact} |`,
    );
  }
}

const sizes = ["| store | writes per commit | commits/s | documents/s | × single writes |", "|---|---:|---:|---:|---:|"];
for (const [store, name] of stores) {
  let single = null;
  for (const batch of [1, 10, 100]) {
    const window = batch === 100 ? 2 : 16;
    const rows = await measure(store, `batch ${batch}`, ["--mode", "batch", "--batch", String(batch), "--connections", "10", "--window", String(window)]);
    const docs = rows.map((r) => r.documents_per_second).sort((a, b) => a - b);
    const med = docs[(docs.length - 1) >> 1];
    if (batch === 1) single = med;
    sizes.push(`| ${name} | ${batch} | ${cell(rows, "acks_per_second")} | ${cell(rows, "documents_per_second")} | ${(med / single).toFixed(2)} |`);
  }
}

mkdirSync(join(root, "target/bench"), { recursive: true });
writeFileSync(join(root, "target/bench/commits.json"), JSON.stringify(all, null, 1));
console.log(`One hot counter (${seconds} s per run, ${runsText}):\n\n${counter.join("\n")}\n`);
console.log(`Transactions on one document:\n\n${tx.join("\n")}\n`);
console.log(`Commits of several writes (documents of each connection's own, 10 connections):\n\n${sizes.join("\n")}`);
