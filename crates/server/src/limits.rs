//! Per-connection and per-address limits: a token bucket for writes, and connection counts by IP.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Instant,
};

/// Allows `rate` events per second on average, in bursts of up to one second's worth.
#[derive(Debug)]
pub struct TokenBucket {
    /// Events per second; 0 means unlimited.
    rate: f64,
    /// Events that may happen now.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: u32) -> Self {
        Self { rate: f64::from(rate), tokens: f64::from(rate), updated: Instant::now() }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self) -> bool {
        self.take_at(Instant::now())
    }

    fn take_at(&mut self, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Open connections by client address.
#[derive(Debug, Default)]
pub struct PerIp {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in [`PerIp`]; dropping it frees the place.
#[derive(Debug)]
pub struct IpSlot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    /// A place for a connection from `ip`, unless it already has `max` (0: no limit).
    pub fn admit(table: &Arc<PerIp>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut counts = table.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if max != 0 && *count >= max {
            return None;
        }
        *count += 1;
        Some(IpSlot { table: table.clone(), ip })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut counts = self.table.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_allows_a_seconds_burst_then_refills_at_its_rate() {
        let mut bucket = TokenBucket::new(10);
        let start = bucket.updated;
        assert_eq!((0..15).filter(|_| bucket.take_at(start)).count(), 10);
        assert!(bucket.take_at(start + Duration::from_millis(100)), "one token back after 100 ms");
        assert!(!bucket.take_at(start + Duration::from_millis(100)));
        assert!(TokenBucket::new(0).take(), "0 is unlimited");
    }

    #[test]
    fn an_address_gets_at_most_max_places_and_a_dropped_slot_frees_one() {
        let table = Arc::new(PerIp::default());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let first = PerIp::admit(&table, ip, 2).unwrap();
        let _second = PerIp::admit(&table, ip, 2).unwrap();
        assert!(PerIp::admit(&table, ip, 2).is_none());
        assert!(PerIp::admit(&table, "10.0.0.2".parse().unwrap(), 2).is_some(), "other addresses are not affected");
        drop(first);
        assert!(PerIp::admit(&table, ip, 2).is_some());
    }
}
