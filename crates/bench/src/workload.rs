//! The synthetic segmentation workload of `/work/shared/bench/workload.md`, generated row for row
//! as the reference `gen_workload.py` does, so that benchmarks of the project and the SQL
//! baselines measure the same data.
//!
//! Every value is a pure function of the seed and the row number, so rows can be produced one at
//! a time in any order; only the timestamp order of `events.csv` needs a sort, which keeps one
//! `u64` per event in memory.

mod csv;
mod names;
mod splitmix;

use std::fmt;

pub use names::NAMES;

/// 2026-11-29T00:00:00Z: the clock of every benchmark run; all windows are relative to it.
pub const REF_NOW: i64 = 1_795_910_400;

const DAY: i64 = 86_400;

/// Plans, indexed by `draw % 6`: half of the people are on the free plan.
const PLANS: [&str; 6] = ["free", "free", "free", "pro", "pro", "enterprise"];
const COUNTRIES: [&str; 8] = ["US", "DE", "FR", "BR", "IN", "JP", "GB", "CA"];

/// How far back `people.created_at` reaches.
const CREATED_SPAN_SECS: u64 = 365 * DAY as u64;

/// The timestamp-order sort packs an event into one `u64`: its timestamp's offset from the
/// earliest possible one above `EVENT_BITS` and its number below. Timestamps span 180 days,
/// which fits the remaining 24 bits.
const EVENT_BITS: u32 = 40;
const EVENT_MASK: u64 = (1 << EVENT_BITS) - 1;
const EARLIEST_TS: i64 = REF_NOW - 180 * DAY;

/// The size and seed of one workload. `Workload::default()` is the benchmark's standard one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    pub people: u64,
    pub events: u64,
    pub seed: u64,
}

impl Default for Workload {
    fn default() -> Self {
        Self {
            people: 1_000_000,
            events: 20_000_000,
            seed: 42,
        }
    }
}

/// One row of `people.csv`; the id is `u{index}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person {
    pub index: u64,
    pub plan: &'static str,
    pub country: &'static str,
    pub created_at: i64,
}

/// One row of `events.csv`; the id is `e{index}` and the person `u{person}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub index: u64,
    pub person: u64,
    pub name: &'static str,
    pub ts: i64,
    /// The event's `price` in cents, kept as an integer so that no float rounding touches it.
    pub price_cents: u32,
}

impl Event {
    /// The price as the reference writes it: whole units, a dot and two digits of cents.
    pub fn price(&self) -> Price {
        Price(self.price_cents)
    }
}

/// A price in cents that displays as `12.05`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price(pub u32);

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Workload {
    /// The people stream's seed; wrapping, so that any u64 seed is accepted.
    fn people_seed(&self) -> u64 {
        self.seed.wrapping_add(1)
    }

    fn events_seed(&self) -> u64 {
        self.seed.wrapping_add(2)
    }

    /// Person number `index`, from positions `3k`, `3k+1` and `3k+2` of the people stream.
    pub fn person(&self, index: u64) -> Person {
        let seed = self.people_seed();
        let plan = splitmix::draw(seed, 3 * index) % PLANS.len() as u64;
        let country = splitmix::draw(seed, 3 * index + 1) % COUNTRIES.len() as u64;
        let age = splitmix::draw(seed, 3 * index + 2) % CREATED_SPAN_SECS;
        Person {
            index,
            plan: PLANS[plan as usize],
            country: COUNTRIES[country as usize],
            // The age is below a year of seconds, so the conversion never fails.
            created_at: REF_NOW - age as i64,
        }
    }

    /// Event number `index`, from positions `4j` … `4j+3` of the events stream.
    pub fn event(&self, index: u64) -> Event {
        let seed = self.events_seed();
        let person = splitmix::u01(seed, 4 * index);
        let cents = splitmix::u01(seed, 4 * index + 3);
        Event {
            index,
            // `x * x` is what numpy computes for `x ** 2`, so the square rounds the same way.
            person: (person * person * self.people as f64).floor() as u64,
            name: NAMES[usize::from(names::name_index(splitmix::top53(seed, 4 * index + 1)))],
            ts: self.event_ts(index),
            price_cents: (cents * 10_000.0).floor() as u32,
        }
    }

    /// The timestamp of event `index` alone, which is all the timestamp-order sort needs.
    fn event_ts(&self, index: u64) -> i64 {
        let x = splitmix::u01(self.events_seed(), 4 * index + 2);
        // The reference writes `u01 * 180 * DAY`, which numpy evaluates as two multiplications,
        // each rounded; multiplying by the product 15,552,000 instead could round differently.
        REF_NOW - (x * 180.0 * DAY as f64).floor() as i64
    }

    /// People in id order, as `people.csv` lists them.
    pub fn people_rows(self) -> impl Iterator<Item = Person> {
        (0..self.people).map(move |index| self.person(index))
    }

    /// Events by event number, which is not the order of `events.csv`.
    pub fn events_by_index(self) -> impl Iterator<Item = Event> {
        (0..self.events).map(move |index| self.event(index))
    }

    /// Events in the order of `events.csv`: by timestamp, ties by event number. This holds eight
    /// bytes per event (160 MB for the default 20 million) while it runs.
    ///
    /// # Panics
    /// If the workload has more than 2^40 events, which the sort cannot number.
    pub fn events_by_time(self) -> impl Iterator<Item = Event> {
        assert!(
            self.events <= 1 << EVENT_BITS,
            "at most 2^{EVENT_BITS} events can be put in timestamp order"
        );
        let mut keys: Vec<u64> = (0..self.events)
            .map(|index| {
                let offset = (self.event_ts(index) - EARLIEST_TS) as u64;
                offset << EVENT_BITS | index
            })
            .collect();
        // Keys are distinct (they contain the event number), so an unstable sort is deterministic.
        keys.sort_unstable();
        keys.into_iter()
            .map(move |key| self.event(key & EVENT_MASK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Workload {
        Workload {
            people: 1_000,
            events: 20_000,
            seed: 42,
        }
    }

    #[test]
    fn rows_stay_in_their_ranges() {
        let workload = small();
        for person in workload.people_rows() {
            assert!(person.created_at <= REF_NOW && person.created_at > REF_NOW - 365 * DAY);
        }
        for event in workload.events_by_index() {
            assert!(event.person < workload.people);
            assert!(event.ts <= REF_NOW && event.ts > EARLIEST_TS);
            assert!(event.price_cents < 10_000);
        }
    }

    #[test]
    fn events_by_time_are_sorted_with_ties_by_number() {
        let events: Vec<Event> = small().events_by_time().collect();
        assert_eq!(events.len(), 20_000);
        assert!(
            events
                .windows(2)
                .all(|pair| (pair[0].ts, pair[0].index) < (pair[1].ts, pair[1].index))
        );
    }

    #[test]
    fn prices_keep_two_digits_of_cents() {
        assert_eq!(Price(0).to_string(), "0.00");
        assert_eq!(Price(7).to_string(), "0.07");
        assert_eq!(Price(1205).to_string(), "12.05");
        assert_eq!(Price(9999).to_string(), "99.99");
    }
}
