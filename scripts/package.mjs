// Turns wasm-pack's `--target web` output in pkg/ into a package that needs no setup: its entry point
// loads the .wasm with top-level await and re-exports the API, so `import { connect } from "livepath"`
// just works in Vite and other ES-module bundlers. `livepath/manual` is the raw module, whose default
// export `init()` must be awaited first (for apps that load the .wasm from a custom URL).
import { readFileSync, writeFileSync } from "node:fs";

const dir = new URL("../pkg/", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL("package.json", dir), "utf8"));
const name = manifest.main.replace(/\.js$/, ""); // "livepath"

writeFileSync(
  new URL("index.js", dir),
  `import init from "./${name}.js";\n\nawait init();\n\nexport * from "./${name}.js";\n`,
);
writeFileSync(new URL("index.d.ts", dir), `export * from "./${name}.js";\n`);

manifest.main = "index.js";
manifest.module = "index.js";
manifest.types = "index.d.ts";
manifest.exports = {
  ".": { types: "./index.d.ts", default: "./index.js" },
  "./manual": { types: `./${name}.d.ts`, default: `./${name}.js` },
};
manifest.files = [...new Set([...(manifest.files ?? []), "index.js", "index.d.ts"])];
manifest.sideEffects = ["./index.js"];
writeFileSync(new URL("package.json", dir), JSON.stringify(manifest, null, 2) + "\n");
console.log(`pkg/: entry point index.js (loads ${name}_bg.wasm on import)`);
