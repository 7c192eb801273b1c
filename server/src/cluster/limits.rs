//! Rate limits that hold across instances: a token bucket per key kept in Redis (a hash
//! updated by one script, so two instances cannot both take the last token), or this
//! instance's own buckets ([`crate::limits::Buckets`]) when it runs alone or while Redis cannot
//! be reached (then each instance holds the limit on its own).
//!
//! Redis' memory stays bounded: each bucket's key expires once it would be full again.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Instant;

use super::Cluster;
use crate::limits::{Buckets, Rate};

/// Takes `ARGV[3]` tokens (0: only asks) from the bucket at `KEYS[1]` (rate `ARGV[1]` per
/// second, burst `ARGV[2]`); returns {taken, seconds until a token is there}.
const TAKE: &str = r"
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local taken = 0
if cost > 0 and tokens >= cost then
  tokens = tokens - cost
  taken = 1
end
if cost > 0 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
end
local wait = 0
if tokens < 1 then wait = math.max(1, math.ceil((1 - tokens) / rate)) end
return {taken, wait}
";

/// Longest part of a key taken from what a client sent (a sign-in name).
const MAX_KEY_CHARS: usize = 160;

/// Token buckets per key, shared by every instance when there are several.
pub struct Limit<K> {
    name: &'static str,
    local: Buckets<K>,
    rate: Rate,
    cluster: Option<Arc<Cluster>>,
}

impl<K: Hash + Eq + Clone + Debug> Limit<K> {
    /// `name` tells this limit's keys from other limits' in Redis.
    pub fn new(name: &'static str, rate: Rate, max_keys: usize, cluster: Option<Arc<Cluster>>) -> Limit<K> {
        Limit { name, local: Buckets::new(rate, max_keys), rate, cluster }
    }

    /// Takes a token for `key`; false when it has none left.
    pub async fn take(&self, key: &K) -> bool {
        self.take_n(key, 1.0).await
    }

    /// Takes `cost` tokens for `key`.
    pub async fn take_n(&self, key: &K, cost: f64) -> bool {
        match self.shared(key, cost).await {
            Some((taken, _)) => taken,
            None => self.local.take_n(key, cost, Instant::now()),
        }
    }

    /// Seconds until `key` has a token again (0: it has one now). Takes nothing.
    pub async fn wait_secs(&self, key: &K) -> u64 {
        match self.shared(key, 0.0).await {
            Some((_, wait)) => wait,
            None => self.local.wait_secs(key, Instant::now()),
        }
    }

    /// Forgets `key` (its bucket is full again).
    pub async fn forget(&self, key: &K) {
        self.local.forget(key);
        if let Some(cluster) = &self.cluster {
            let _ = cluster.query::<()>(redis::cmd("DEL").arg(self.key(key))).await;
        }
    }

    /// Redis' answer, or `None` without Redis (alone, or unreachable).
    async fn shared(&self, key: &K, cost: f64) -> Option<(bool, u64)> {
        let cluster = self.cluster.as_ref()?;
        let mut script = redis::cmd("EVAL");
        script.arg(TAKE).arg(1).arg(self.key(key)).arg(self.rate.per_second).arg(self.rate.burst).arg(cost);
        match cluster.query::<(i64, i64)>(&script).await {
            Ok((taken, wait)) => Some((taken == 1, wait.max(0) as u64)),
            Err(err) => {
                cluster.went_wrong("rate limit", &err);
                None
            }
        }
    }

    fn key(&self, key: &K) -> String {
        let key: String = format!("{key:?}").chars().take(MAX_KEY_CHARS).collect();
        format!("kefu:limit:{}:{key}", self.name)
    }
}
