//! `livepath-loadgen`: holds many real WebSocket subscribers against a livepath server (or the
//! broadcast baseline), or against several nodes of one (subscriber i on server i % n), has writers
//! update their paths at a fixed rate, and prints what arrived: deliveries per second, write →
//! delivery latency, acks per second and their latency, the servers' memory per connection and CPU.
//! With `--in-flight` the writers are closed-loop (see [`livepath_loadgen::writer`]): with a rate
//! above what the servers take, the acks per second are their write ceiling.
//!
//! Loopback only, and bounded: at most 60,000 connections, 64 writers and 10 minutes, and every phase
//! has a deadline. Each connection binds its own source address among 127.0.0.1 … 127.0.0.k
//! (`--sources`), so the connections are not limited to one address's ~28,000 ephemeral ports.
//!
//! Every subscriber uses subscription id 1; the baseline server relies on that to encode each
//! broadcast frame once.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use livepath_loadgen::{Paths, frames, histogram::Histogram, now_us, process, socket, writer};
use livepath_protocol::ClientMessage;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

const MAX_CONNECTIONS: usize = 60_000;
const MAX_WRITERS: usize = 64;
const MAX_SECONDS: f64 = 600.0;

/// Fan-out and write load against livepath-compatible servers on loopback.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// A server's address (loopback). Repeat it for several nodes of one cluster: subscriber i
    /// connects to the (i mod n)-th, writer j to the (j mod n)-th.
    #[arg(long, default_value = "127.0.0.1:7070")]
    server: Vec<SocketAddr>,
    /// A server's process id, to read its memory and CPU from /proc; repeatable, one per node.
    #[arg(long)]
    server_pid: Vec<u32>,
    /// A process of a database the servers share (PostgreSQL's backends), repeatable: their CPU is
    /// reported together, beside the servers'.
    #[arg(long)]
    database_pid: Vec<u32>,
    /// Subscriber connections to hold, spread over the servers.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Which documents they subscribe to.
    #[arg(long, value_enum, default_value = "hot")]
    paths: Paths,
    /// Writes per second, all writers together; 0 holds the connections idle and measures memory only.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Writer connections, spread over the servers; each writes its share of the rate.
    #[arg(long, default_value_t = 1)]
    writers: usize,
    /// Most writes each writer keeps unacknowledged (it waits for an ack before sending more); 0: no
    /// limit. With a rate above the servers' ceiling, 1 measures one write at a time and a large
    /// window measures batched writes.
    #[arg(long, default_value_t = 0)]
    in_flight: usize,
    /// Give every write an idempotency key, as the livepath client does.
    #[arg(long)]
    keys: bool,
    /// Approximate size of each written document, in bytes.
    #[arg(long, default_value_t = 100)]
    bytes: usize,
    /// Seconds of writing before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Source addresses 127.0.0.1 … 127.0.0.N the connections spread over.
    #[arg(long, default_value_t = 8)]
    sources: u8,
    /// Handshakes in flight at once while connecting.
    #[arg(long, default_value_t = 200)]
    handshakes: usize,
    /// Seconds allowed for all connections to open and subscribe.
    #[arg(long, default_value_t = 120.0)]
    connect_timeout: f64,
    /// A name for this run, copied into the output.
    #[arg(long, default_value = "livepath")]
    label: String,
}

impl Args {
    /// The server subscriber or writer `n` connects to.
    fn server(&self, n: usize) -> SocketAddr {
        self.server[n % self.server.len()]
    }
}

/// What the readers share.
#[derive(Default)]
struct Counters {
    /// Connections whose first snapshot arrived.
    subscribed: AtomicUsize,
    /// Connections that failed to open or subscribe, or closed early.
    failed: AtomicUsize,
    /// The first failure, to print.
    first_error: Mutex<Option<String>>,
    /// Snapshots after the first, all connections together.
    delivered: AtomicU64,
    /// Write → delivery latency of each of them.
    latency: Histogram,
}

impl Counters {
    fn fail(&self, error: impl std::fmt::Display) {
        self.failed.fetch_add(1, Relaxed);
        let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        first.get_or_insert_with(|| error.to_string());
    }
}

