//! `livepath-loadgen`: holds many real WebSocket subscribers against a livepath server (or the
//! broadcast baseline), has one writer update their paths at a fixed rate, and prints what arrived:
//! deliveries per second, write → delivery latency, the server's memory per connection and CPU.
//!
//! Loopback only, and bounded: at most 60,000 connections and 10 minutes, and every phase has a
//! deadline. Each connection binds its own source address among 127.0.0.1 … 127.0.0.k
//! (`--sources`), so the connections are not limited to one address's ~28,000 ephemeral ports.
//!
//! Every subscriber uses subscription id 1; the baseline server relies on that to encode each
//! broadcast frame once.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use clap::{Parser, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use livepath_loadgen::{histogram::Histogram, now_us, process};
use livepath_protocol::{ClientMessage, SUBPROTOCOL};
use serde_json::{Value, json};
use tokio::{net::TcpSocket, sync::watch};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue, protocol::WebSocketConfig},
};

const MAX_CONNECTIONS: usize = 60_000;
const MAX_SECONDS: f64 = 600.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Paths {
    /// Every connection subscribes to one document; each write reaches all of them.
    Hot,
    /// Connection i subscribes to its own document; the writer goes round them, one delivery a write.
    Own,
}

/// Fan-out load against a livepath-compatible server on loopback.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The server's address (loopback).
    #[arg(long, default_value = "127.0.0.1:7070")]
    server: SocketAddr,
    /// The server's process id, to read its memory and CPU from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Subscriber connections to hold.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Which documents they subscribe to.
    #[arg(long, value_enum, default_value = "hot")]
    paths: Paths,
    /// Writes per second; 0 holds the connections idle and measures memory only.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
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

type Socket = WebSocketStream<tokio::net::TcpStream>;

fn config() -> WebSocketConfig {
    // tungstenite's 128 KiB default buffers would make the load generator the memory bottleneck.
    WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(4096)
}

/// Opens connection number `n` from source address 127.0.0.(1 + n % sources).
async fn connect(server: SocketAddr, n: usize, sources: u8) -> Result<Socket, String> {
    let source = Ipv4Addr::new(127, 0, 0, 1 + (n % usize::from(sources.max(1))) as u8);
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0)).map_err(|e| format!("bind {source}: {e}"))?;
    let stream = socket.connect(server).await.map_err(|e| format!("connect from {source}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut request = format!("ws://{server}/v1/ws").into_client_request().map_err(|e| e.to_string())?;
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(SUBPROTOCOL));
    let (socket, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config()))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    Ok(socket)
}

fn text(message: &ClientMessage<Value>) -> Message {
    Message::Text(serde_json::to_string(message).unwrap_or_default().into())
}

/// The stamp a writer put in a snapshot's data (`"t":<µs>`), read without parsing the frame.
fn stamp(frame: &str) -> Option<u64> {
    let at = frame.find("\"t\":")? + 4;
    let digits = frame[at..].bytes().take_while(u8::is_ascii_digit).count();
    frame[at..at + digits].parse().ok()
}

fn path_of(paths: Paths, n: usize) -> String {
    match paths {
        Paths::Hot => "bench/hot".to_owned(),
        Paths::Own => format!("bench/c{n}"),
    }
}

