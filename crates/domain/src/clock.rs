//! Time sources. Everything time-dependent asks a [`Clock`] instead of the operating system.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::UnixSeconds;

/// A source of the current time in unix seconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Returns the current time.
    fn now(&self) -> UnixSeconds;

    /// Returns the manual clock behind this clock, if it can be moved by hand.
    fn as_manual(&self) -> Option<&ManualClock> {
        None
    }
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixSeconds {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
    }
}

/// Errors from moving a manual clock.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    /// The clock only moves forward, so that windows and deadlines never run backwards.
    #[error("the clock cannot move backwards: it is at {current} and {requested} is earlier")]
    Backwards {
        current: UnixSeconds,
        requested: UnixSeconds,
    },
}

/// A clock that only moves when told to, used by tests and by `herald serve --dev-clock`.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// Creates a clock that reads `start` until it is moved.
    pub fn new(start: UnixSeconds) -> Self {
        Self {
            now: AtomicI64::new(start),
        }
    }

    /// Moves the clock to `now`, which must not be earlier than the current reading.
    pub fn set(&self, now: UnixSeconds) -> Result<(), ClockError> {
        let mut current = self.now.load(Ordering::SeqCst);
        loop {
            if now < current {
                return Err(ClockError::Backwards {
                    current,
                    requested: now,
                });
            }
            match self
                .now
                .compare_exchange(current, now, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixSeconds {
        self.now.load(Ordering::SeqCst)
    }

    fn as_manual(&self) -> Option<&ManualClock> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_forward_only() {
        let clock = ManualClock::new(100);
        assert_eq!(clock.now(), 100);
        clock.set(150).unwrap();
        assert_eq!(clock.now(), 150);
        assert_eq!(
            clock.set(149),
            Err(ClockError::Backwards {
                current: 150,
                requested: 149
            })
        );
        clock.set(150).unwrap();
        assert_eq!(clock.now(), 150);
    }
}
