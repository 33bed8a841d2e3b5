//! What `/proc` says about a process: resident memory and CPU time.

use std::time::Instant;

/// Resident set size of process `pid` in KiB (`VmRSS`), or `None` if it cannot be read.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User plus system CPU time of process `pid`, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0) // USER_HZ is 100 on Linux
}

/// CPU use of one process over an interval, in percent of one core.
pub struct CpuMeter {
    pid: u32,
    start: Instant,
    cpu: f64,
}

impl CpuMeter {
    /// Starts measuring `pid` now.
    pub fn start(pid: u32) -> Self {
        Self { pid, start: Instant::now(), cpu: cpu_seconds(pid).unwrap_or(0.0) }
    }

    /// Percent of one core used since [`CpuMeter::start`].
    pub fn percent(&self) -> f64 {
        let used = cpu_seconds(self.pid).unwrap_or(self.cpu) - self.cpu;
        100.0 * used / self.start.elapsed().as_secs_f64()
    }
}

/// Busy and total CPU time of the whole machine so far, in clock ticks (`/proc/stat`).
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let total: u64 = fields.iter().take(8).sum(); // user … steal; guest time is already in user
    let idle = fields.get(3)? + fields.get(4)?; // idle + iowait
    Some((total - idle, total))
}

/// How busy the whole machine is over an interval, in percent of all its cores: what the
/// processes' own figures miss (softirq work run by kernel threads, other programs).
pub struct MachineMeter {
    start: Option<(u64, u64)>,
}

impl MachineMeter {
    /// Starts measuring now.
    pub fn start() -> Self {
        Self { start: machine_ticks() }
    }

    /// Percent of all cores busy since [`MachineMeter::start`].
    pub fn percent(&self) -> Option<f64> {
        let (busy0, total0) = self.start?;
        let (busy1, total1) = machine_ticks()?;
        Some(100.0 * (busy1 - busy0) as f64 / (total1 - total0).max(1) as f64)
    }
}
