// A stand-in server for the dispatch benchmark: it speaks livepath's protocol just enough to answer
// `subscribe`, then streams pre-encoded snapshot frames as fast as the socket takes them, so the figure
// measures the browser side (socket → JS callbacks), not the real server's writes.
import { WebSocketServer } from "ws";

export async function startReplayServer({ updates, bytes }) {
  const padding = "x".repeat(Math.max(0, bytes - 40));
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    handleProtocols: (protocols) => (protocols.has("livepath.v1") ? "livepath.v1" : false),
  });
  await new Promise((r) => wss.once("listening", r));
  wss.on("connection", (socket, request) => {
    socket.send(JSON.stringify({ type: "welcome", session: "replay", heartbeatMs: 25000, protocol: 1 }));
    // The URL's ?paths= says how many subscribes to wait for before streaming.
    let expected = Number(new URL(request.url, "http://x").searchParams.get("paths") ?? 1);
    const subscriptions = [];
    socket.on("message", (raw) => {
      const message = JSON.parse(String(raw));
      if (message.type === "subscribe") subscriptions.push(message);
      if (subscriptions.length === expected) {
        expected = Infinity;
        // Version 1 of each path first (the initial snapshots), then the stream.
        const frames = [];
        for (let i = 0; i < updates; i++) {
          const s = subscriptions[i % subscriptions.length];
          const version = 1 + Math.floor(i / subscriptions.length);
          frames.push(JSON.stringify({ type: "snapshot", id: s.id, path: s.path, version, exists: true, data: { n: i, padding } }));
        }
        for (const frame of frames) socket.send(frame);
      }
    });
  });
  return { url: `ws://127.0.0.1:${wss.address().port}/v1/ws`, close: () => new Promise((r) => wss.close(r)) };
}
