// The latency benchmark's page: one client writes a document at a fixed rate, another client's listener
// timestamps each snapshot (one page, so one clock). The baseline does the same with two bare WebSockets
// through the same server. Run by bench/latency.mjs, which starts Chromium without DevTools.
import { connect } from "livepath";

type Mode = "livepath" | "raw";

async function measure(mode: Mode, url: string, rate: number, seconds: number): Promise<number[]> {
  const path = `bench/latency-${mode}-${rate}-${Math.random().toString(36).slice(2)}`;
  const samples: number[] = [];
  const received = (data: { t?: number } | null) => {
    if (data && typeof data.t === "number") samples.push(performance.now() - data.t);
  };
  let write: (t: number) => void;
  let stop: () => void;
  if (mode === "livepath") {
    const [writer, reader] = [connect({ url }), connect({ url })];
    const unsubscribe = reader.onSnapshot(path, (s) => s.kind === "document" && received(s.data as { t?: number }));
    write = (t) => void writer.set(path, { t }).catch(() => {});
    stop = () => {
      unsubscribe();
      writer.close();
      reader.close();
    };
  } else {
    const open = (ws: WebSocket) => new Promise((r) => (ws.onopen = r));
    const [writer, reader] = [new WebSocket(url, "livepath.v1"), new WebSocket(url, "livepath.v1")];
    await Promise.all([open(writer), open(reader)]);
    reader.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.type === "snapshot") received(m.data);
    };
    reader.send(JSON.stringify({ type: "subscribe", id: 1, path }));
    // A client must read its acks to know its writes landed; livepath's does, so this one does too.
    writer.onmessage = (e) => void JSON.parse(e.data);
    let req = 0;
    write = (t) => writer.send(JSON.stringify({ type: "set", req: ++req, path, data: { t } }));
    stop = () => {
      writer.close();
      reader.close();
    };
  }
  await new Promise((r) => setTimeout(r, 300)); // connected and subscribed
  // Writes go out as the clock says they are due, checked as often as the browser runs an interval
  // (every 4 ms once intervals nest): small batches, so a write waits little behind its own batch.
  let sent = 0;
  const started = performance.now();
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      for (const due = Math.floor((elapsed / 1000) * rate); sent < due; sent++) write(performance.now());
      if (elapsed >= seconds * 1000) {
        clearInterval(timer);
        done();
      }
    }, 1);
  });
  await new Promise((r) => setTimeout(r, 500)); // the last snapshots arrive
  stop();
  return samples;
}

const params = new URLSearchParams(location.search);
const report = params.get("report");
if (report) {
  const url = params.get("server")!;
  const results: { mode: Mode; rate: number; samples: number[] }[] = [];
  // `rates` and `modes` narrow a run down (e.g. to profile one case); the benchmark runs them all.
  const rates = (params.get("rates") ?? "100,1000,5000").split(",").map(Number);
  const modes = (params.get("modes") ?? "raw,livepath").split(",") as Mode[];
  for (const rate of rates) {
    for (const mode of modes) {
      results.push({ mode, rate, samples: await measure(mode, url, rate, rate >= 5000 ? 1 : 2) });
    }
  }
  await fetch(report, { method: "POST", body: JSON.stringify(results) });
}
