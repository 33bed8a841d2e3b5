// The Targets table of BENCHMARKS.md, computed from the parts' outputs in target/bench/: each target,
// whether the run that left them met it (decided here from the measured figures) and the figures that
// decide it. Tables kept only as Markdown are read back cell by cell (scripts/tables.mjs's `cell`:
// "median (min–max)" or a single figure); fanout.json and commits.json are read with `cell` itself, as
// their parts print them. A missing file, table or column is an error, so that the page is never
// written from half the figures. Usage: node scripts/targets.mjs   (scripts/bench puts it on the page)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cell, fmt, median, values } from "./tables.mjs";

const dir = join(fileURLToPath(new URL("..", import.meta.url)), "target/bench");
const read = (name) => readFileSync(join(dir, name), "utf8");

// --- Markdown tables, as the parts print them ---

/** Every table in `md`: its header cells and its rows' cells. */
function tables(md) {
  const out = [];
  let lines = [];
  for (const line of [...md.split("\n"), ""]) {
    if (line.trim().startsWith("|")) {
      lines.push(line.trim().slice(1, -1).split("|").map((c) => c.trim()));
      continue;
    }
    if (lines.length >= 2) out.push({ header: lines[0], rows: lines.slice(2) });
    lines = [];
  }
  return out;
}

/** The table of `file` whose first column is `first`, with `get(row, column)` and `find(test)`. */
function table(file, first) {
  const t = tables(read(file)).find((t) => t.header[0] === first);
  if (!t) throw new Error(`targets: no table with a "${first}" column in target/bench/${file}`);
  const column = (name) => {
    const i = t.header.indexOf(name);
    if (i < 0) throw new Error(`targets: no column "${name}" in target/bench/${file}`);
    return i;
  };
  const find = (test) => {
    const row = t.rows.find(test);
    if (!row) throw new Error(`targets: no row ${test} in target/bench/${file}`);
    return row;
  };
  return { rows: t.rows, column, find, get: (row, name) => row[column(name)] };
}

/** The figures of a cell: its text and its median, min and max (all one for a single figure). */
function figure(text) {
  const number = (s) => {
    const m = s.match(/-?\d[\d,]*(?:\.\d+)?/);
    if (!m) throw new Error(`targets: no figure in "${text}"`);
    return Number(m[0].replace(/,/g, ""));
  };
  const range = text.match(/^(.*?)\s*\((.+)–(.+)\)$/);
  if (range) return { text, median: number(range[1]), min: number(range[2]), max: number(range[3]) };
  const x = number(text);
  return { text, median: x, min: x, max: x };
}

// --- helpers for the verdicts ---

const n0 = (x) => fmt(x, 0);
/** KB with one decimal as tenths, so that sums and differences of the table's figures stay exact. */
const tenths = (text) => Math.round(figure(text).median * 10);
const kb = (t) => `${fmt(t / 10, 1)} KB`;
const overUnder = (t, limit) => (t > limit ? `${kb(t - limit)} over` : `${kb(limit - t)} under`);
/** "met" when every part is, "missed" when none is, else which parts are missed and which met. */
function verdict(parts) {
  const met = parts.filter((p) => p.met === true);
  const missed = parts.filter((p) => p.met === false);
  const unmeasured = parts.filter((p) => p.met === null);
  if (parts.length === 0 || unmeasured.length === parts.length) return "not measured";
  if (met.length === parts.length) return "met";
  if (missed.length === parts.length) return "missed";
  const say = (word, ps) => (ps.length ? [`${word}: ${ps.map((p) => p.name).join(", ")}`] : []);
  return [...say("missed", missed), ...say("met", met), ...say("not measured", unmeasured)].join("; ");
}

const rows = [];
const target = (what, decided, figures) => rows.push(`| ${what} | ${decided} | ${figures} |`);

// --- the client's size (sizes.md) ---

