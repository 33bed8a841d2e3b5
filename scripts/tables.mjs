// The benchmarks' Markdown cells: a figure over several runs as "median (min–max)". Shared by
// scripts/fanout.mjs, scripts/cluster-bench.mjs and scripts/bench.

/** The median of `xs` (the mean of the middle two for an even count). */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** `x` with exactly `digits` decimals and thousands separators. */
export const fmt = (x, digits) => x.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The finite numbers among `rows[i][key]` (or `key(rows[i])` when `key` is a function). */
export const values = (rows, key) =>
  rows.map((r) => (typeof key === "function" ? key(r) : r[key])).filter((x) => typeof x === "number" && Number.isFinite(x));

/** "median (min–max)" of a figure over `rows`; the figure alone for one row, "–" for none. */
export const cell = (rows, key, digits = 0) => {
  const xs = values(rows, key);
  if (xs.length === 0) return "–";
  if (xs.length === 1) return fmt(xs[0], digits);
  return `${fmt(median(xs), digits)} (${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)})`;
};
