// The dispatch benchmark's page: `run(mode, url, paths, updates)` subscribes to `paths` documents and
// resolves with the milliseconds from the first snapshot to the last of `updates`, delivered to a JS
// callback either by livepath or by a bare WebSocket + JSON.parse (the baseline).
import { connect } from "livepath";

type Mode = "livepath" | "raw";

async function run(mode: Mode, server: string, paths: number, updates: number): Promise<number> {
  const url = `${server}?paths=${paths}`;
  let count = 0;
  let first = 0;
  let sink = 0; // touches the data, as an app would
  return new Promise((resolve) => {
    const onSnapshot = (data: { n: number } | null) => {
      if (count === 0) first = performance.now();
      sink += data ? data.n : 0;
      if (++count === updates) {
        cleanup();
        resolve(performance.now() - first + (sink < 0 ? 1 : 0));
      }
    };
    let cleanup = () => {};
    if (mode === "raw") {
      const ws = new WebSocket(url, "livepath.v1");
      ws.onopen = () => {
        for (let i = 0; i < paths; i++) ws.send(JSON.stringify({ type: "subscribe", id: i + 1, path: `bench/p${i}` }));
      };
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.type === "snapshot") onSnapshot(m.data);
      };
      cleanup = () => ws.close();
    } else {
      const client = connect({ url, lingerMs: 0 });
      const unsubscribes: (() => void)[] = [];
      for (let i = 0; i < paths; i++) {
        unsubscribes.push(client.onSnapshot(`bench/p${i}`, (s) => s.kind === "document" && onSnapshot(s.data as { n: number })));
      }
      cleanup = () => {
        unsubscribes.forEach((u) => u());
        client.close();
      };
    }
  });
}

Object.assign(window, { run });

// Run by bench/dispatch.mjs in a Chromium it starts without DevTools attached (Playwright's network
// instrumentation reports every WebSocket frame and would be what got measured): ?replay=…&report=…
const params = new URLSearchParams(location.search);
const report = params.get("report");
if (report) {
  const replay = params.get("replay")!;
  const updates = Number(params.get("updates"));
  const repetitions = Number(params.get("repetitions"));
  const results: { paths: number; mode: Mode; ms: number }[] = [];
  for (const paths of [1, 1000]) {
    await run("livepath", replay, paths, 1000); // warm up
    for (let r = 0; r < repetitions; r++) {
      for (const mode of ["raw", "livepath"] as Mode[]) {
        results.push({ paths, mode, ms: await run(mode, replay, paths, updates) });
      }
    }
  }
  await fetch(report, { method: "POST", body: JSON.stringify(results) });
}
