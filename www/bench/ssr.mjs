// What livepath costs a server that renders React and a Node process that imports it, each against a
// baseline measured in the same run. Prints a Markdown table.
// - Server rendering: `renderToString` of a page of N components that each call `useSnapshot` (under a
//   `LivepathProvider`) against the same page whose components hold the same state with `useState`.
// - Import in Node: a fresh `node` that imports `livepath` (its `node` entry point compiles the .wasm)
//   against one that imports `ws` (a bare `node` start is shown beside them).
// Usage: node --preserve-symlinks bench/ssr.mjs [components] [runs]   (from www/, after scripts/build-pkg;
// www has the package as a link to pkg/, whose adapters must find www's React through the link)
import { execFileSync } from "node:child_process";
import { createElement, useState } from "react";
import { renderToString } from "react-dom/server";
import { connect } from "livepath";
import { LivepathProvider, useSnapshot } from "livepath/react";

const components = Number(process.argv[2] ?? 200);
const runs = Number(process.argv[3] ?? 15);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;

/** Milliseconds per call of `render`, over enough calls to take about 200 ms, after a warm-up. */
function perRender(render) {
  for (let i = 0; i < 20; i++) render();
  let calls = 0;
  const start = performance.now();
  while (performance.now() - start < 200) {
    render();
    calls++;
  }
  return (performance.now() - start) / calls;
}

const client = connect({ url: "ws://127.0.0.1:9/v1/ws" }); // never opened: nothing connects on a server
const Live = ({ i }) => {
  const { status } = useSnapshot(`bench/d${i}`);
  return createElement("li", null, status);
};
const Plain = () => {
  const [state] = useState({ status: "loading" });
  return createElement("li", null, state.status);
};
const page = (item) => () =>
  renderToString(
    createElement(LivepathProvider, { client }, createElement("ul", null, Array.from({ length: components }, (_, i) => createElement(item, { key: i, i })))),
  );
const livepathPage = page(Live);
const plainPage = page(Plain);
if (livepathPage() !== plainPage()) throw new Error("the two pages must render the same HTML");

const ssr = { livepath: [], baseline: [] };
for (let r = 0; r < runs; r++) {
  ssr.livepath.push(perRender(livepathPage));
  ssr.baseline.push(perRender(plainPage));
}
if (client.stats().socket !== "none") throw new Error("server rendering opened a socket");

/** Milliseconds a fresh `node -e code` takes, from spawn to exit. */
function nodeMs(code) {
  const start = performance.now();
  execFileSync(process.execPath, ["--input-type=module", "-e", code], { stdio: "ignore" });
  return performance.now() - start;
}
const imports = { bare: [], livepath: [], ws: [] };
for (let r = 0; r < runs; r++) {
  imports.bare.push(nodeMs("0"));
  imports.livepath.push(nodeMs('await import("livepath")'));
  imports.ws.push(nodeMs('await import("ws")'));
}

console.log(`${runs} runs, median (min–max); server rendering: a page of ${components} components; Node ${process.version}.\n`);
console.log("| measure | livepath | baseline | ratio |");
console.log("|---|---:|---:|---:|");
console.log(
  `| \`renderToString\`, ms per page | ${spread(ssr.livepath)} | ${spread(ssr.baseline)} (\`useState\`) | ${(median(ssr.livepath) / median(ssr.baseline)).toFixed(2)} |`,
);
console.log(
  `| a fresh \`node\` that imports it, ms (a bare one: ${spread(imports.bare)}) | ${spread(imports.livepath)} | ${spread(imports.ws)} (\`ws\`) | ${(median(imports.livepath) / median(imports.ws)).toFixed(2)} |`,
);
