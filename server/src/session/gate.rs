//! The per-connection rate limit: one gate every counted frame passes (heartbeats are not
//! counted).

use std::time::Instant;

/// Token bucket: `rate` frames a second, bursts up to twice that.
pub(super) struct RateLimit {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    pub(super) fn new(rate: u32) -> Self {
        let rate = f64::from(rate.max(1));
        RateLimit { rate, tokens: rate * 2.0, last: Instant::now() }
    }

    /// Whether one more frame may pass now.
    pub(super) fn allow(&mut self) -> bool {
        self.allow_at(Instant::now())
    }

    fn allow_at(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate * 2.0);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_twice_the_rate_then_refills_at_the_rate() {
        let mut limit = RateLimit::new(10);
        let start = limit.last;
        let allowed = (0..25).filter(|_| limit.allow_at(start)).count();
        assert_eq!(allowed, 20, "a burst of twice the rate");
        assert!(!limit.allow_at(start + Duration::from_millis(50)), "half a token is not enough");
        assert!(limit.allow_at(start + Duration::from_millis(100)), "one token a tenth of a second");
    }
}
