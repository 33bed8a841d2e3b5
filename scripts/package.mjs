// Turns wasm-pack's `--target web` output in pkg/ into a package that needs no setup: its entry point
// loads the .wasm with top-level await and re-exports the API, so `import { connect } from "livepath"`
// just works in Vite and other ES-module bundlers. `livepath/manual` is the raw module, whose default
// export `init()` must be awaited first (for apps that load the .wasm from a custom URL).
//
// The glue's imports get short names (scripts/rename-imports.mjs) and its comments go: the same
// documentation is in the .d.ts files, where editors read it.
//
// The entry point exports the API by name and leaves out wasm-bindgen's loader types (`InitOutput` and
// friends, typed with `any`); the build fails if any `any` appears in the API's declarations.
//
// Then the framework adapters in js/ (`livepath/react`, `livepath/vue`, `livepath/svelte`, and the state
// they share) are compiled into pkg/ with www's TypeScript. They import the core by relative path
// (`./index.js`), so a bundler resolves one copy of the client; React, Vue and Svelte are optional peer
// dependencies, and the core entry point imports none of them. The same `any` guard covers their
// declarations.
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { renameImports } from "./rename-imports.mjs";

const dir = new URL("../pkg/", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL("package.json", dir), "utf8"));
// wasm-pack's module name ("livepath"), from its .wasm, so running this twice changes nothing.
const name = manifest.files.find((f) => f.endsWith("_bg.wasm")).replace(/_bg\.wasm$/, "");
const declarations = readFileSync(new URL(`${name}.d.ts`, dir), "utf8");

const glueFile = new URL(`${name}.js`, dir);
const renamed = renameImports(fileURLToPath(new URL(`${name}_bg.wasm`, dir)), fileURLToPath(glueFile));
writeFileSync(glueFile, readFileSync(glueFile, "utf8").replace(/^\s*\/\*\*[\s\S]*?\*\/\n/gm, ""));

const loader = new Set(["InitInput", "InitOutput", "SyncInitInput", "initSync"]);
const values = [];
const types = [];
for (const [, kind, id] of declarations.matchAll(/^export (function|class|type|interface) (\w+)/gm)) {
  if (loader.has(id)) continue;
  (kind === "function" || kind === "class" ? values : types).push(id);
}
// Fails the build if declarations (comments aside) use `any`.
const noAny = (file, text) => {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  if (/\bany\b/.test(code)) {
    throw new Error(`${file}: the API's declarations use \`any\`:\n${code.split("\n").filter((l) => /\bany\b/.test(l)).join("\n")}`);
  }
};
noAny(`${name}.d.ts`, declarations.slice(0, declarations.indexOf("export type InitInput")));

writeFileSync(
  new URL("index.js", dir),
  `import load from "./${name}.js";\n\nawait load();\n\nexport { ${values.join(", ")} } from "./${name}.js";\n`,
);
writeFileSync(
  new URL("index.d.ts", dir),
  `export { ${values.join(", ")} } from "./${name}.js";\nexport type { ${types.join(", ")} } from "./${name}.js";\n`,
);

// The adapters: js/*.ts → pkg/*.js and *.d.ts. tsc and the frameworks' types come from www's node_modules
// (scripts/setup installs them), which js/node_modules links to.
const js = new URL("../js/", import.meta.url);
const www = new URL("../www/node_modules/", import.meta.url);
if (!existsSync(new URL("typescript/bin/tsc", www))) throw new Error("www/node_modules is missing: run scripts/setup");
if (!lstatSync(new URL("node_modules", js), { throwIfNoEntry: false })) symlinkSync("../www/node_modules", new URL("node_modules", js));
execFileSync(process.execPath, [fileURLToPath(new URL("typescript/bin/tsc", www)), "-p", fileURLToPath(js)], { stdio: "inherit" });
const adapters = ["react", "vue", "svelte"];
const compiled = ["state", ...adapters].flatMap((m) => [`${m}.js`, `${m}.d.ts`]);
for (const file of compiled.filter((f) => f.endsWith(".d.ts"))) noAny(file, readFileSync(new URL(file, dir), "utf8"));

manifest.main = "index.js";
manifest.module = "index.js";
manifest.types = "index.d.ts";
manifest.exports = {
  ".": { types: "./index.d.ts", default: "./index.js" },
  "./manual": { types: `./${name}.d.ts`, default: `./${name}.js` },
  ...Object.fromEntries(adapters.map((a) => [`./${a}`, { types: `./${a}.d.ts`, default: `./${a}.js` }])),
};
manifest.files = [...new Set([...(manifest.files ?? []), "index.js", "index.d.ts", ...compiled])];
// useSyncExternalStore: React 18; toValue and MaybeRefOrGetter: Vue 3.3; svelte/store: every Svelte.
manifest.peerDependencies = { react: ">=18", vue: ">=3.3", svelte: ">=3" };
manifest.peerDependenciesMeta = Object.fromEntries(adapters.map((a) => [a, { optional: true }]));
manifest.sideEffects = ["./index.js", "./snippets/**"];
writeFileSync(new URL("package.json", dir), JSON.stringify(manifest, null, 2) + "\n");
console.log(
  `pkg/: index.js loads ${name}_bg.wasm on import and exports ${values.join(", ")}; ` +
    `${adapters.map((a) => `livepath/${a}`).join(", ")}; ${renamed} imports renamed`,
);
