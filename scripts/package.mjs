// Turns wasm-pack's `--target web` output in pkg/ into a package that needs no setup, with two entry
// points chosen by the `exports` conditions:
// - `index.js` (`browser`, `default`): fetches the .wasm beside it with top-level await and re-exports
//   the API, so `import { connect } from "livepath"` just works in Vite and other ES-module bundlers.
// - `node.js` (`node`: Node itself, and what server-side bundles such as Next.js's or Vite SSR's resolve):
//   Node cannot fetch a file, and a server bundler may move this file away from the .wasm, so the .wasm's
//   bytes are inlined in it (base64) and compiled synchronously on import: no file access, no top-level
//   await (so `require("livepath")` works where Node can require ES modules). Browser builds never see
//   it. The cost is on disk only: the tarball carries the module twice.
// `livepath/manual` is the raw module, whose default export `init()` must be awaited first (for apps
// that load the .wasm from a custom URL).
//
// The glue's imports get short names and the JS, snippets inlined, is one minified module (scripts/shrink.mjs).

// The entry point exports the API by name and leaves out wasm-bindgen's loader types (`InitOutput` and
// friends, typed with `any`); the build fails if any `any` appears in the API's declarations.
//
// Then the framework adapters in js/ (`livepath/react`, `livepath/vue`, `livepath/svelte`, and the state
// they share) are compiled into pkg/ with www's TypeScript. Their JS imports the core as `#livepath`, the
// package's own import map with the same conditions as its entry point, so Node and server bundles give
// them `node.js`, browsers `index.js`, and a bundler resolves one copy of the client either way. React,
// Vue and Svelte are optional peer dependencies, and the core entry points import none of them. The same
// `any` guard covers their declarations.
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { shrink } from "./shrink.mjs";

const dir = new URL("../pkg/", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL("package.json", dir), "utf8"));
// wasm-pack's module name ("livepath"), from its .wasm, so running this twice changes nothing.
const name = manifest.files.find((f) => f.endsWith("_bg.wasm")).replace(/_bg\.wasm$/, "");
const declarations = readFileSync(new URL(`${name}.d.ts`, dir), "utf8");

const renamed = shrink(dir, name);

const loader = new Set(["InitInput", "InitOutput", "SyncInitInput", "initSync"]);
const values = [];
const types = [];
for (const [, kind, id] of declarations.matchAll(/^export (function|class|type|interface) (\w+)/gm)) {
  if (loader.has(id)) continue;
  (kind === "function" || kind === "class" ? values : types).push(id);
}
// Fails the build if declarations (comments and string literal types aside) use `any`.
const noAny = (file, text) => {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "").replace(/"[^"\n]*"/g, '""');
  if (/\bany\b/.test(code)) {
    throw new Error(`${file}: the API's declarations use \`any\`:\n${code.split("\n").filter((l) => /\bany\b/.test(l)).join("\n")}`);
  }
};
noAny(`${name}.d.ts`, declarations.slice(0, declarations.indexOf("export type InitInput")));

writeFileSync(
  new URL("index.js", dir),
  `import load from "./${name}.js";\n\nawait load();\n\nexport { ${values.join(", ")} } from "./${name}.js";\n`,
);
const wasmBase64 = readFileSync(new URL(`${name}_bg.wasm`, dir)).toString("base64");
writeFileSync(
  new URL("node.js", dir),
  `// livepath for Node and server-side bundles: the .wasm is inlined (base64) and compiled on import.\n` +
    `import { initSync } from "./${name}.js";\n\n` +
    `export { ${values.join(", ")} } from "./${name}.js";\n\n` +
    `const wasm = "${wasmBase64}";\n\n` +
    `initSync({ module: Uint8Array.from(atob(wasm), (c) => c.charCodeAt(0)) });\n`,
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
// The adapters' value imports of the core go through the import map; their declarations keep
// `./index.js` (the same types either way, and readable by every `moduleResolution`).
for (const file of compiled.filter((f) => f.endsWith(".js"))) {
  const url = new URL(file, dir);
  const code = readFileSync(url, "utf8").replaceAll(' from "./index.js";', ' from "#livepath";');
  if (new RegExp(`["']\\./(index|node|${name})\\.js["']`).test(code)) throw new Error(`${file} imports the core by path, not as #livepath`);
  writeFileSync(url, code);
}

manifest.main = "index.js";
manifest.module = "index.js";
manifest.types = "index.d.ts";
// `browser` first: an environment with both conditions (an Electron renderer) is a browser, and the
// browser entry's asynchronous compile is the one browsers allow on the main thread.
const core = { browser: "./index.js", node: "./node.js", default: "./index.js" };
manifest.exports = {
  ".": { types: "./index.d.ts", ...core },
  "./manual": { types: `./${name}.d.ts`, default: `./${name}.js` },
  ...Object.fromEntries(adapters.map((a) => [`./${a}`, { types: `./${a}.d.ts`, default: `./${a}.js` }])),
};
manifest.imports = { "#livepath": core };
// The snippets are inlined into the glue (scripts/shrink.mjs).
manifest.files = [...new Set([...(manifest.files ?? []).filter((f) => f !== "snippets"), "index.js", "index.d.ts", "node.js", ...compiled])];
// useSyncExternalStore: React 18; toValue and MaybeRefOrGetter: Vue 3.3; svelte/store: every Svelte.
manifest.peerDependencies = { react: ">=18", vue: ">=3.3", svelte: ">=3" };
manifest.peerDependenciesMeta = Object.fromEntries(adapters.map((a) => [a, { optional: true }]));
manifest.sideEffects = ["./index.js", "./node.js"];
writeFileSync(new URL("package.json", dir), JSON.stringify(manifest, null, 2) + "\n");
console.log(
  `pkg/: index.js loads ${name}_bg.wasm on import (node.js: inlined) and exports ${values.join(", ")}; ` +
    `${adapters.map((a) => `livepath/${a}`).join(", ")}; ${renamed} imports renamed`,
);
