import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The livepath server the dev server proxies to (HTTP and the WebSocket, both under /v1).
const server = process.env.LIVEPATH_SERVER ?? "http://127.0.0.1:7070";

export default defineConfig({
  plugins: [react()],
  // `livepath` is a link to ../pkg, whose adapters (livepath/react, …) import their framework: resolve it
  // from here, as an app's node_modules/livepath would, and keep a single React.
  resolve: { dedupe: ["react", "react-dom", "vue", "svelte"] },
  // Scan every page up front, so the dev server never re-optimizes dependencies and reloads mid-test.
  optimizeDeps: { entries: ["index.html", "tests/pages/*.html"] },
  server: {
    proxy: { "/v1": { target: server, ws: true }, "/metrics": { target: server } },
    // Only because `file:../pkg` is a symlink outside this folder; an app installing livepath from
    // the npm registry needs no configuration at all (tests/package.test.mjs checks that), nor the
    // `dedupe` above.
    fs: { allow: [".."] },
  },
});
