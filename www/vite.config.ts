import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The livepath server the dev server proxies to (HTTP and the WebSocket, both under /v1).
const server = process.env.LIVEPATH_SERVER ?? "http://127.0.0.1:7070";

export default defineConfig({
  plugins: [react()],
  // Scan every page up front, so the dev server never re-optimizes dependencies and reloads mid-test.
  optimizeDeps: { entries: ["index.html", "tests/pages/*.html"] },
  server: {
    proxy: { "/v1": { target: server, ws: true }, "/metrics": { target: server } },
    // Only because `file:../pkg` is a symlink outside this folder; an app installing livepath from
    // the npm registry needs no configuration at all.
    fs: { allow: [".."] },
  },
});