const sizes = table("sizes.md", "build");
const build = (label) => sizes.find((r) => r[0] === label);
const pkg = build("livepath (pkg/)");
const total = (r) => tenths(sizes.get(r, "total gzip"));
{
  const t = total(pkg);
  target(
    "[client ≤ 25 KB gzipped, all features](#size-of-the-client)",
    t <= 250 ? "met" : "missed",
    `${kb(t)} (${sizes.get(pkg, "wasm gzip")} wasm + ${sizes.get(pkg, "JS glue gzip")} JS), ${overUnder(t, 250)}`,
  );
}
{
  const both = total(pkg) - total(build("variant: without persistence nor shared tabs"));
  const persistence = total(pkg) - total(build("variant: without persistence"));
  const tabs = total(pkg) - total(build("variant: without shared tabs"));
  target(
    "[persistence and shared tabs together ≤ 6 KB gzipped](#persistence)",
    both <= 60 ? "met" : "missed",
    `both ${kb(both)} (${kb(total(pkg))} with both, ${kb(total(pkg) - both)} built without either), ${overUnder(both, 60)}; ` +
      `persistence ${kb(persistence)}, shared tabs ${kb(tabs)}, each against the build without it`,
  );
}
{
  // The package as it was before the writes (commits, transforms, transactions) came in, and their budget.
  const before = 462;
  const budget = 30;
  const t = total(pkg);
  target(
    `[the writes (commits, transforms, transactions) add ≤ 3 KB gzipped to the package](#size-of-the-client) (${kb(before)} before them)`,
    t <= before + budget ? "met" : "missed",
    `package now ${kb(t)}, ${overUnder(t, before + budget)} ${fmt(before / 10, 1)} + ${fmt(budget / 10, 0)}`,
  );
}

// --- shared tabs (tabs.md) ---

{
  const tabs = table("tabs.md", "tabs");
  const single = tabs.find((r) => r[0].startsWith('"single"'));
  const shared = tabs.find((r) => r[0].startsWith('"shared"'));
  const of = (row, name) => figure(tabs.get(row, name));
  const connections = of(shared, "server connections").median;
  const times = ["write in one tab shown in another", "confirmed there", "every tab open again after losing the socket"];
  const measured = times.every((name) => Number.isFinite(of(shared, name).median));
  const both = (name) => `${tabs.get(shared, name)} (a socket per tab: ${tabs.get(single, name)})`;
  target(
    "[five tabs of one app: one connection; a write in one tab shown in another; every tab open again after the leader goes](#shared-tabs)",
    connections === 1 && measured ? "met" : "missed",
    `${n0(connections)} server connection${connections === 1 ? "" : "s"} (a socket per tab: ${tabs.get(single, "server connections")}); ` +
      `a write shown in another tab after ${both(times[0])}, confirmed there after ${both(times[1])}; ` +
      `every tab open again ${tabs.get(shared, times[2])} after the leader tab closes (a socket per tab, after the server drops them: ${tabs.get(single, times[2])})`,
  );
}

// --- reloads with persistence (reload.md) ---

{
  const reload = table("reload.md", "load");
  const memory = reload.find((r) => r[0].startsWith("without persistence"));
  const cached = reload.find((r) => r[0].startsWith("persistence:"));
  const ratio = reload.find((r) => r[0].startsWith("ratio"));
  const shown = "every document shown";
  const confirmed = "every document confirmed";
  target(
    "[reload with persistence: every one of 100 documents shown no later than without the cache](#persistence)",
    figure(reload.get(ratio, shown)).median <= 1 ? "met" : "missed",
    `every document shown: ${reload.get(cached, shown)} with the cache, ${reload.get(memory, shown)} without, × ${reload.get(ratio, shown)}; ` +
      `confirmed: ${reload.get(cached, confirmed)} and ${reload.get(memory, confirmed)}, × ${reload.get(ratio, confirmed)}; ` +
      `bytes received × ${reload.get(ratio, "received")}` +
      (figure(reload.get(ratio, shown)).median <= 1 ? "" : " (with the server on this machine a round trip costs less than reading the cache)"),
  );
}

// --- browser dispatch (dispatch.md) ---

{
  const dispatch = table("dispatch.md", "paths");
  const parts = dispatch.rows.map((r) => {
    const paths = Number(r[0].replace(/,/g, ""));
    const ratio = figure(dispatch.get(r, "livepath ÷ raw"));
    return { name: `${n0(paths)} path${paths === 1 ? "" : "s"}`, met: ratio.median >= 0.9, ratio, raw: dispatch.get(r, "raw WebSocket + JSON.parse, snapshots/s") };
  });
  target(
    "[dispatch ≥ 0.9 × a bare WebSocket, 1 path and 1,000 paths](#browser-dispatch-throughput)",
    verdict(parts),
    `livepath ÷ bare WebSocket ${parts.map((p) => `${p.ratio.text} at ${p.name}`).join(", ")}; ` +
      `the bare WebSocket at ${parts.map((p) => p.raw).join(" and ")} snapshots/s`,
  );
}

