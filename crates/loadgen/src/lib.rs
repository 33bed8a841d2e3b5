//! Pieces the load generator and the baseline server share: a latency histogram that many tasks
//! record into at once, and readings of a process's memory and CPU time from `/proc`; and the load
//! generator's own parts: its sockets, the few frame fields it reads, and its writers.

pub mod frames;
pub mod histogram;
pub mod process;
pub mod socket;
pub mod writer;

use std::{sync::OnceLock, time::Instant};

/// Microseconds since this process first asked: one clock for a write's stamp and its delivery.
pub fn now_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// Which documents the subscribers watch and the writers write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Paths {
    /// Every connection subscribes to one document; each write reaches all of them.
    Hot,
    /// Connection i subscribes to its own document; the writers go round them, one delivery a write.
    Own,
}

impl Paths {
    /// The path of document `n` (connection n's own; every n is the one hot document).
    pub fn path(self, n: usize) -> String {
        match self {
            Paths::Hot => "bench/hot".to_owned(),
            Paths::Own => format!("bench/c{n}"),
        }
    }
}
