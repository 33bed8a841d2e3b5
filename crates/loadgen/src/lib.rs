//! Pieces the load generator and the baseline server share: a latency histogram that many tasks
//! record into at once, and readings of a process's memory and CPU time from `/proc`.

pub mod histogram;
pub mod process;

use std::{sync::OnceLock, time::Instant};

/// Microseconds since this process first asked: one clock for a write's stamp and its delivery.
pub fn now_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}