// --- end-to-end latency (latency.md) ---

{
  const latency = table("latency.md", "writes/s");
  const at = (client) => latency.find((r) => r[0] === "1,000" && r[1] === client);
  const lp = at("livepath");
  const raw = at("raw WebSocket (baseline)");
  const p50 = figure(latency.get(lp, "p50 ms"));
  const p99 = figure(latency.get(lp, "p99 ms"));
  target(
    "[end-to-end at 1,000 writes/s: p50 ≤ 1 ms, p99 ≤ 5 ms](#end-to-end-latency)",
    verdict([
      { name: "p50", met: p50.median <= 1 },
      { name: "p99", met: p99.median <= 5 },
    ]),
    `livepath p50 ${p50.text} ms, p99 ${p99.text} ms; the bare WebSocket p50 ${latency.get(raw, "p50 ms")} ms, p99 ${latency.get(raw, "p99 ms")} ms`,
  );
}

// --- server fan-out and memory (fanout.json) ---

const fanout = JSON.parse(read("fanout.json"));
{
  const hot = (server, n) => fanout.filter((r) => r.scenario === "hot" && r.server === server && r.connections === n);
  const sizes = [...new Set(fanout.filter((r) => r.scenario === "hot").map((r) => r.connections))].sort((a, b) => a - b);
  const at10k = hot("livepath", 10000);
  const deliveries = (server, n) => cell(hot(server, n), "deliveries_per_second");
  const smallest = sizes[0];
  target(
    "[10,000 subscribers of one path at ≥ 300,000 deliveries/s](#server-fan-out)",
    at10k.length === 0 ? "not measured" : median(values(at10k, "deliveries_per_second")) >= 300000 ? "met" : "missed",
    at10k.length === 0
      ? `no run at 10,000 subscribers; livepath at ${n0(sizes.at(-1))}: ${deliveries("livepath", sizes.at(-1))} deliveries/s`
      : `livepath ${deliveries("livepath", 10000)} deliveries/s, the broadcast baseline ${deliveries("baseline", 10000)}` +
          (smallest < 10000 ? `; livepath at ${n0(smallest)} subscribers: ${deliveries("livepath", smallest)}` : ""),
  );
}
{
  const idle = (server) => {
    const runs = fanout.filter((r) => r.scenario === "idle" && r.server === server);
    return [...new Set(runs.map((r) => r.connections))]
      .sort((a, b) => a - b)
      .map((n) => {
        const those = runs.filter((r) => r.connections === n);
        return { n, kib: median(values(those, "rss_per_connection_kib")), text: cell(those, "rss_per_connection_kib", 1) };
      });
  };
  const lp = idle("livepath");
  const base = idle("baseline");
  const limit = 16000 / 1024; // 16 KB in KiB, the unit of the fan-out tables
  const largest = lp.at(-1);
  const each = lp.every((s) => s.kib <= limit);
  target(
    "[50,000 idle connections at ≤ 16 KB (15.6 KiB) each](#server-fan-out)",
    lp.length === 0 ? "not measured" : !each ? "missed" : largest.n >= 50000 ? "met" : `met per connection; ${n0(50000)} not opened`,
    lp.length === 0
      ? "no idle run"
      : `KiB per connection: ${lp.map((s) => `${s.text} at ${n0(s.n)}`).join(", ")}` +
          (base.length ? ` (the broadcast baseline ${base.at(-1).text} at ${n0(base.at(-1).n)})` : "") +
          (largest.n < 50000 ? `; ${n0(largest.n)} is the most the process's open-file limit allows here` : ""),
  );
}

// --- leaks (leaks.md, leaks-persistence.md) ---

