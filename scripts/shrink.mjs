// What every build of the module goes through before it is measured or shipped, in wasm-pack's output
// directory: the glue's imports get short names (scripts/rename-imports.mjs), and the glue and the
// inline JS (snippets/) are minified with esbuild, as an app's bundler would do anyway, so the size is
// what an app pays. The readable JS is in the repository (src/browser/snippet.rs and the others with
// `inline_js`); the documentation is in the .d.ts files, where editors read it.
//
// Usage: shrink(dirUrl, name) from scripts/package.mjs, or `node scripts/shrink.mjs DIR` (scripts/bench-size,
// for the variants it measures). Returns (prints) how many imports were renamed.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL, fileURLToPath } from "node:url";

import { renameImports } from "./rename-imports.mjs";

const { transformSync } = await import(new URL("../www/node_modules/esbuild/lib/main.js", import.meta.url));

/** Shrinks the module `name` (`name.js`, `name_bg.wasm`) in the directory `dir` (a URL ending in /). */
export function shrink(dir, name) {
  const glue = new URL(`${name}.js`, dir);
  const renamed = renameImports(fileURLToPath(new URL(`${name}_bg.wasm`, dir)), fileURLToPath(glue));
  const minify = (url) => {
    const { code } = transformSync(readFileSync(url, "utf8"), { minify: true, format: "esm", legalComments: "none" });
    writeFileSync(url, code);
  };
  minify(glue);
  for (const file of readdirSync(new URL("snippets/", dir), { recursive: true }).filter((f) => f.endsWith(".js"))) {
    minify(new URL(`snippets/${file}`, dir));
  }
  return renamed;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const dir = pathToFileURL(`${process.argv[2]}/`);
  const name = readdirSync(dir).find((f) => f.endsWith("_bg.wasm")).replace(/_bg\.wasm$/, "");
  console.log(`${process.argv[2]}: ${shrink(dir, name)} imports renamed`);
}
