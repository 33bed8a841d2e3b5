// Live queries: runs crates/loadgen's query-bench against one server on SQLite (on disk), one on
// SQLite with indexes on the queries' fields (--index), and one on PostgreSQL (durable, fsync on),
// each with a fresh collection of 100,000 documents, and prints
// Markdown tables: the time to a query's first result, and what a write costs with 1,000 live
// queries held against the same writes with 1,000 document subscribers (server CPU per write, write
// → delivery latency), and a resume's cost (`subscribe` with `since`: `unchanged`, or the full result).
//
// The raw figures go to target/bench/queries.json.
// Usage: node scripts/query-bench.mjs [--quick]
//   (after cargo build --locked --profile server -p livepath-server -p livepath-loadgen)
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Cluster } from "./cluster.mjs";
import { LivepathServer, repoRoot as root } from "./livepath-server.mjs";
import { fmt } from "./tables.mjs";

const quick = process.argv.includes("--quick");
const bin = (name) => join(root, "target/server", name);
const serverArgs = ["--max-subscriptions", "100000", "--max-writes-per-second", "0"];
const benchArgs = quick ? ["--docs", "20000", "--queries", "300", "--initial-runs", "5", "--seconds", "3"] : [];

async function measure(label, start) {
  const { server, close } = await start();
  try {
    const output = execFileSync(
      bin("query-bench"),
      ["--server", `127.0.0.1:${server.port}`, "--server-pid", String(server.process.pid), ...benchArgs],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 },
    );
    return { store: label, ...JSON.parse(output) };
  } finally {
    await close();
  }
}

const runs = [
  await measure("SQLite", async () => {
    const server = await LivepathServer.start({ bin: bin("livepath-server"), args: serverArgs });
    return { server, close: () => server.close() };
  }),
  await measure("SQLite, indexed", async () => {
    const indexes = ["--index", "priority, createdAt desc", "--index", "status, createdAt desc"];
    const server = await LivepathServer.start({ bin: bin("livepath-server"), args: [...serverArgs, ...indexes] });
    return { server, close: () => server.close() };
  }),
  await measure("PostgreSQL", async () => {
    const cluster = await Cluster.start({ nodes: 1, bin: bin("livepath-server"), args: serverArgs, fast: false });
    return { server: cluster.nodes[0], close: () => cluster.close() };
  }),
];
mkdirSync(join(root, "target/bench"), { recursive: true });
writeFileSync(join(root, "target/bench/queries.json"), JSON.stringify(runs, null, 2));

const ms = (x) => fmt(x, x < 10 ? 1 : 0);
const docs = runs[0].docs.toLocaleString("en");
console.log(`First result of a query over ${docs} documents (subscribe → its \`collection\` frame; median of ${runs[0].first_result_ms.selective.runs}, 90th percentile in brackets; without an index each is read from the collection's documents, narrowed in SQL by the \`==\` filter; with \`--index "priority, createdAt desc"\` and \`--index "status, createdAt desc"\`, from the index, in order, up to the limit):\n`);
console.log("| store | 1% match (`priority == p`, newest first, limit 50) | 67% match (`status == \"open\"`, newest first, limit 50) | the plain listing (all documents) |");
console.log("|---|---:|---:|---:|");
for (const r of runs) {
  const f = r.first_result_ms;
  const cell = (s) => `${ms(s.median)} ms (${ms(s.p90)})`;
  console.log(`| ${r.store} | ${cell(f.selective)} | ${cell(f.broad)} | ${cell(f.listing)} |`);
}
const queries = runs[0].queries.toLocaleString("en");
console.log(`\nWrites with ${queries} live queries on the collection (each document matches ${Math.round(runs[0].queries / 100)} of them) against the same writes with ${queries} document subscribers:\n`);
console.log("| store | load | writes/s | deliveries per write | server CPU per write | write → delivery p50 | p99 | queries read again |");
console.log("|---|---|---:|---:|---:|---:|---:|---:|");
for (const r of runs) {
  for (const l of r.live) {
    const rereads = l.rereads === undefined ? "–" : String(l.rereads);
    console.log(`| ${r.store} | ${l.label} | ${fmt(l.rate, 0)} | ${fmt(l.deliveries_per_write, 1)} | ${fmt(l.cpu_us_per_write / 1000, 2)} ms | ${ms(l.p50_ms)} ms | ${ms(l.p99_ms)} ms | ${rereads} |`);
  }
}
const bytes = (n) => `${n.toLocaleString("en")} B`;
console.log(`\nResuming a query's result (\`subscribe\` with the \`since\` of its last result; \`priority == 7\`, newest first, limit 50; median of ${runs[0].first_result_ms.selective.runs}): when nothing in the collection changed the answer is \`unchanged\`; when anything did, even outside the result, it is the full result again (the client diffs it against what it holds, so listeners see only what changed):\n`);
console.log("| store | first result | resume, nothing changed | resume, a document outside the result changed |");
console.log("|---|---:|---:|---:|");
for (const r of runs) {
  const x = r.resume;
  const cell = (c) => `${ms(c.ms.median)} ms, ${bytes(c.bytes)}`;
  console.log(`| ${r.store} | ${cell(x.full)} | ${cell(x.unchanged)} | ${cell(x.changed_elsewhere)} |`);
}
