// Server fan-out: runs crates/loadgen against livepath-server and against the broadcast baseline, one
// fresh server process per run, and prints Markdown tables (median and range over the runs). Writes
// every run's figures to target/bench/fanout.json for the charts.
// Usage: node scripts/fanout.mjs [--quick]   (after `cargo build --profile server --workspace`)
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LivepathServer, repoRoot as root } from "./livepath-server.mjs";
import { cell, fmt } from "./tables.mjs";

const bin = (name) => join(root, "target/server", name);
const quick = process.argv.includes("--quick");
const runs = quick ? 1 : 3;

// One hot document: the writer's rate falls as subscribers grow, so the offered load stays at
// 300,000 deliveries/s (the target at 10,000 subscribers).
const OFFERED = 300_000;
const hotSizes = quick ? [1000, 5000] : [1000, 2500, 5000, 10000];
// Idle connections: memory only. The process's open-file limit (`ulimit -n`) caps how many one
// server can hold; 1,000 are kept for the listener, the database and slack.
const fdLimit = Number(process.env.LIVEPATH_FD_LIMIT ?? 20000);
const idleSizes = [1000, 5000, 10000, Math.min(50000, fdLimit - 1000)].filter((n, i, a) => a.indexOf(n) === i);

// Each run's server: a fresh process on a free port (livepath with its own SQLite directory), waited
// for until it answers, killed after the run.
const servers = {
  livepath: { bin: bin("livepath-server"), args: ["--max-connections", String(fdLimit - 100)] },
  baseline: { bin: bin("broadcast-baseline"), dataDir: null, healthz: false },
};

// One run: a fresh server, the load generator against it, the server stopped.
async function run(server, loadArgs) {
  const child = await LivepathServer.start(servers[server]);
  try {
    const gen = spawn(bin("livepath-loadgen"), [
      "--server", `127.0.0.1:${child.port}`, "--server-pid", String(child.process.pid), "--label", server, ...loadArgs.map(String),
    ], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    gen.stdout.on("data", (d) => (out += d));
    const code = await new Promise((r) => gen.once("exit", r));
    if (code !== 0) throw new Error(`livepath-loadgen failed against ${server} (${loadArgs.join(" ")})`);
    return JSON.parse(out);
  } finally {
    await child.close("SIGKILL");
  }
}

const results = [];
async function scenario(name, loadArgs, times = runs) {
  for (let i = 0; i < times; i++) {
    for (const server of Object.keys(servers)) {
      const r = await run(server, loadArgs);
      results.push({ scenario: name, server, ...r });
    }
  }
}

// The latency target's rate with a Rust client instead of a browser: what the server itself adds.
await scenario("single", ["--connections", 1, "--paths", "hot", "--rate", 1000, "--warmup", 1, "--seconds", 5]);
for (const n of hotSizes) {
  const rate = OFFERED / n;
  await scenario("hot", ["--connections", n, "--paths", "hot", "--rate", rate, "--warmup", 2, "--seconds", 5]);
}
await scenario("own", ["--connections", 10000, "--paths", "own", "--rate", 5000, "--warmup", 2, "--seconds", 5]);
for (const n of idleSizes) {
  await scenario("idle", ["--connections", n, "--paths", "own", "--rate", 0, "--seconds", 3], 1);
}

mkdirSync(join(root, "target/bench"), { recursive: true });
writeFileSync(join(root, "target/bench/fanout.json"), JSON.stringify(results, null, 1));

// Tables: median (min–max) of each figure over the runs (scripts/tables.mjs).
const groups = (scenario) => {
  const map = new Map();
  for (const r of results.filter((r) => r.scenario === scenario)) {
    const key = `${r.connections}/${r.server}`;
    map.set(key, [...(map.get(key) ?? []), r]);
  }
  return [...map.values()];
};

console.log(`${runs} run${runs > 1 ? "s" : ""} per row, each against a fresh server; median (min–max). Latency is write → delivery as the load generator's clock sees it.\n`);
console.log("**One subscriber, 1,000 writes/s**: the end-to-end latency target's rate, with the load generator's Rust client in place of a browser.\n");
console.log("| writes/s | server | deliveries/s | p50 ms | p99 ms | max ms | server CPU % |");
console.log("|---:|---|---:|---:|---:|---:|---:|");
for (const rows of groups("single")) {
  const r = rows[0];
  console.log(`| ${fmt(r.rate, 0)} | ${r.server} | ${cell(rows, "deliveries_per_second")} | ${cell(rows, "p50_ms", 2)} | ${cell(rows, "p99_ms", 2)} | ${cell(rows, "max_ms", 2)} | ${cell(rows, "server_cpu_percent")} |`);
}
console.log("\n**One hot document**: every connection subscribes to it; the writer's rate × subscribers = 300,000 deliveries/s offered.\n");
console.log("| subscribers | writes/s | server | deliveries/s | delivered | p50 ms | p99 ms | server CPU % | load generator CPU % | machine busy % |");
console.log("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
for (const rows of groups("hot")) {
  const r = rows[0];
  const delivered = rows.map((x) => ({ ...x, pct: 100 * x.delivered_fraction }));
  console.log(`| ${fmt(r.connections, 0)} | ${fmt(r.rate, 0)} | ${r.server} | ${cell(rows, "deliveries_per_second")} | ${cell(delivered, "pct")} % | ${cell(rows, "p50_ms", 1)} | ${cell(rows, "p99_ms", 1)} | ${cell(rows, "server_cpu_percent")} | ${cell(rows, "loadgen_cpu_percent")} | ${cell(rows, "machine_busy_percent")} |`);
}
console.log("\n**A document each**: 10,000 connections, each subscribed to its own document; the writer goes round them at 5,000 writes/s.\n");
console.log("| connections | writes/s | server | deliveries/s | p50 ms | p99 ms | server CPU % | server RSS per connection KiB |");
console.log("|---:|---:|---|---:|---:|---:|---:|---:|");
for (const rows of groups("own")) {
  const r = rows[0];
  console.log(`| ${fmt(r.connections, 0)} | ${fmt(r.rate, 0)} | ${r.server} | ${cell(rows, "deliveries_per_second")} | ${cell(rows, "p50_ms", 1)} | ${cell(rows, "p99_ms", 1)} | ${cell(rows, "server_cpu_percent")} | ${cell(rows, "rss_per_connection_kib", 1)} |`);
}
console.log("\n**Idle connections**: each subscribed to its own document, nothing written; the server's resident memory after they settle, less its memory before they connected.\n");
console.log("| connections | server | server RSS MiB | RSS per connection KiB |");
console.log("|---:|---|---:|---:|");
for (const rows of groups("idle")) {
  const r = rows[0];
  console.log(`| ${fmt(r.connections, 0)} | ${r.server} | ${fmt(r.server_rss_kib / 1024, 1)} | ${cell(rows, "rss_per_connection_kib", 1)} |`);
}
