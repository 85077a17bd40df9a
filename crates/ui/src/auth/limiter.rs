//! Failed sign-ins, counted per email on the injected clock: after `MAX_FAILURES` within
//! `WINDOW_SECONDS`, that email is refused until the window has passed, whatever the password.

use std::collections::HashMap;
use std::sync::Mutex;

const MAX_FAILURES: u32 = 5;
const WINDOW_SECONDS: i64 = 15 * 60;
/// Bounds the memory an attacker trying many emails can take; the oldest windows go first.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Default)]
pub struct SignInLimiter {
    failures: Mutex<HashMap<String, (u32, i64)>>,
}

impl SignInLimiter {
    /// Seconds until this email may try again, if it is locked out now.
    pub fn locked(&self, email: &str, now: i64) -> Option<i64> {
        let failures = self.failures.lock().ok()?;
        let (count, since) = failures.get(&email.to_lowercase())?;
        let until = since + WINDOW_SECONDS;
        (*count >= MAX_FAILURES && now < until).then_some(until - now)
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, email: &str, now: i64) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (_, since)| now < *since + WINDOW_SECONDS);
        }
        let entry = failures.entry(email.to_lowercase()).or_insert((0, now));
        if now >= entry.1 + WINDOW_SECONDS {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// Forgets an email's failures after it signed in.
    pub fn succeeded(&self, email: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&email.to_lowercase());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_an_email_for_the_window() {
        let limiter = SignInLimiter::default();
        for _ in 0..4 {
            limiter.failed("Ann@x.io", 100);
        }
        assert_eq!(limiter.locked("ann@x.io", 100), None);
        limiter.failed("ann@x.io", 101);
        assert_eq!(limiter.locked("ANN@x.io", 200), Some(WINDOW_SECONDS - 100));
        assert_eq!(
            limiter.locked("bob@x.io", 200),
            None,
            "other emails are not locked"
        );
        assert_eq!(limiter.locked("ann@x.io", 100 + WINDOW_SECONDS), None);
        limiter.succeeded("ann@x.io");
        assert_eq!(limiter.locked("ann@x.io", 200), None);
    }
}
