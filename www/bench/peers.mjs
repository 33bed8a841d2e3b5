// Bundle sizes of a minimal "subscribe to one document and log it" app per real-time library,
// all built by the same bundler with the same settings. Prints a Markdown table (or JSON with --json)
// to stdout; progress goes to stderr.
//
//   node bench/peers.mjs [--json]      (from www/)

import { build, version as esbuildVersion } from "esbuild";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const www = fileURLToPath(new URL("..", import.meta.url));
const entries = join(www, "bench", "peers");

const APPS = [
  { app: "livepath", entry: "livepath.js", pkg: "livepath", what: "connect + onSnapshot" },
  { app: "firebase Firestore", entry: "firebase-firestore.js", pkg: "firebase", what: "initializeApp + getFirestore + doc + onSnapshot" },
  { app: "firebase Realtime Database", entry: "firebase-database.js", pkg: "firebase", what: "initializeApp + getDatabase + ref + onValue" },
  { app: "@supabase/realtime-js", entry: "supabase-realtime.js", pkg: "@supabase/realtime-js", what: "RealtimeClient + channel + on(postgres_changes) + subscribe" },
  { app: "centrifuge", entry: "centrifuge.js", pkg: "centrifuge", what: "Centrifuge + newSubscription + on(publication) + subscribe + connect" },
  { app: "socket.io-client", entry: "socket-io.js", pkg: "socket.io-client", what: "io + on(snapshot) + emit(subscribe)" },
];

const OPTIONS = { bundle: true, minify: true, format: "esm", platform: "browser", target: "es2022" };

const json = process.argv.includes("--json");

function packageVersion(name) {
  return JSON.parse(readFileSync(join(www, "node_modules", name, "package.json"), "utf8")).version;
}

function sizes(bytes) {
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, {
      params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
    }).length,
  };
}

// esbuild leaves `new URL("x.wasm", import.meta.url)` untouched, so the .wasm is not in the bundle:
// find it next to whichever bundled module refers to it. It is fetched at run time, so it counts too.
function wasmFiles(metafile) {
  const files = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const path = resolve(www, input);
    if (!/\.m?js$/.test(path)) continue;
    for (const [, name] of readFileSync(path, "utf8").matchAll(/new URL\(\s*["']([^"']+\.wasm)["']\s*,\s*import\.meta\.url\s*\)/g)) {
      files.add(resolve(dirname(path), name));
    }
  }
  return [...files];
}

async function measure({ app, entry, what }) {
  console.error(`building ${app}…`);
  const result = await build({
    ...OPTIONS,
    entryPoints: [join(entries, entry)],
    absWorkingDir: www,
    write: false,
    outdir: "out",
    metafile: true,
    logLevel: "warning",
  });
  const [js, ...extra] = result.outputFiles;
  if (extra.length || !js.path.endsWith(".js")) {
    throw new Error(`${app}: expected one .js output, got ${result.outputFiles.map((f) => f.path).join(", ")}`);
  }
  const wasmPaths = wasmFiles(result.metafile);
  const wasm = wasmPaths.length ? sizes(Buffer.concat(wasmPaths.map((p) => readFileSync(p)))) : null;
  const jsSizes = sizes(js.contents);
  return { app, what, js: jsSizes, wasm, totalGzip: jsSizes.gzip + (wasm?.gzip ?? 0) };
}

if (!existsSync(join(www, "node_modules", "livepath", "livepath_bg.wasm"))) {
  console.error("node_modules/livepath has no .wasm: run scripts/build-pkg from the repository root first");
  process.exit(1);
}

const rows = [];
for (const app of APPS) rows.push(await measure(app));
rows.sort((a, b) => a.totalGzip - b.totalGzip);

if (json) {
  console.log(JSON.stringify(rows.map(({ app, js, wasm, totalGzip }) => ({ app, js, wasm, totalGzip })), null, 2));
} else {
  const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
  const peers = [...new Set(APPS.map((a) => a.pkg))].map((name) => `${name} ${packageVersion(name)}`);
  const flags = Object.entries(OPTIONS).map(([k, v]) => (v === true ? `--${k}` : `--${k}=${v}`));
  console.log(`esbuild ${esbuildVersion} (${flags.join(" ")}); gzip -9, brotli q11; ${peers.join(", ")}`);
  console.log("");
  console.log("| app | what it does | JS raw | JS gzip | JS brotli | wasm gzip | total gzip |");
  console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    const wasm = r.wasm ? kb(r.wasm.gzip) : "—";
    console.log(`| ${r.app} | ${r.what} | ${kb(r.js.raw)} | ${kb(r.js.gzip)} | ${kb(r.js.brotli)} | ${wasm} | ${kb(r.totalGzip)} |`);
  }
}
