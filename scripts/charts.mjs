// Draws the benchmark charts as SVG from the figures the benchmarks left in target/bench/:
//   BENCHMARKS-latency.svg  write → listener latency distributions (CDF), browser and server fan-out
//   BENCHMARKS-fanout.svg   deliveries/s against subscribers, and server memory against connections
// Usage: node scripts/charts.mjs   (after www/bench/latency.mjs and scripts/fanout.mjs)
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const load = (name) => {
  const file = join(root, "target/bench", name);
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : null;
};

const COLORS = { livepath: "#2563eb", baseline: "#d97706", raw: "#d97706" };
const W = 460;
const H = 300;
const M = { left: 62, right: 16, top: 34, bottom: 46 };
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
const num = (x) => (x >= 1000 ? `${x / 1000}k` : String(x));

// Tick values: powers of ten for a log axis, about five round steps for a linear one.
function ticks(min, max, log) {
  if (log) {
    const out = [];
    for (let p = Math.floor(Math.log10(min)); p <= Math.ceil(Math.log10(max)); p++) out.push(10 ** p);
    return out;
  }
  const raw = (max - min) / 5;
  const step = [1, 2, 2.5, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(raw))).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-9; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

// One panel: axes, grid, a line (and dots) per series, a legend. `series`: [{ name, color, points, dash }].
function panel({ title, xLabel, yLabel, series, xLog = false, yMin = 0, yMax, xMin, xMax }) {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">${esc(title)}: no data</text>`;
  const xs = all.map((p) => p[0]);
  const x0 = xMin ?? (xLog ? 10 ** Math.floor(Math.log10(Math.min(...xs))) : Math.min(0, ...xs));
  const x1 = xMax ?? (xLog ? 10 ** Math.ceil(Math.log10(Math.max(...xs))) : Math.max(...xs));
  const y1 = yMax ?? Math.max(...all.map((p) => p[1])) * 1.1;
  const px = (x) => M.left + ((xLog ? Math.log10(x) - Math.log10(x0) : x - x0) / (xLog ? Math.log10(x1) - Math.log10(x0) : x1 - x0)) * (W - M.left - M.right);
  const py = (y) => H - M.bottom - ((y - yMin) / (y1 - yMin)) * (H - M.top - M.bottom);
  const out = [`<text x="${M.left}" y="20" font-weight="600">${esc(title)}</text>`];
  for (const t of ticks(x0, x1, xLog)) {
    out.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${px(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${num(t)}</text>`);
  }
  for (const t of ticks(yMin, y1, false)) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${M.left - 6}" y="${py(t) + 4}" text-anchor="end">${num(t)}</text>`);
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#9ca3af"/>`);
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 8}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const pts = s.points.filter(([x]) => x >= x0 && x <= x1).map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`);
    const dash = s.dash ? ` stroke-dasharray="5 3"` : "";
    out.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    if (s.dots) for (const p of pts) out.push(`<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="3" fill="${s.color}"/>`);
    const ly = M.top + 14 + i * 16;
    out.push(`<line x1="${M.left + 10}" x2="${M.left + 30}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${M.left + 36}" y="${ly}">${esc(s.name)}</text>`);
  });
  return out.join("\n");
}

function svg(panels, caption) {
  const width = W * panels.length;
  const body = panels.map((p, i) => `<g transform="translate(${i * W} 0)">\n${p}\n</g>`).join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 22}" viewBox="0 0 ${width} ${H + 22}" font-family="system-ui, sans-serif" font-size="12" fill="#111827">
<rect width="100%" height="100%" fill="#ffffff"/>
${body}
<text x="8" y="${H + 16}" fill="#6b7280" font-size="11">${esc(caption)}</text>
</svg>
`;
}

// The empirical CDF of samples (ms): one point per distinct value is plenty for a few thousand.
const cdf = (samples) => {
  const s = [...samples].sort((a, b) => a - b);
  return s.map((x, i) => [Math.max(x, 0.05), (i + 1) / s.length]).filter((_, i, a) => i === a.length - 1 || a[i + 1][0] !== a[i][0]);
};

const written = [];
const latency = load("latency.json");
const fanout = load("fanout.json");

if (latency || fanout) {
  const panels = [];
  if (latency) {
    const series = [];
    for (const rate of [1000, 5000]) {
      for (const mode of ["livepath", "raw"]) {
        const samples = latency.filter((r) => r.mode === mode && r.rate === rate).flatMap((r) => r.samples);
        if (samples.length === 0) continue;
        const name = `${mode === "raw" ? "bare WebSocket" : "livepath"}, ${rate.toLocaleString("en")} writes/s`;
        series.push({ name, color: COLORS[mode], dash: rate !== 1000, points: cdf(samples) });
      }
    }
    panels.push(panel({ title: "Browser: write → another client's listener", xLabel: "latency, ms (log)", yLabel: "fraction of snapshots", series, xLog: true, yMax: 1, xMin: 0.1 }));
  }
  if (fanout) {
    const hot = fanout.filter((r) => r.scenario === "hot" && r.cdf);
    const biggest = Math.max(...hot.map((r) => r.connections));
    const series = ["livepath", "baseline"].map((server) => {
      const run = hot.find((r) => r.server === server && r.connections === biggest);
      return { name: `${server === "baseline" ? "broadcast baseline" : "livepath-server"}`, color: COLORS[server], points: run ? run.cdf.map(([ms, f]) => [Math.max(ms, 0.05), f]) : [] };
    });
    panels.push(panel({ title: `Server fan-out: ${biggest.toLocaleString("en")} subscribers of one document`, xLabel: "write → delivery, ms (log)", yLabel: "fraction of deliveries", series, xLog: true, yMax: 1 }));
  }
  writeFileSync(join(root, "BENCHMARKS-latency.svg"), svg(panels, "Made by scripts/charts.mjs from the runs of make bench; details in BENCHMARKS.md."));
  written.push("BENCHMARKS-latency.svg");
}

if (fanout) {
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const line = (scenario, server, key, scale = 1) => {
    const rows = fanout.filter((r) => r.scenario === scenario && r.server === server && typeof r[key] === "number");
    const ns = [...new Set(rows.map((r) => r.connections))].sort((a, b) => a - b);
    return ns.map((n) => [n, median(rows.filter((r) => r.connections === n).map((r) => r[key])) * scale]);
  };
  const name = (server) => (server === "baseline" ? "broadcast baseline" : "livepath-server");
  const deliveries = ["livepath", "baseline"].map((s) => ({ name: name(s), color: COLORS[s], dots: true, points: line("hot", s, "deliveries_per_second", 1 / 1000) }));
  const offered = line("hot", "livepath", "offered_per_second", 1 / 1000);
  deliveries.push({ name: "offered", color: "#9ca3af", dash: true, points: offered });
  const memory = ["livepath", "baseline"].map((s) => ({ name: name(s), color: COLORS[s], dots: true, points: line("idle", s, "server_rss_kib", 1 / 1024) }));
  writeFileSync(join(root, "BENCHMARKS-fanout.svg"), svg([
    panel({ title: "Deliveries/s, one hot document", xLabel: "subscribers", yLabel: "thousand deliveries/s", series: deliveries, yMax: 400 }),
    panel({ title: "Server memory, idle connections", xLabel: "connections", yLabel: "resident memory, MiB", series: memory }),
  ], "Made by scripts/charts.mjs from scripts/fanout.mjs (medians); details in BENCHMARKS.md."));
  written.push("BENCHMARKS-fanout.svg");
}

console.error(written.length ? `wrote ${written.join(", ")}` : "no benchmark figures in target/bench/: nothing drawn");