/// One subscriber: connects, subscribes, then counts snapshots for as long as the process runs.
async fn subscriber(args: Arc<Args>, n: usize, counters: Arc<Counters>, admit: Arc<tokio::sync::Semaphore>) {
    let opened = {
        let Ok(_permit) = admit.acquire().await else { return };
        match socket::connect(args.server(n), n, args.sources).await {
            Ok(mut ws) => {
                let subscribe = ClientMessage::Subscribe { id: 1, path: args.paths.path(n), since: None, query: None };
                match ws.send(socket::text(&subscribe)).await {
                    Ok(()) => Ok(ws),
                    Err(e) => Err(format!("subscribe: {e}")),
                }
            }
            Err(e) => Err(e),
        }
    };
    let mut ws = match opened {
        Ok(ws) => ws,
        Err(e) => return counters.fail(e),
    };
    let mut first = true;
    // No stop signal: the process ends when the run does. A `select!` on one here would cost every
    // frame a second future, and the load generator shares the machine with the server it measures.
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(frame))) if frame.starts_with(r#"{"type":"snapshot""#) => {
                if first {
                    first = false;
                    counters.subscribed.fetch_add(1, Relaxed);
                } else {
                    counters.delivered.fetch_add(1, Relaxed);
                    if let Some(sent) = frames::stamp(&frame) {
                        counters.latency.record(now_us().saturating_sub(sent));
                    }
                }
            }
            Some(Ok(Message::Text(frame))) if frame.starts_with(r#"{"type":"error""#) => {
                return counters.fail(format!("server error: {frame}"));
            }
            Some(Ok(Message::Close(_))) | None => return counters.fail("closed by the server"),
            Some(Err(e)) => return counters.fail(format!("read: {e}")),
            Some(Ok(_)) => {}
        }
    }
}

/// Readings of every `--server-pid` at once: their memory, summed, and each one's CPU.
struct Servers {
    pids: Vec<u32>,
}

/// CPU use of several processes over an interval, in percent of one core, summed.
fn total_percent(meters: &[process::CpuMeter]) -> Option<f64> {
    (!meters.is_empty()).then(|| meters.iter().map(process::CpuMeter::percent).sum())
}

impl Servers {
    /// Resident memory of all the servers together, if every one can be read.
    fn rss_kib(&self) -> Option<u64> {
        if self.pids.is_empty() {
            return None;
        }
        self.pids.iter().map(|&pid| process::rss_kib(pid)).sum()
    }

