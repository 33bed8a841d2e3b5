//! `query-bench`: what live queries cost a livepath server, against plain document subscriptions.
//!
//! Fills the collection `items` with `--docs` documents (`{status, priority, createdAt, …}`;
//! `priority` is `i % 100`), then measures:
//! - the first result of a query (`subscribe` → its `collection` frame): one matching 1% of the
//!   collection (`priority == p`, newest first, limit 50), one matching two thirds (`status ==
//!   "open"`, newest first, limit 50), and the plain listing of the whole collection;
//! - with `--queries` live queries held (distinct ones: `priority == i % 100`, newest first, limits
//!   10 to 19, so each document matches ten of them), writes at `--rate` per second that bring new
//!   documents to the top of ten results ("arrivals"), then writes that move the top document of ten
//!   results far down ("departures", which pull buffered documents up and, once a buffer is used
//!   up, read the query again); and the same writes with as many subscribers of single documents
//!   instead. For each: write → delivery latency (to the first subscriber that gets the write) and
//!   the server's CPU time per write;
//! - a resume (`subscribe` with `since`) of a query's result (`priority == 7`, newest first, limit
//!   50) when nothing in the collection changed (`unchanged`) and when a document outside the result
//!   changed (the server sends the full result again): bytes and time to the answer.
//!
//! Prints one JSON object. Loopback only.

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use livepath_loadgen::{histogram::Histogram, now_us, process, socket};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
struct Args {
    /// The server (loopback).
    #[arg(long, default_value = "127.0.0.1:7070")]
    server: SocketAddr,
    /// The server's process id, for its CPU time.
    #[arg(long)]
    server_pid: u32,
    /// Documents in the collection.
    #[arg(long, default_value_t = 100_000)]
    docs: usize,
    /// Live queries (and document subscribers, for the baseline) held.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// First results measured per kind of query.
    #[arg(long, default_value_t = 15)]
    initial_runs: usize,
    /// Writes per second in the live phases.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Seconds measured per live phase (after one second of warm-up).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
}

/// One connection, its frames read as text.
struct Conn {
    ws: socket::Socket,
}

impl Conn {
    async fn open(args: &Args, n: usize) -> Self {
        let mut ws = socket::connect(args.server, n, 4).await.expect("a connection");
        let _welcome = ws.next().await;
        Self { ws }
    }

    async fn send(&mut self, frame: Value) {
        self.ws.send(Message::Text(frame.to_string().into())).await.expect("send");
    }

    async fn next(&mut self) -> String {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(120), self.ws.next()).await;
            match frame.expect("a frame within 120 s").expect("the socket is open").expect("a frame") {
                Message::Text(text) if !text.starts_with(r#"{"type":"ping""#) => return text.to_string(),
                _ => {}
            }
        }
    }

    /// Waits for the frame for which `test` holds.
    async fn until(&mut self, test: impl Fn(&str) -> bool) -> String {
        loop {
            let frame = self.next().await;
            if test(&frame) {
                return frame;
            }
        }
    }
}

fn doc(i: usize, created: u64) -> Value {
    json!({"status": if i % 3 == 0 { "done" } else { "open" }, "priority": i % 100, "createdAt": created,
           "title": format!("item {i}"), "t": now_us()})
}

