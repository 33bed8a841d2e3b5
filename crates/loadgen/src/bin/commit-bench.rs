//! `commit-bench`: what livepath's writes do under contention and in bulk, each against its baseline
//! in the same run. One mode per run, on one or more nodes (`--server`, repeatable: connection i
//! goes to server i % n):
//! - `increment`: `--connections` connections each keep `--window` commits in flight, each an
//!   `increment` of one counter (`bench/counter`). The final value must equal the acks.
//! - `read-modify-write`: the same connections, each reading the counter (`get`) and writing it back
//!   plus one with a plain `set`, one at a time: what an app does without transforms. Lost updates are
//!   the acks the final value is short of.
//! - `transaction`: each connection runs transactions on the counter: `get`, then a commit of the
//!   value plus one with `if: {"version": V}`; a failed condition is retried after a backoff with
//!   jitter (as the client's `transaction` does). Retries per commit and latency per transaction.
//! - `batch`: commits of `--batch` `set` writes to documents of the connection's own, `--window` in
//!   flight per connection: documents written per second (`--batch 1` is single writes).
//!
//! Prints one JSON object. Loopback only; each run is bounded by `--seconds`.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use livepath_loadgen::{histogram::Histogram, now_us, socket};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    Increment,
    ReadModifyWrite,
    Transaction,
    Batch,
}

#[derive(Debug, Parser)]
struct Args {
    /// A server (loopback); repeat for several nodes.
    #[arg(long = "server", required = true)]
    servers: Vec<SocketAddr>,
    #[arg(long, value_enum)]
    mode: Mode,
    /// Connections, spread over the servers.
    #[arg(long, default_value_t = 10)]
    connections: usize,
    /// Commits in flight per connection (`increment`, `batch`).
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Writes per commit (`batch`).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// A tag for this run's documents, so runs on one database do not meet.
    #[arg(long, default_value = "run")]
    tag: String,
}

/// One connection, its frames read as JSON.
struct Conn {
    ws: socket::Socket,
}

impl Conn {
    async fn open(server: SocketAddr, n: usize) -> Self {
        let mut ws = socket::connect(server, n, 4).await.expect("a connection");
        let _welcome = ws.next().await;
        Self { ws }
    }

    async fn send(&mut self, frame: &Value) {
        self.ws.send(Message::Text(frame.to_string().into())).await.expect("send");
    }

    /// The next answer (`ack`, `error`, `result`), skipping pings.
    async fn answer(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(60), self.ws.next()).await;
            if let Message::Text(text) =
                frame.expect("a frame within 60 s").expect("the socket is open").expect("a frame")
            {
                let value: Value = serde_json::from_str(&text).expect("JSON");
                if matches!(value["type"].as_str(), Some("ack" | "error" | "result")) {
                    return value;
                }
            }
        }
    }

    /// The counter's value and version, read once.
    async fn read(&mut self, path: &str, req: u64) -> (i64, u64) {
        self.send(&json!({"type":"get","req":req,"path":path})).await;
        let result = self.answer().await;
        match result["docs"].get(0) {
            Some(doc) => (doc["data"]["n"].as_i64().unwrap_or(0), doc["version"].as_u64().unwrap_or(0)),
            None => (0, 0),
        }
    }
}

/// What every connection counts.
#[derive(Default)]
struct Counts {
    acks: AtomicU64,
    documents: AtomicU64,
    retries: AtomicU64,
    failures: AtomicU64,
}

fn increment(path: &str, req: u64) -> Value {
    json!({"type":"commit","req":req,"writes":[
        {"op":"set","path":path,"data":{},"merge":true,"transforms":[{"field":"n","increment":1}]}]})
}