{
  // The JS heap counts as not growing below this many bytes a cycle once V8's caches have filled (the
  // second half of the mounts) and over the reconnects: a closure or snapshot kept per cycle is hundreds.
  const HEAP_BYTES_PER_CYCLE = 100;
  const COUNTS = ["listeners", "subscriptions", "pending writes", "server subscriptions"];
  const check = (file, name) => {
    const leaks = table(file, "when");
    if (leaks.rows.length !== 4) throw new Error(`targets: target/bench/${file} should have 4 rows`);
    const [warm, half, full, reconnected] = leaks.rows;
    const count = (row) => figure(row[0]).median; // "after 5,000 cycles" → 5000
    const bytes = (row, column) => figure(leaks.get(row, column)).median * 1024;
    const perCycle = (a, b, cycles) => (bytes(b, "JS heap") - bytes(a, "JS heap")) / cycles;
    const heap = [
      perCycle(warm, half, count(half) - count(warm)),
      perCycle(half, full, count(full) - count(half)),
      perCycle(full, reconnected, count(reconnected)),
    ];
    const grown = COUNTS.filter((c) => [full, reconnected].some((r) => leaks.get(r, c) !== leaks.get(warm, c)));
    const wasm = [full, reconnected].every((r) => leaks.get(r, "wasm memory") === leaks.get(warm, "wasm memory"));
    const cache = "cache (documents, bytes)";
    const cacheSame = leaks.get(full, cache) === leaks.get(warm, cache);
    const open = leaks.get(reconnected, "socket") === "open";
    const met = grown.length === 0 && wasm && cacheSame && open && heap[1] < HEAP_BYTES_PER_CYCLE && heap[2] < HEAP_BYTES_PER_CYCLE;
    const b = (x) => `${x >= 0 ? "+" : "−"}${n0(Math.abs(x))} B`;
    const figures =
      `${name[0].toUpperCase()}${name.slice(1)}: ` +
      (grown.length === 0
        ? `${COUNTS.slice(0, -1).join(", ")} and ${COUNTS.at(-1)} ${COUNTS.every((c) => leaks.get(warm, c) === "0") ? "back to 0" : "as after warm-up"}`
        : grown.map((c) => `${c} ${leaks.get(warm, c)} after warm-up, ${leaks.get(full, c)} after the cycles, ${leaks.get(reconnected, c)} after the reconnects`).join("; ")) +
      (wasm
        ? `; wasm memory ${leaks.get(warm, "wasm memory")} throughout`
        : `; wasm memory ${leaks.get(warm, "wasm memory")} after warm-up, ${leaks.get(full, "wasm memory")} after the cycles, ${leaks.get(reconnected, "wasm memory")} after the reconnects`) +
      (leaks.get(warm, cache) === "0, 0 B" && cacheSame
        ? ""
        : cacheSame
          ? `; cache (documents, bytes) ${leaks.get(warm, cache)} after warm-up and after the last cycle`
          : `; cache (documents, bytes) ${leaks.get(warm, cache)} after warm-up, ${leaks.get(full, cache)} after the last cycle`) +
      (open ? "" : `; socket ${leaks.get(reconnected, "socket")} after the reconnects`) +
      `; JS heap ${b(heap[0])} a cycle over cycles ${n0(count(warm))}–${n0(count(half))}, ${b(heap[1])} over ${n0(count(half))}–${n0(count(full))}, ${b(heap[2])} a reconnect`;
    return { name, met, figures };
  };
  const parts = [check("leaks.md", "in memory"), check("leaks-persistence.md", "with persistence")];
  target(
    `[no growth over 10,000 mounts and 1,000 reconnects](#leaks) (counts and wasm memory as after warm-up; JS heap under ${HEAP_BYTES_PER_CYCLE} B a cycle once warm)`,
    verdict(parts),
    parts.map((p) => p.figures).join(". "),
  );
}

// --- writes (commits.json) ---

