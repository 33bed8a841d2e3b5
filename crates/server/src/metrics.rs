//! [`Metrics`]: counters for `GET /metrics`, in the Prometheus text format.

use std::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
};

/// Process-wide counters. Relaxed atomics: each is independent and read only for reporting.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: AtomicU64,
    /// WebSocket connections accepted since the start (a socket that came and went still counts).
    pub connections_accepted: AtomicU64,
    /// Text frames received.
    pub frames_in: AtomicU64,
    /// Text frames sent.
    pub frames_out: AtomicU64,
    /// `subscribe` messages received (whether they succeeded or not).
    pub subscribes: AtomicU64,
    /// Documents written by commits (WebSocket and HTTP; replays excluded).
    pub writes: AtomicU64,
    /// Commits that wrote something (replays and commits of checks only excluded).
    pub commits: AtomicU64,
    /// `error` frames sent over WebSocket (HTTP error answers are not counted).
    pub errors: AtomicU64,
    /// Live query results read from the store again because their window's buffer ran out.
    pub query_rereads: AtomicU64,
    /// Waiting frames superseded by newer state (a slow reader skipped ahead): a document snapshot
    /// replaced by the next, or a full outbox's collection deltas folded into a listing.
    pub queue_overflows: AtomicU64,
}

/// Adds one.
pub fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

impl Metrics {
    /// The Prometheus exposition; `subscriptions` and `live_queries` come from the hub.
    pub fn render(&self, subscriptions: usize, live_queries: usize) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            let _ =
                writeln!(out, "# HELP livepath_{name} {help}\n# TYPE livepath_{name} {kind}\nlivepath_{name} {value}");
        };
        metric("connections", "gauge", "Open WebSocket connections.", self.connections.load(Relaxed));
        metric(
            "connections_total",
            "counter",
            "WebSocket connections accepted.",
            self.connections_accepted.load(Relaxed),
        );
        metric("subscriptions", "gauge", "Live subscriptions, all connections.", subscriptions as u64);
        metric(
            "live_queries",
            "gauge",
            "Distinct live queries (equal queries share one live result).",
            live_queries as u64,
        );
        metric("frames_in_total", "counter", "Text frames received.", self.frames_in.load(Relaxed));
        metric("frames_out_total", "counter", "Text frames sent.", self.frames_out.load(Relaxed));
        metric("subscribes_total", "counter", "Subscribe messages received.", self.subscribes.load(Relaxed));
        metric("writes_total", "counter", "Documents written by commits.", self.writes.load(Relaxed));
        metric("commits_total", "counter", "Commits that wrote documents.", self.commits.load(Relaxed));
        metric(
            "query_rereads_total",
            "counter",
            "Live query results read again from the store (their buffer ran out).",
            self.query_rereads.load(Relaxed),
        );
        metric("errors_total", "counter", "Error frames sent over WebSocket.", self.errors.load(Relaxed));
        metric(
            "queue_overflows_total",
            "counter",
            "Queued frames superseded because a reader was behind.",
            self.queue_overflows.load(Relaxed),
        );
        out
    }
}