    fn cpu_meters(&self) -> Vec<process::CpuMeter> {
        self.pids.iter().map(|&pid| process::CpuMeter::start(pid)).collect()
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Arc::new(Args::parse());
    match run(args).await {
        Ok(report) => {
            println!("{report}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("livepath-loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Arc<Args>) -> Result<Value, String> {
    if let Some(server) = args.server.iter().find(|s| !s.ip().is_loopback()) {
        return Err(format!("{server} is not a loopback address: this tool only loads local servers"));
    }
    if args.connections == 0 || args.connections > MAX_CONNECTIONS {
        return Err(format!("--connections must be 1 … {MAX_CONNECTIONS}"));
    }
    if args.writers == 0 || args.writers > MAX_WRITERS {
        return Err(format!("--writers must be 1 … {MAX_WRITERS}"));
    }
    if !(0.0..=MAX_SECONDS).contains(&(args.warmup + args.seconds)) || args.connect_timeout > MAX_SECONDS {
        return Err(format!(
            "a run is bounded: --warmup plus --seconds, and --connect-timeout, at most {MAX_SECONDS} s"
        ));
    }
    let servers = Servers { pids: args.server_pid.clone() };
    let rss_before = servers.rss_kib();

    let counters = Arc::new(Counters::default());
    let (stop, stopped) = watch::channel(false);
    let admit = Arc::new(tokio::sync::Semaphore::new(args.handshakes.max(1)));
    let connecting = Instant::now();
    for n in 0..args.connections {
        tokio::spawn(subscriber(args.clone(), n, counters.clone(), admit.clone()));
    }
    let deadline = connecting + Duration::from_secs_f64(args.connect_timeout);
    while counters.subscribed.load(Relaxed) + counters.failed.load(Relaxed) < args.connections {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {} connections subscribed in time",
                counters.subscribed.load(Relaxed),
                args.connections
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connect_seconds = connecting.elapsed().as_secs_f64();
    if let Some(e) = counters.first_error.lock().unwrap_or_else(|p| p.into_inner()).clone() {
        return Err(format!("{} connections failed; the first: {e}", counters.failed.load(Relaxed)));
    }
    eprintln!(
        "{}: {} connections subscribed on {} server(s) in {connect_seconds:.1} s",
        args.label,
        args.connections,
        args.server.len()
    );

    let mut report = json!({
        "label": args.label,
        "connections": args.connections,
        "servers": args.server.len(),
        "paths": format!("{:?}", args.paths).to_lowercase(),
        "rate": args.rate,
        "writers": args.writers,
        "in_flight": args.in_flight,
        "connect_seconds": connect_seconds,
    });
    if args.rate <= 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(args.seconds.min(10.0))).await; // let the server settle
        let rss_after = servers.rss_kib();
        if let (Some(before), Some(after)) = (rss_before, rss_after) {
            report["server_rss_kib"] = json!(after);
            report["rss_per_connection_kib"] = json!((after.saturating_sub(before)) as f64 / args.connections as f64);
        }
        let _ = stop.send(true);
        return Ok(report);
    }

    let counts = Arc::new(writer::Counts::default());
    let writing: Vec<_> = (0..args.writers)
        .map(|number| {
            let writer = writer::Writer {
                server: args.server(number),
                rate: args.rate / args.writers as f64,
                in_flight: args.in_flight,
                paths: args.paths,
                documents: args.connections,
                bytes: args.bytes,
                keys: args.keys,
                number,
            };
            tokio::spawn(writer::run(writer, counts.clone(), stopped.clone()))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;

    counters.latency.clear();
    counts.ack_latency.clear();
    let delivered0 = counters.delivered.load(Relaxed);
    let sent0 = counts.sent.load(Relaxed);
    let acked0 = counts.acked.load(Relaxed);
    let server_cpu = servers.cpu_meters();
    let database_cpu: Vec<_> = args.database_pid.iter().map(|&pid| process::CpuMeter::start(pid)).collect();
    let own_cpu = process::CpuMeter::start(std::process::id());
    let machine = process::MachineMeter::start();
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    let seconds = window.elapsed().as_secs_f64();
    let delivered = counters.delivered.load(Relaxed) - delivered0;
    let writes = counts.sent.load(Relaxed) - sent0;
    let acks = counts.acked.load(Relaxed) - acked0;
    let latency = counters.latency.snapshot();
    let ack_latency = counts.ack_latency.snapshot();
    let server_cpus: Vec<f64> = server_cpu.iter().map(process::CpuMeter::percent).collect();
    let database_cpu = total_percent(&database_cpu);
    let own_cpu = own_cpu.percent();
    let machine = machine.percent();
    let rss_after = servers.rss_kib();
    let _ = stop.send(true);
    for writing in writing {
        match writing.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(format!("a writer failed: {e}")),
        }
    }

    let per_write = match args.paths {
        Paths::Hot => args.connections as f64,
        Paths::Own => 1.0,
    };
    let ms = |q: f64| latency.quantile(q).map(|us| us as f64 / 1000.0);
    let ack_ms = |q: f64| ack_latency.quantile(q).map(|us| us as f64 / 1000.0);
    let server_cpu = (!server_cpus.is_empty()).then(|| server_cpus.iter().sum::<f64>());
    report["writes_per_second"] = json!(writes as f64 / seconds);
    report["acks_per_second"] = json!(acks as f64 / seconds);
    report["offered_per_second"] = json!(writes as f64 * per_write / seconds);
    report["deliveries_per_second"] = json!(delivered as f64 / seconds);
    report["delivered_fraction"] = json!(delivered as f64 / (writes as f64 * per_write).max(1.0));
    report["write_errors"] = json!(counts.errors.load(Relaxed));
    report["p50_ms"] = json!(ms(0.5));
    report["p99_ms"] = json!(ms(0.99));
    report["max_ms"] = json!(ms(1.0));
    report["ack_p50_ms"] = json!(ack_ms(0.5));
    report["ack_p99_ms"] = json!(ack_ms(0.99));
    report["cdf"] = json!(latency.cdf().iter().map(|(us, f)| [*us as f64 / 1000.0, *f]).collect::<Vec<_>>());
    report["server_cpu_percent"] = json!(server_cpu);
    report["server_cpus_percent"] = json!(server_cpus);
    report["database_cpu_percent"] = json!(database_cpu);
    report["loadgen_cpu_percent"] = json!(own_cpu);
    report["machine_busy_percent"] = json!(machine);
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        report["server_rss_kib"] = json!(after);
        report["rss_per_connection_kib"] = json!((after.saturating_sub(before)) as f64 / args.connections as f64);
    }
    eprintln!(
        "{}: {:.0} deliveries/s ({:.0}% of offered), p50 {:?} ms, p99 {:?} ms, {:.0} acks/s, server CPU {:?}%",
        args.label,
        delivered as f64 / seconds,
        100.0 * delivered as f64 / (writes as f64 * per_write).max(1.0),
        ms(0.5),
        ms(0.99),
        acks as f64 / seconds,
        server_cpus.iter().map(|c| c.round()).collect::<Vec<_>>()
    );
    Ok(report)
}