const commits = JSON.parse(read("commits.json"));
const shortName = (store) => (store === "sqlite" ? "SQLite" : "PostgreSQL");
const storeName = (store) => {
  const nodes = commits.find((r) => r.store === store)?.nodes ?? 1;
  return `${shortName(store)}, ${nodes === 1 ? "one node" : nodes === 3 ? "three nodes" : `${nodes} nodes`}`;
};
const runsOf = (store, mode, test = () => true) => commits.filter((r) => r.store === store && r.mode === mode && test(r));
const exact = (rs) => rs.every((r) => r.lost_updates === 0);
/** "; N refused" when commits of `rs` were answered with an error (other than a failed condition). */
const refused = (rs) => {
  const n = rs.reduce((sum, r) => sum + (r.failures ?? 0), 0);
  return n ? `; ${n0(n)} commits refused` : "";
};
{
  const parts = [
    ["sqlite", 10000],
    ["postgres", 5000],
  ].map(([store, floor]) => {
    const inc = runsOf(store, "Increment");
    const rmw = runsOf(store, "ReadModifyWrite");
    const name = shortName(store);
    if (inc.length === 0) return { name, met: null, figures: `${storeName(store)}: not measured` };
    const rate = median(values(inc, "acks_per_second"));
    const lost = rmw.map((r) => ({ share: (100 * r.lost_updates) / r.acks }));
    const baseline = rmw.length
      ? ` (read, then set the value + 1: ${cell(rmw, "acks_per_second")} writes/s, ${cell(lost, "share")} % of its updates lost; increments at ${fmt(rate / median(values(rmw, "acks_per_second")), 1)} × its rate)`
      : " (no read-modify-write run)";
    return {
      name,
      met: rate >= floor && exact(inc),
      figures: `${storeName(store)}: ${cell(inc, "acks_per_second")} increments/s, final value ${exact(inc) ? "= acks" : `short of the acks by ${cell(inc, "lost_updates")}`}${refused(inc)}${baseline}`,
    };
  });
  target(
    "[one hot counter, final value exact: ≥ 10,000 increments/s on one SQLite node (10 connections pipelining), ≥ 5,000/s on three PostgreSQL nodes](#writes)",
    verdict(parts),
    parts.map((p) => p.figures).join("; "),
  );
}
{
  const all = commits.filter((r) => r.mode === "Transaction");
  const stores = [...new Set(all.map((r) => r.store))];
  const lost = all.filter((r) => r.lost_updates !== 0);
  const parts = [{ name: "no lost update", met: all.length ? lost.length === 0 : null }];
  for (const clients of [10, 100]) {
    const rs = runsOf("sqlite", "Transaction", (r) => r.connections === clients);
    parts.push({ name: `200 commits/s from ${clients} clients`, met: rs.length ? median(values(rs, "acks_per_second")) >= 200 : null });
  }
  const figures = stores.map((store) => {
    const per = [10, 100]
      .map((clients) => [clients, runsOf(store, "Transaction", (r) => r.connections === clients)])
      .filter(([, rs]) => rs.length)
      .map(([clients, rs]) => `${clients} clients ${cell(rs, "acks_per_second")} commits/s, ${cell(rs, "retries_per_commit", 2)} retries per commit, p99 ${cell(rs, "p99_ms", 1)} ms${refused(rs)}`);
    return `${storeName(store)}: ${per.join("; ")}`;
  });
  target(
    "[transactions on one document from 10 and 100 clients: no lost update, ≥ 200 commits/s on SQLite](#writes)",
    verdict(parts),
    [all.length === 0 ? "no transaction run" : lost.length ? `updates lost in ${lost.length} of ${all.length} runs` : "no lost update in any run", ...figures].join(". "),
  );
}
{
  const stores = [...new Set(commits.filter((r) => r.mode === "Batch").map((r) => r.store))];
  const parts = [];
  const figures = stores.map((store) => {
    const single = runsOf(store, "Batch", (r) => r.batch === 1);
    const base = median(values(single, "documents_per_second"));
    const sizes = [...new Set(runsOf(store, "Batch").map((r) => r.batch))].filter((b) => b !== 1).sort((a, b) => a - b);
    const each = sizes.map((batch) => {
      const rs = runsOf(store, "Batch", (r) => r.batch === batch);
      const ratio = median(values(rs, "documents_per_second")) / base;
      parts.push({ name: `${shortName(store)}'s commits of ${batch}`, met: single.length ? ratio >= 0.8 : null });
      return `commits of ${batch}: ${cell(rs, "documents_per_second")}${single.length ? `, × ${fmt(ratio, 2)}` : ""}${refused(rs)}`;
    });
    return `${storeName(store)}: single writes ${cell(single, "documents_per_second")} documents/s; ${each.join("; ")}`;
  });
  target(
    "[commits of 1, 10 and 100 writes: documents written per second ≥ 0.8 × single writes'](#writes)",
    verdict(parts),
    figures.join(". "),
  );
}

console.log("| target | this run | the figures that decide it: median (min–max) over the runs, details in the sections below |");
console.log("|---|---|---|");
console.log(rows.join("\n"));
