// Prints a Markdown table of the sizes (raw, gzip -9, brotli -11) of each package directory's .wasm and
// JS glue: every .js file its entry point (package.json's `main`, else `module`) imports, snippets/ included, so the
// framework adapters (`livepath/react` and the others), which an app without them never loads, are not
// counted. Usage: node scripts/sizes.mjs LABEL=DIR [LABEL=DIR ...]
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const kb = (n) => (n / 1000).toFixed(1); // KB = 1,000 bytes, as in the peer table
const measure = (file) => {
  const bytes = readFileSync(file);
  const brotli = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  return [bytes.length, gzipSync(bytes, { level: 9 }).length, brotli];
};

// The entry point and every module it imports by relative path, transitively (paths relative to `dir`).
function entryModules(dir) {
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(join(dir, file), "utf8");
    for (const [, spec] of code.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+\.js)["']/g)) {
      visit(normalize(join(dirname(file), spec)));
    }
  };
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  visit(normalize(manifest.main ?? manifest.module));
  return seen;
}

console.log("| build | wasm raw | wasm gzip | wasm brotli | JS glue raw | JS glue gzip | JS glue brotli | total gzip |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
for (const arg of process.argv.slice(2)) {
  const [label, dir] = arg.split("=");
  const files = readdirSync(dir, { recursive: true }); // snippets/, in a build that has not inlined them (shrink.mjs does)
  const wasm = measure(join(dir, files.find((f) => f.endsWith("_bg.wasm"))));
  const glue = [...entryModules(dir)]
    .map((f) => measure(join(dir, f)))
    .reduce((a, b) => a.map((x, i) => x + b[i]), [0, 0, 0]);
  console.log(`| ${label} | ${[...wasm, ...glue].map(kb).join(" KB | ")} KB | ${kb(wasm[1] + glue[1])} KB |`);
}
