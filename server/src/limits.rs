//! Rate limits keyed by who asks (an address, a user, a name): token buckets in a map with a
//! bounded number of keys, so that the limits themselves cannot be used to fill memory.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket: `rate` per second, up to `burst` at once.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    last: Instant,
}

/// How fast a bucket refills and how much it holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    /// `count` in each `period`, all of them at once if need be.
    pub fn per(count: u32, period: Duration) -> Rate {
        let count = f64::from(count.max(1));
        Rate { per_second: count / period.as_secs_f64().max(0.001), burst: count }
    }
}

impl Bucket {
    pub fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket { tokens: rate.burst, last: now }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, rate: Rate, now: Instant) -> bool {
        self.take_n(1.0, rate, now)
    }

    /// Takes `cost` tokens if there are that many.
    pub fn take_n(&mut self, cost: f64, rate: Rate, now: Instant) -> bool {
        self.refill(rate, now);
        if self.tokens >= cost {
            self.tokens -= cost;
            true
        } else {
            false
        }
    }

    /// Seconds until a token is there (0 if one is).
    pub fn wait_secs(&mut self, rate: Rate, now: Instant) -> u64 {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            0
        } else {
            ((1.0 - self.tokens) / rate.per_second).ceil().max(1.0) as u64
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.last = now;
    }

    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        self.tokens + now.saturating_duration_since(self.last).as_secs_f64() * rate.per_second >= rate.burst
    }
}

/// Token buckets per key, at most `max_keys` of them: full buckets are forgotten first, and
/// when every bucket is in use a new key is refused (the limit holds, memory stays bounded).
pub struct Buckets<K> {
    rate: Rate,
    max_keys: usize,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    pub fn new(rate: Rate, max_keys: usize) -> Buckets<K> {
        Buckets { rate, max_keys: max_keys.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token for `key`; false when it has none left (or no bucket can be made).
    pub fn take(&self, key: &K, now: Instant) -> bool {
        self.take_n(key, 1.0, now)
    }

    /// Takes `cost` tokens for `key`.
    pub fn take_n(&self, key: &K, cost: f64, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(key) && buckets.len() >= self.max_keys {
            let rate = self.rate;
            buckets.retain(|_, bucket| !bucket.is_full(rate, now));
            if buckets.len() >= self.max_keys {
                return false;
            }
        }
        buckets
            .entry(key.clone())
            .or_insert_with(|| Bucket::full(self.rate, now))
            .take_n(cost, self.rate, now)
    }

    /// Seconds until `key` has a token again (0: it has one now). Takes nothing.
    pub fn wait_secs(&self, key: &K, now: Instant) -> u64 {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.get_mut(key).map(|bucket| bucket.wait_secs(self.rate, now)).unwrap_or(0)
    }

    /// Forgets `key` (its bucket is full again).
    pub fn forget(&self, key: &K) {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let rate = Rate::per(5, Duration::from_secs(60));
        let start = Instant::now();
        let mut bucket = Bucket::full(rate, start);
        assert_eq!((0..10).filter(|_| bucket.take(rate, start)).count(), 5);
        assert_eq!(bucket.wait_secs(rate, start), 12, "one token every 12 s");
        assert!(bucket.take(rate, start + Duration::from_secs(12)));
    }

    #[test]
    fn keys_are_bounded_and_full_buckets_are_forgotten_first() {
        let rate = Rate::per(2, Duration::from_secs(1));
        let buckets = Buckets::new(rate, 2);
        let now = Instant::now();
        assert!(buckets.take(&"a", now) && buckets.take(&"b", now));
        assert!(!buckets.take(&"c", now), "no room for a third key while both are in use");
        let later = now + Duration::from_secs(1);
        assert!(buckets.take(&"c", later), "full buckets were forgotten");
        assert!(buckets.take(&"a", later));
        assert!(buckets.take(&"a", later) && !buckets.take(&"a", later), "a's own limit holds");
        assert!(buckets.wait_secs(&"a", later) >= 1);
        buckets.forget(&"a");
        assert_eq!(buckets.wait_secs(&"a", later), 0);
    }
}
