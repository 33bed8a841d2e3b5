//! The writers: each on its own connection, sending `set`s at a fixed rate, and optionally never more
//! than a window of them unacknowledged (`--in-flight`), which turns the open-loop writer into a
//! closed-loop one: with a rate above what the server can take, it measures how many writes a second
//! the server acknowledges with that many in flight (one: each write waits for the previous one's ack;
//! many: the server's store commits those that queue up as one batch).
//!
//! Each write carries its send time (`"t"`), which the subscriber that receives it reads back; its
//! `ack` is timed too, against the send time the writer kept for its `req`.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use livepath_protocol::ClientMessage;
use serde_json::json;
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::{Paths, frames, histogram::Histogram, now_us, socket};

/// Send times kept per writer, by `req` modulo this: an ack that comes back after this many later
/// writes were sent is counted but not timed.
const RING: usize = 1 << 14;

/// One writer's settings.
#[derive(Debug, Clone)]
pub struct Writer {
    /// The server it connects to.
    pub server: SocketAddr,
    /// Its writes per second.
    pub rate: f64,
    /// Most writes unacknowledged at once; 0: no limit (open loop).
    pub in_flight: usize,
    /// Which documents it writes.
    pub paths: Paths,
    /// How many documents `paths` names (the subscriber connections).
    pub documents: usize,
    /// Approximate size of each written document, in bytes.
    pub bytes: usize,
    /// Give every write an idempotency key, as the livepath client does.
    pub keys: bool,
    /// Its number among the writers, for the keys.
    pub number: usize,
}

/// What all the writers count together.
#[derive(Default)]
pub struct Counts {
    /// Writes sent; also which document the next write goes to (the writers go round them together,
    /// so each document is written through every writer's server in turn).
    pub sent: AtomicU64,
    /// `ack`s received.
    pub acked: AtomicU64,
    /// `error`s received.
    pub errors: AtomicU64,
    /// Send → ack latency.
    pub ack_latency: Histogram,
}

/// When each recent `req` was sent: (req, µs), slot `req % RING`.
struct SendTimes(Box<[(AtomicU64, AtomicU64)]>);

impl SendTimes {
    fn new() -> Self {
        Self((0..RING).map(|_| (AtomicU64::new(0), AtomicU64::new(0))).collect())
    }

    fn sent(&self, req: u64, at: u64) {
        let (slot_req, slot_at) = &self.0[req as usize % RING];
        slot_at.store(at, Relaxed);
        slot_req.store(req, Relaxed);
    }

    /// When `req` was sent, unless its slot was reused since.
    fn when(&self, req: u64) -> Option<u64> {
        let (slot_req, slot_at) = &self.0[req as usize % RING];
        let at = slot_at.load(Relaxed);
        (slot_req.load(Relaxed) == req).then_some(at)
    }
}

/// Runs one writer until `stop`: connects, then writes at `writer.rate`, counting into `counts`.
pub async fn run(writer: Writer, counts: Arc<Counts>, mut stop: watch::Receiver<bool>) -> Result<(), String> {
    let socket = socket::connect(writer.server, 0, 1).await?;
    let (mut sink, mut stream) = socket.split();
    let times = Arc::new(SendTimes::new());
    // Permits are writes that may still be sent: taken by each write, given back by its answer.
    let window = (writer.in_flight > 0).then(|| Arc::new(Semaphore::new(writer.in_flight)));
    let reader = {
        let (counts, times, window) = (counts.clone(), times.clone(), window.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(frame) = message else { continue };
                let answered = if frame.starts_with(r#"{"type":"ack""#) {
                    counts.acked.fetch_add(1, Relaxed);
                    if let Some(sent) = frames::req(&frame).and_then(|req| times.when(req)) {
                        counts.ack_latency.record(now_us().saturating_sub(sent));
                    }
                    true
                } else if frame.starts_with(r#"{"type":"error""#) {
                    counts.errors.fetch_add(1, Relaxed);
                    frames::req(&frame).is_some()
                } else {
                    false
                };
                if let (true, Some(window)) = (answered, &window) {
                    window.add_permits(1);
                }
            }
        })
    };
    let pad = "x".repeat(writer.bytes.saturating_sub(40));
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut done: u64 = 0;
    'writing: loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
        let due = (start.elapsed().as_secs_f64() * writer.rate) as u64;
        while done < due {
            if let Some(window) = &window {
                match window.try_acquire() {
                    Ok(permit) => permit.forget(),
                    Err(_) => {
                        // The window is full: send what is buffered, then wait for an answer.
                        sink.flush().await.map_err(|e| format!("write: {e}"))?;
                        tokio::select! {
                            permit = window.acquire() => permit.map_err(|e| e.to_string())?.forget(),
                            _ = stop.wait_for(|stop| *stop) => break 'writing,
                        }
                    }
                }
            }
            let n = counts.sent.fetch_add(1, Relaxed);
            let path = writer.paths.path((n % writer.documents.max(1) as u64) as usize);
            let req = done + 1;
            let at = now_us();
            let data = json!({ "t": at, "pad": pad });
            let key = writer.keys.then(|| format!("loadgen-{}-{}-{req}", std::process::id(), writer.number));
            times.sent(req, at);
            let set =
                ClientMessage::Set { req, path, data, key, merge: false, transforms: Vec::new(), condition: None };
            sink.feed(socket::text(&set)).await.map_err(|e| format!("write: {e}"))?;
            done += 1;
        }
        sink.flush().await.map_err(|e| format!("write: {e}"))?;
    }
    let _ = sink.close().await;
    reader.abort();
    Ok(())
}
