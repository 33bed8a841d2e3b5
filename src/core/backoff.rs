//! [`Backoff`]: exponential backoff with full jitter, for reconnecting.

/// How long to wait between reconnect attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// The cap of the first delay.
    pub initial_ms: f64,
    /// No delay is longer than this.
    pub max_ms: f64,
    /// Each attempt multiplies the cap by this.
    pub multiplier: f64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self { initial_ms: 500.0, max_ms: 20_000.0, multiplier: 2.0 }
    }
}

/// Attempt counter with "full jitter" (AWS architecture blog): each delay is uniform in `[0, cap]` where
/// `cap = min(max, initial × multiplierⁿ)`. Jitter spreads a crowd of clients that lost the same server.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The shape of the curve.
    config: BackoffConfig,
    /// Failed attempts since the last success.
    attempt: u32,
}

impl Backoff {
    /// A backoff at its first attempt. Nonsensical settings are clamped to something that terminates.
    pub fn new(config: BackoffConfig) -> Self {
        let initial_ms = if config.initial_ms.is_finite() { config.initial_ms.max(1.0) } else { 500.0 };
        let max_ms = if config.max_ms.is_finite() { config.max_ms.max(initial_ms) } else { 20_000.0 };
        let multiplier = if config.multiplier.is_finite() { config.multiplier.max(1.0) } else { 2.0 };
        Self { config: BackoffConfig { initial_ms, max_ms, multiplier }, attempt: 0 }
    }

    /// The cap of the next delay.
    pub fn cap_ms(&self) -> f64 {
        let c = self.config;
        (c.initial_ms * c.multiplier.powi(self.attempt.min(64) as i32)).min(c.max_ms)
    }

    /// The next delay, given `random` uniform in `[0, 1)`, and counts the attempt.
    pub fn next_delay_ms(&mut self, random: f64) -> u32 {
        let delay = self.cap_ms() * random.clamp(0.0, 1.0);
        self.attempt = self.attempt.saturating_add(1);
        delay.round() as u32
    }

    /// A connection succeeded: start again from the first delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_grows_by_the_multiplier_until_the_maximum() {
        let mut b = Backoff::new(BackoffConfig::default());
        let caps: Vec<u32> = (0..8).map(|_| b.next_delay_ms(1.0)).collect();
        assert_eq!(caps, [500, 1000, 2000, 4000, 8000, 16000, 20000, 20000]);
    }

    #[test]
    fn full_jitter_spans_zero_to_the_cap() {
        let mut b = Backoff::new(BackoffConfig::default());
        assert_eq!(b.next_delay_ms(0.0), 0);
        assert_eq!(b.next_delay_ms(0.5), 500);
        for r in [0.0, 0.1, 0.33, 0.999] {
            let mut b = Backoff::new(BackoffConfig { initial_ms: 100.0, max_ms: 1000.0, multiplier: 3.0 });
            for _ in 0..10 {
                let cap = b.cap_ms();
                let d = f64::from(b.next_delay_ms(r));
                assert!((0.0..=cap).contains(&d));
            }
        }
    }

    #[test]
    fn reset_starts_over_and_bad_settings_are_clamped() {
        let mut b = Backoff::new(BackoffConfig { initial_ms: -5.0, max_ms: f64::NAN, multiplier: 0.5 });
        assert_eq!(b.next_delay_ms(1.0), 1);
        assert_eq!(b.next_delay_ms(1.0), 1, "a multiplier below 1 is clamped to 1");
        b.reset();
        assert_eq!(b.cap_ms(), 1.0);
        let mut huge = Backoff::new(BackoffConfig::default());
        for _ in 0..1000 {
            huge.next_delay_ms(1.0);
        }
        assert_eq!(huge.next_delay_ms(1.0), 20000);
    }
}
