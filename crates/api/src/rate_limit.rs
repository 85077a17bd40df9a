//! Token buckets kept in memory, one per key (a client address, a workspace, an API key).
//!
//! They read the server's clock in whole seconds, so with `--dev-clock` a test refills a bucket
//! by moving the clock instead of waiting.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use herald_domain::UnixSeconds;

/// A token bucket's size: `requests` at once, refilled evenly over `seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub seconds: u32,
}

impl RateLimit {
    pub const fn new(requests: u32, seconds: u32) -> Self {
        Self { requests, seconds }
    }
}

impl FromStr for RateLimit {
    type Err = String;

    /// Reads `REQUESTS/SECONDS`, e.g. `1200/60`.
    fn from_str(text: &str) -> Result<Self, String> {
        let explain = || {
            format!(
                "{text:?} is not a rate limit: write REQUESTS/SECONDS with whole numbers of at least 1, e.g. 1200/60"
            )
        };
        let (requests, seconds) = text.trim().split_once('/').ok_or_else(explain)?;
        let requests: u32 = requests.trim().parse().map_err(|_| explain())?;
        let seconds: u32 = seconds.trim().parse().map_err(|_| explain())?;
        if requests == 0 || seconds == 0 {
            return Err(explain());
        }
        Ok(Self { requests, seconds })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.requests, self.seconds)
    }
}

/// How many keys are kept before idle (full) buckets are forgotten. A full bucket is the same
/// as no bucket, so forgetting it changes no answer.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: UnixSeconds,
}

/// Buckets of one limit, by key.
#[derive(Debug)]
pub struct Buckets<K> {
    limit: RateLimit,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq> Buckets<K> {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn capacity(&self) -> f64 {
        f64::from(self.limit.requests)
    }

    /// Tokens gained per second.
    fn rate(&self) -> f64 {
        self.capacity() / f64::from(self.limit.seconds)
    }

    fn refilled(&self, bucket: Bucket, now: UnixSeconds) -> f64 {
        // A clock that stepped back refills nothing rather than taking tokens away.
        #[allow(clippy::cast_precision_loss)]
        let elapsed = (now - bucket.updated).max(0) as f64;
        (bucket.tokens + elapsed * self.rate()).min(self.capacity())
    }

    /// Takes one token for `key`, or says in how many seconds one will be there.
    pub fn take(&self, key: K, now: UnixSeconds) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(&key) {
            buckets.retain(|_, bucket| self.refilled(*bucket, now) < self.capacity());
            // Still full of active keys (many addresses at once): start over rather than grow
            // without bound; the worst case is one fresh burst per key.
            if buckets.len() >= MAX_KEYS {
                buckets.clear();
            }
        }
        let capacity = self.capacity();
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        bucket.tokens = self.refilled(*bucket, now);
        bucket.updated = bucket.updated.max(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - bucket.tokens) / self.rate()).ceil();
        // `wait` is positive and at most `seconds` (a u32), so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Err((wait as u64).max(1))
    }
}

/// The key a client address is limited under: IPv6 hosts usually own a whole /64, so one
/// limit covers the /64; IPv4 addresses mapped into IPv6 count as IPv4.
pub fn ip_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_parse() {
        assert_eq!("3/60".parse(), Ok(RateLimit::new(3, 60)));
        assert_eq!(" 1200 / 60 ".parse(), Ok(RateLimit::new(1200, 60)));
        for bad in ["", "3", "0/60", "3/0", "-1/60", "a/b", "3/60/1"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bucket_empties_and_refills_with_time() {
        let buckets = Buckets::new(RateLimit::new(3, 60));
        assert_eq!(buckets.take("a", 1000), Ok(()));
        assert_eq!(buckets.take("a", 1000), Ok(()));
        assert_eq!(buckets.take("a", 1000), Ok(()));
        assert_eq!(buckets.take("a", 1000), Err(20));
        // Other keys have buckets of their own.
        assert_eq!(buckets.take("b", 1000), Ok(()));
        assert_eq!(buckets.take("a", 1019), Err(1));
        assert_eq!(buckets.take("a", 1020), Ok(()));
        assert_eq!(buckets.take("a", 1020), Err(20));
        // Never more than the capacity, however long the bucket rested.
        for _ in 0..3 {
            assert_eq!(buckets.take("a", 100_000), Ok(()));
        }
        assert!(buckets.take("a", 100_000).is_err());
    }

    #[test]
    fn a_clock_stepping_back_takes_no_tokens_away() {
        let buckets = Buckets::new(RateLimit::new(1, 10));
        assert_eq!(buckets.take(1, 500), Ok(()));
        assert_eq!(buckets.take(1, 400), Err(10));
        assert_eq!(buckets.take(1, 510), Ok(()));
    }

    #[test]
    fn ipv6_counts_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(ip_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}
