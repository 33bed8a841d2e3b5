// What every build of the module goes through before it is measured or shipped, in wasm-pack's output
// directory: the glue's imports get short names (scripts/rename-imports.mjs), and the glue and the
// inline JS (snippets/) become one minified module (esbuild), as an app's bundler would do anyway, so
// the size is what an app pays, and a page without a bundler loads one file instead of one per
// snippet. The readable JS is in the repository (src/browser/snippet.rs and the others with
// `inline_js`); the documentation is in the .d.ts files, where editors read it.
//
// Usage: shrink(dirUrl, name) from scripts/package.mjs, or `node scripts/shrink.mjs DIR` (scripts/bench-size,
// for the variants it measures). Returns (prints) how many imports were renamed.
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { pathToFileURL, fileURLToPath } from "node:url";

import { renameImports } from "./rename-imports.mjs";

const { buildSync } = await import(new URL("../www/node_modules/esbuild/lib/main.js", import.meta.url));

/** Shrinks the module `name` (`name.js`, `name_bg.wasm`) in the directory `dir` (a URL ending in /). */
export function shrink(dir, name) {
  const glue = fileURLToPath(new URL(`${name}.js`, dir));
  const renamed = renameImports(fileURLToPath(new URL(`${name}_bg.wasm`, dir)), glue);
  // The snippets are inlined: each name stays in its own scope, and what the glue does not import goes.
  const [{ text }] = buildSync({
    entryPoints: [glue],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "neutral",
    legalComments: "none",
    write: false,
  }).outputFiles;
  writeFileSync(glue, text);
  rmSync(new URL("snippets/", dir), { recursive: true, force: true });
  return renamed;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const dir = pathToFileURL(`${process.argv[2]}/`);
  const name = readdirSync(dir).find((f) => f.endsWith("_bg.wasm")).replace(/_bg\.wasm$/, "");
  console.log(`${process.argv[2]}: ${shrink(dir, name)} imports renamed`);
}