/// One subscriber: connects, subscribes, then counts snapshots for as long as the process runs.
async fn subscriber(args: Arc<Args>, n: usize, counters: Arc<Counters>, admit: Arc<tokio::sync::Semaphore>) {
    let opened = {
        let Ok(_permit) = admit.acquire().await else { return };
        match connect(args.server, n, args.sources).await {
            Ok(mut socket) => {
                let subscribe = ClientMessage::Subscribe { id: 1, path: path_of(args.paths, n), since: None };
                match socket.send(text(&subscribe)).await {
                    Ok(()) => Ok(socket),
                    Err(e) => Err(format!("subscribe: {e}")),
                }
            }
            Err(e) => Err(e),
        }
    };
    let mut socket = match opened {
        Ok(socket) => socket,
        Err(e) => return counters.fail(e),
    };
    let mut first = true;
    // No stop signal: the process ends when the run does. A `select!` on one here would cost every
    // frame a second future, and the load generator shares the machine with the server it measures.
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(frame))) if frame.starts_with(r#"{"type":"snapshot""#) => {
                if first {
                    first = false;
                    counters.subscribed.fetch_add(1, Relaxed);
                } else {
                    counters.delivered.fetch_add(1, Relaxed);
                    if let Some(sent) = stamp(&frame) {
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

/// Writes at `args.rate` until `stop`, counting sent writes, acks and errors.
async fn writer(
    args: Arc<Args>,
    sent: Arc<AtomicU64>,
    acked: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let socket = connect(args.server, 0, 1).await?;
    let (mut sink, mut stream) = socket.split();
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Text(frame) = message {
                if frame.starts_with(r#"{"type":"ack""#) {
                    acked.fetch_add(1, Relaxed);
                } else if frame.starts_with(r#"{"type":"error""#) {
                    errors.fetch_add(1, Relaxed);
                }
            }
        }
    });
    let pad = "x".repeat(args.bytes.saturating_sub(40));
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut done: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
        let due = (start.elapsed().as_secs_f64() * args.rate) as u64;
        while done < due {
            let path = path_of(args.paths, (done % args.connections as u64) as usize);
            let data = json!({ "t": now_us(), "pad": pad });
            let key = args.keys.then(|| format!("loadgen-{}-{done}", std::process::id()));
            let set = ClientMessage::Set { req: done + 1, path, data, key };
            sink.feed(text(&set)).await.map_err(|e| format!("write: {e}"))?;
            done += 1;
            sent.store(done, Relaxed);
        }
        sink.flush().await.map_err(|e| format!("write: {e}"))?;
    }
    let _ = sink.close().await;
    reader.abort();
    Ok(())
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
    if !args.server.ip().is_loopback() {
        return Err(format!("{} is not a loopback address: this tool only loads local servers", args.server));
    }
    if args.connections == 0 || args.connections > MAX_CONNECTIONS {
        return Err(format!("--connections must be 1 … {MAX_CONNECTIONS}"));
    }
    if !(0.0..=MAX_SECONDS).contains(&(args.warmup + args.seconds)) || args.connect_timeout > MAX_SECONDS {
        return Err(format!(
            "a run is bounded: --warmup plus --seconds, and --connect-timeout, at most {MAX_SECONDS} s"
        ));
    }
    let pid = args.server_pid;
    let rss = || pid.and_then(process::rss_kib);
    let rss_before = rss();

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
    eprintln!("{}: {} connections subscribed in {connect_seconds:.1} s", args.label, args.connections);

    let mut report = json!({
        "label": args.label,
        "connections": args.connections,
        "paths": format!("{:?}", args.paths).to_lowercase(),
        "rate": args.rate,
        "connect_seconds": connect_seconds,
    });
    if args.rate <= 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(args.seconds.min(10.0))).await; // let the server settle
        let rss_after = rss();
        if let (Some(before), Some(after)) = (rss_before, rss_after) {
            report["server_rss_kib"] = json!(after);
            report["rss_per_connection_kib"] = json!((after.saturating_sub(before)) as f64 / args.connections as f64);
        }
        let _ = stop.send(true);
        return Ok(report);
    }

    let sent = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let writing = tokio::spawn(writer(args.clone(), sent.clone(), acked.clone(), errors.clone(), stopped.clone()));
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;

    counters.latency.clear();
    let delivered0 = counters.delivered.load(Relaxed);
    let sent0 = sent.load(Relaxed);
    let acked0 = acked.load(Relaxed);
    let server_cpu = pid.map(process::CpuMeter::start);
    let own_cpu = process::CpuMeter::start(std::process::id());
    let machine = process::MachineMeter::start();
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    let seconds = window.elapsed().as_secs_f64();
    let delivered = counters.delivered.load(Relaxed) - delivered0;
    let writes = sent.load(Relaxed) - sent0;
    let acks = acked.load(Relaxed) - acked0;
    let latency = counters.latency.snapshot();
    let server_cpu = server_cpu.map(|m| m.percent());
    let own_cpu = own_cpu.percent();
    let machine = machine.percent();
    let rss_after = rss();
    let _ = stop.send(true);
    match writing.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(e) => return Err(format!("the writer failed: {e}")),
    }

    let per_write = match args.paths {
        Paths::Hot => args.connections as f64,
        Paths::Own => 1.0,
    };
    let ms = |q: f64| latency.quantile(q).map(|us| us as f64 / 1000.0);
    report["writes_per_second"] = json!(writes as f64 / seconds);
    report["acks_per_second"] = json!(acks as f64 / seconds);
    report["offered_per_second"] = json!(writes as f64 * per_write / seconds);
    report["deliveries_per_second"] = json!(delivered as f64 / seconds);
    report["delivered_fraction"] = json!(delivered as f64 / (writes as f64 * per_write).max(1.0));
    report["write_errors"] = json!(errors.load(Relaxed));
    report["p50_ms"] = json!(ms(0.5));
    report["p99_ms"] = json!(ms(0.99));
    report["max_ms"] = json!(ms(1.0));
    report["cdf"] = json!(latency.cdf().iter().map(|(us, f)| [*us as f64 / 1000.0, *f]).collect::<Vec<_>>());
    report["server_cpu_percent"] = json!(server_cpu);
    report["loadgen_cpu_percent"] = json!(own_cpu);
    report["machine_busy_percent"] = json!(machine);
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        report["server_rss_kib"] = json!(after);
        report["rss_per_connection_kib"] = json!((after.saturating_sub(before)) as f64 / args.connections as f64);
    }
    eprintln!(
        "{}: {:.0} deliveries/s ({:.0}% of offered), p50 {:?} ms, p99 {:?} ms, server CPU {:?}%",
        args.label,
        delivered as f64 / seconds,
        100.0 * delivered as f64 / (writes as f64 * per_write).max(1.0),
        ms(0.5),
        ms(0.99),
        server_cpu.map(|c| c.round())
    );
    Ok(report)
}
