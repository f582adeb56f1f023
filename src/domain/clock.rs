//! The time the business rules go by: when stock holds and payment
//! deadlines pass, when sessions and reset tokens run out, when an
//! idempotency claim counts as abandoned, when rows are old enough to purge
//! and when a webhook delivery is due again.
//!
//! - A node runs on the system clock ([`Clock::system`]).
//! - Tests run on a [`ManualClock`]: the system time moved forward by what
//!   the test advanced it, so a test of an expiry moves time past it instead
//!   of sleeping until it comes. It keeps running in between, so rows
//!   written one after another keep their order.
//! - A use case reads the time once and passes it on. Rules compare it with
//!   stored times as values they bind, never with the database's
//!   `CURRENT_TIMESTAMP`, which no clock controls.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use chrono::{DateTime, TimeDelta, Utc};

/// Where the time comes from. Cheap to clone; the clones of a manual
/// clock's [`ManualClock::clock`] all move with it.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Microseconds added to the system time (`None`: the system clock).
    ahead: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The time now.
    pub fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        match &self.ahead {
            None => now,
            Some(ahead) => now + TimeDelta::microseconds(ahead.load(Ordering::SeqCst)),
        }
    }
}

/// A clock a test moves forward: [`ManualClock::clock`] is what the app
/// runs on, [`ManualClock::advance`] moves it.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    ahead: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock showing the system time until it is advanced.
    pub fn new() -> Self {
        Self::default()
    }

    /// The clock to run on: it shows this one's time.
    pub fn clock(&self) -> Clock {
        Clock {
            ahead: Some(self.ahead.clone()),
        }
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        let _ = self
            .ahead
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |a| {
                Some(a.saturating_add(micros))
            });
    }

    /// The time now on this clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock().now()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_system_clock_shows_the_system_time() {
        let before = Utc::now();
        let now = Clock::system().now();
        assert!(before <= now && now <= Utc::now());
    }

    #[test]
    fn a_manual_clock_moves_when_advanced_and_its_clocks_move_with_it() {
        let manual = ManualClock::new();
        let clock = manual.clock();
        let copy = clock.clone();
        let before = Utc::now();
        manual.advance(Duration::from_secs(3600));
        manual.advance(Duration::from_secs(60));
        let ahead = TimeDelta::seconds(3660);
        for now in [clock.now(), copy.now(), manual.now()] {
            assert!(
                now >= before + ahead,
                "{now} is not an hour and a minute ahead"
            );
            assert!(now <= Utc::now() + ahead);
        }
        assert!(Clock::system().now() < clock.now());
    }
}