async fn fill(args: &Args) -> f64 {
    let mut c = Conn::open(args, 0).await;
    let started = Instant::now();
    for i in 0..args.docs {
        c.send(json!({"type":"set","req":i,"path":format!("items/d{i}"),"data":doc(i, i as u64)})).await;
    }
    let last = format!(r#""req":{}"#, args.docs - 1);
    c.until(|f| f.contains(&last)).await;
    started.elapsed().as_secs_f64()
}

/// Milliseconds from `subscribe` to the first frame, for each query `make(i)` gives.
async fn first_results(args: &Args, runs: usize, make: impl Fn(usize) -> Option<Value>) -> Vec<f64> {
    let mut c = Conn::open(args, 1).await;
    let mut times = Vec::new();
    for i in 0..runs {
        let id = 1000 + i;
        let frame = match make(i) {
            Some(query) => json!({"type":"subscribe","id":id,"path":"items","query":query}),
            None => json!({"type":"subscribe","id":id,"path":"items"}),
        };
        let started = Instant::now();
        c.send(frame).await;
        let head = format!(r#"{{"type":"collection","id":{id},"#);
        c.until(|f| f.starts_with(&head)).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        c.send(json!({"type":"unsubscribe","id":id})).await;
    }
    times
}

/// A resume of one query, `runs` times: when nothing changed, and after a write to a document outside
/// its result. Each: the answer's bytes and the milliseconds to it (medians), against the first result.
async fn resumes(args: &Args, runs: usize) -> Value {
    let mut c = Conn::open(args, 2).await;
    let query = json!({"where":[["priority","==",7]],"orderBy":[["createdAt","desc"]],"limit":50});
    let (mut full, mut unchanged, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = [0; 3];
    for run in 0..runs {
        let id = 5000 + 3 * run;
        let started = Instant::now();
        c.send(json!({"type":"subscribe","id":id,"path":"items","query":query})).await;
        let head = format!(r#"{{"type":"collection","id":{id},"#);
        let first = c.until(|f| f.starts_with(&head)).await;
        full.push(started.elapsed().as_secs_f64() * 1000.0);
        let since = serde_json::from_str::<Value>(&first).ok().and_then(|f| f["version"].as_u64()).unwrap_or(0);
        c.send(json!({"type":"unsubscribe","id":id})).await;
        // Subscribes again from `since`: the answer and the milliseconds to it.
        async fn resume(c: &mut Conn, query: &Value, id: usize, since: u64) -> (f64, String) {
            let started = Instant::now();
            c.send(json!({"type":"subscribe","id":id,"path":"items","query":query,"since":since})).await;
            let head = format!(r#""id":{id},"#);
            let answer = c.until(|f| f.contains(&head)).await;
            c.send(json!({"type":"unsubscribe","id":id})).await;
            (started.elapsed().as_secs_f64() * 1000.0, answer)
        }
        let (ms, same) = resume(&mut c, &query, id + 1, since).await;
        assert!(same.starts_with(r#"{"type":"unchanged""#), "nothing changed: {same:.80}");
        unchanged.push(ms);
        // A document of another priority changes: the collection moved on, this result did not.
        let req = 900_000 + run;
        c.send(json!({"type":"set","req":req,"path":format!("items/d{}", 8 + 100 * run),"data":doc(8, 1)})).await;
        let ack = format!(r#""req":{req}"#);
        c.until(|f| f.contains(&ack)).await;
        let (ms, again) = resume(&mut c, &query, id + 2, since).await;
        assert!(again.starts_with(r#"{"type":"collection""#), "the full result again: {again:.80}");
        changed.push(ms);
        bytes = [first.len(), same.len(), again.len()];
    }
    json!({
        "full": {"ms": summary(full), "bytes": bytes[0]},
        "unchanged": {"ms": summary(unchanged), "bytes": bytes[1]},
        "changed_elsewhere": {"ms": summary(changed), "bytes": bytes[2]},
    })
}

fn summary(mut values: Vec<f64>) -> Value {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    json!({"median": at(0.5), "p90": at(0.9), "runs": values.len()})
}

/// The document id a frame names first: a change's `"id":"d…"` or a snapshot's path.
fn written(frame: &str) -> Option<&str> {
    let start = match frame.find(r#""id":"d"#) {
        Some(at) => at + 6,
        None => frame.find(r#""path":"items/"#)? + 14,
    };
    let len = frame[start..].find('"')?;
    Some(&frame[start..start + len])
}

/// What the readers record: each delivery's latency from when its document was last written.
#[derive(Default)]
struct Meter {
    latency: Arc<Histogram>,
    deliveries: Arc<AtomicU64>,
    /// When each document was last written, by id (µs, [`now_us`]).
    sent: Arc<Mutex<HashMap<String, u64>>>,
}

/// Holds `subscribe(i)` for i in 0..queries over ten connections, and returns the readers' tasks,
/// which record each delivery's latency until `stop`.
async fn hold(args: &Args, subscribe: impl Fn(usize) -> Value, meter: &Meter) -> Vec<tokio::task::JoinHandle<()>> {
    let (latency, deliveries, sent) = (meter.latency.clone(), meter.deliveries.clone(), meter.sent.clone());
    let mut conns = Vec::new();
    for n in 0..10 {
        conns.push(Conn::open(args, 10 + n).await);
    }
    for i in 0..args.queries {
        conns[i % 10].send(subscribe(i)).await;
    }
    let mut tasks = Vec::new();
    for (n, mut c) in conns.into_iter().enumerate() {
        let mine = (0..args.queries).filter(|i| i % 10 == n).count();
        let (latency, deliveries) = (latency.clone(), deliveries.clone());
        for _ in 0..mine {
            c.until(|f| f.starts_with(r#"{"type":"collection""#) || f.starts_with(r#"{"type":"snapshot""#)).await;
        }
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let frame = c.next().await;
                // The written document is the first (or only) one a frame names.
                let Some(doc) = written(&frame) else { continue };
                let at = sent.lock().unwrap_or_else(|p| p.into_inner()).get(doc).copied();
                if let Some(at) = at {
                    deliveries.fetch_add(1, Relaxed);
                    latency.record(now_us().saturating_sub(at));
                }
            }
        }));
    }
    tasks
}

/// Writes `write(k)` (a document id and the frame) at `rate` per second for one second of warm-up
/// and `seconds` measured; returns the measured writes and the server's CPU seconds over them.
async fn write_at_rate(args: &Args, rate: f64, write: impl Fn(u64) -> (String, Value), meter: &Meter) -> (u64, f64) {
    let c = Conn::open(args, 2).await;
    let (mut sink, mut stream) = c.ws.split();
    let acks = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let (warmup, measured) = (rate as u64, (rate * args.seconds) as u64);
    let mut cpu = 0.0;
    for k in 0..warmup + measured {
        tick.tick().await;
        if k == warmup {
            meter.latency.clear();
            meter.deliveries.store(0, Relaxed);
            cpu = process::cpu_seconds(args.server_pid).unwrap_or(0.0);
        }
        let (doc, frame) = write(k);
        meter.sent.lock().unwrap_or_else(|p| p.into_inner()).insert(doc, now_us());
        sink.send(Message::Text(frame.to_string().into())).await.expect("send a write");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu = process::cpu_seconds(args.server_pid).unwrap_or(cpu) - cpu;
    acks.abort();
    (measured, cpu)
}

fn live_result(label: &str, rate: f64, (writes, cpu): (u64, f64), meter: &Meter) -> Value {
    let snapshot = meter.latency.snapshot();
    let ms = |q| snapshot.quantile(q).unwrap_or(0) as f64 / 1000.0;
    json!({"label": label, "rate": rate, "writes": writes, "cpu_us_per_write": cpu * 1e6 / writes as f64,
           "deliveries_per_write": meter.deliveries.load(Relaxed) as f64 / writes as f64,
           "p50_ms": ms(0.5), "p99_ms": ms(0.99)})
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let fill_seconds = fill(&args).await;
    let n = args.docs as u64;
    let selective = first_results(&args, args.initial_runs, |i| {
        Some(json!({"where":[["priority","==",i % 100]],"orderBy":[["createdAt","desc"]],"limit":50}))
    })
    .await;
    let broad = first_results(&args, args.initial_runs, |i| {
        Some(json!({"where":[["status","==","open"]],"orderBy":[["createdAt","desc"]],"limit":50 + i}))
    })
    .await;
    let listing = first_results(&args, 3, |_| None).await;
    let resume = resumes(&args, args.initial_runs).await;
    let mut live = Vec::new();
    // Live queries: each document matches the ten with its priority.
    let query = |i: usize| {
        json!({"type":"subscribe","id":i,"path":"items",
               "query":{"where":[["priority","==",i % 100]],"orderBy":[["createdAt","desc"]],"limit":10 + i / 100}})
    };
    let meter = Meter::default();
    let readers = hold(&args, query, &meter).await;
    // Arrivals: writes to existing documents of priorities 0 to 9, each made the newest: the top of
    // the ten queries of its priority (which push their last document down, out of sight).
    let target = move |j: u64| ((j * 7919) % (n / 100)) * 100 + j % 10;
    let arrival = |k: u64| {
        let i = target(k);
        (format!("d{i}"), json!({"type":"set","req":k,"path":format!("items/d{i}"),"data":doc(i as usize, n + k)}))
    };
    let measured = write_at_rate(&args, args.rate, arrival, &meter).await;
    live.push(live_result("live queries, arrivals", args.rate, measured, &meter));
    // Departures: the newest documents of priority 0, one after another, moved to the oldest end:
    // each leaves the top of the ten queries of priority 0, the next moves up from their buffers,
    // and each query is read again whenever its buffer is used up.
    // Newest first: the arrivals of priority 0 from the last, then the collection's own from the end.
    let mut seen = HashSet::new();
    let arrived = (args.rate * (1.0 + args.seconds)) as u64;
    let newest: Vec<u64> = (0..arrived)
        .rev()
        .filter(|j| j % 10 == 0)
        .map(target)
        .chain((0..n / 100).rev().map(|i| i * 100))
        .filter(|i| seen.insert(*i))
        .collect();
    let departure = |k: u64| {
        let i = newest[k as usize % newest.len()];
        (format!("d{i}"), json!({"type":"set","req":k,"path":format!("items/d{i}"),"data":doc(i as usize, 0)}))
    };
    let rereads = metric(&args, "query_rereads_total").await;
    let rate = args.rate.min(20.0);
    let measured = write_at_rate(&args, rate, departure, &meter).await;
    let mut result = live_result("live queries, departures", rate, measured, &meter);
    result["rereads"] = json!(metric(&args, "query_rereads_total").await - rereads);
    live.push(result);
    readers.iter().for_each(|r| r.abort());
    // As many subscribers of single documents, spread over the collection, and writes to them.
    let meter = Meter::default();
    let spread = args.docs / args.queries;
    let readers =
        hold(&args, |i| json!({"type":"subscribe","id":i,"path":format!("items/d{}", i * spread)}), &meter).await;
    let queries = args.queries as u64;
    let write = |k: u64| {
        let i = ((k * 7919) % queries) as usize * spread;
        (format!("d{i}"), json!({"type":"set","req":k,"path":format!("items/d{i}"),"data":doc(i, n + k)}))
    };
    let measured = write_at_rate(&args, args.rate, write, &meter).await;
    live.push(live_result("document subscribers", args.rate, measured, &meter));
    readers.iter().for_each(|r| r.abort());
    let out = json!({
        "docs": args.docs, "queries": args.queries, "rate": args.rate, "fill_seconds": fill_seconds,
        "first_result_ms": {"selective": summary(selective), "broad": summary(broad), "listing": summary(listing)},
        "resume": resume,
        "live": live,
    });
    println!("{out}");
}

/// A counter of the server's `/metrics`, read over a plain HTTP/1.0 request.
async fn metric(args: &Args, name: &str) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(args.server).await else { return 0 };
    let _ = stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n").await;
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body).await;
    let prefix = format!("livepath_{name} ");
    body.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}