async fn run_connection(
    args: Arc<Args>,
    n: usize,
    counts: Arc<Counts>,
    latency: Arc<Histogram>,
    stop: Arc<AtomicBool>,
) {
    let server = args.servers[n % args.servers.len()];
    let mut c = Conn::open(server, n).await;
    let counter = format!("bench-{}/counter", args.tag);
    let mut req = 0u64;
    let mut next = || {
        req += 1;
        req
    };
    match args.mode {
        Mode::Increment | Mode::Batch => {
            let commit = |req: u64| match args.mode {
                Mode::Increment => increment(&counter, req),
                _ => {
                    let writes: Vec<Value> = (0..args.batch)
                        .map(|i| {
                            json!({"op":"set","path":format!("bench-{}-c{n}/d{}", args.tag, (req as usize * args.batch + i) % 10_000),
                                   "data":{"n":req,"i":i,"t":now_us()}})
                        })
                        .collect();
                    json!({"type":"commit","req":req,"writes":writes})
                }
            };
            let mut sent_at = std::collections::VecDeque::new();
            for _ in 0..args.window {
                sent_at.push_back(now_us());
                c.send(&commit(next())).await;
            }
            while let Some(at) = sent_at.pop_front() {
                let answer = c.answer().await;
                if answer["type"] == "ack" {
                    counts.acks.fetch_add(1, Relaxed);
                    counts.documents.fetch_add(args.batch as u64, Relaxed);
                    latency.record(now_us().saturating_sub(at));
                } else {
                    counts.failures.fetch_add(1, Relaxed);
                }
                if !stop.load(Relaxed) {
                    sent_at.push_back(now_us());
                    c.send(&commit(next())).await;
                }
            }
        }
        Mode::ReadModifyWrite => {
            while !stop.load(Relaxed) {
                let started = now_us();
                let (value, _) = c.read(&counter, next()).await;
                c.send(&json!({"type":"set","req":next(),"path":counter,"data":{"n":value + 1}})).await;
                if c.answer().await["type"] == "ack" {
                    counts.acks.fetch_add(1, Relaxed);
                    latency.record(now_us().saturating_sub(started));
                } else {
                    counts.failures.fetch_add(1, Relaxed);
                }
            }
        }
        Mode::Transaction => {
            // A small generator for the jitter, seeded per connection.
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(n as u64 + 1) | 1;
            let mut jitter = move |below: u64| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed % below.max(1)
            };
            while !stop.load(Relaxed) {
                let started = now_us();
                let mut attempt = 0u32;
                loop {
                    let (value, version) = c.read(&counter, next()).await;
                    let condition = if version == 0 { json!({"exists":false}) } else { json!({"version":version}) };
                    c.send(&json!({"type":"commit","req":next(),"writes":[
                        {"op":"set","path":counter,"data":{"n":value + 1},"if":condition}]}))
                        .await;
                    let answer = c.answer().await;
                    if answer["type"] == "ack" {
                        counts.acks.fetch_add(1, Relaxed);
                        latency.record(now_us().saturating_sub(started));
                        break;
                    }
                    if !matches!(answer["code"].as_str(), Some("failed-precondition" | "already-exists")) {
                        counts.failures.fetch_add(1, Relaxed);
                        break;
                    }
                    if stop.load(Relaxed) {
                        break; // given up at the end of the run, not a failure
                    }
                    counts.retries.fetch_add(1, Relaxed);
                    attempt += 1;
                    // Full jitter over an exponential backoff from 1 ms, capped at 64 ms.
                    let cap = 1000u64 << attempt.min(6);
                    tokio::time::sleep(Duration::from_micros(jitter(cap))).await;
                }
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let args = Arc::new(Args::parse());
    let counts = Arc::new(Counts::default());
    let latency = Arc::new(Histogram::default());
    let stop = Arc::new(AtomicBool::new(false));
    let counter = format!("bench-{}/counter", args.tag);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.connections)
        .map(|n| tokio::spawn(run_connection(args.clone(), n, counts.clone(), latency.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    stop.store(true, Relaxed);
    for task in tasks {
        task.await.expect("a connection's task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let final_value = if matches!(args.mode, Mode::Batch) {
        None
    } else {
        let mut c = Conn::open(args.servers[0], args.connections).await;
        Some(c.read(&counter, 1).await.0)
    };
    let acks = counts.acks.load(Relaxed);
    let snapshot = latency.snapshot();
    let q = |p: f64| snapshot.quantile(p).map_or(0.0, |us| us as f64 / 1000.0);
    let report = json!({
        "mode": format!("{:?}", args.mode),
        "nodes": args.servers.len(),
        "connections": args.connections,
        "window": args.window,
        "batch": args.batch,
        "seconds": elapsed,
        "acks": acks,
        "acks_per_second": acks as f64 / elapsed,
        "documents_per_second": counts.documents.load(Relaxed) as f64 / elapsed,
        "retries": counts.retries.load(Relaxed),
        "retries_per_commit": if acks == 0 { 0.0 } else { counts.retries.load(Relaxed) as f64 / acks as f64 },
        "failures": counts.failures.load(Relaxed),
        "final_value": final_value,
        "lost_updates": final_value.map(|v| acks as i64 - v),
        "p50_ms": q(0.5),
        "p99_ms": q(0.99),
    });
    println!("{report}");
}
