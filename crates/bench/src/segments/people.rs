//! The workload regrouped per person, because the engine takes history one person at a time.
//!
//! Holding 20 million events as `EventRecord`s with their `serde_json` data would take gigabytes,
//! so each event is kept as an 8-byte row in person order, and a person's `PersonHistory` is
//! made from those rows only when a build or a load asks for it.

use herald_segment_engine::{EventKind, EventRecord, PersonHistory, PersonId};
use serde_json::{Map, Value};

use crate::workload::{NAMES, REF_NOW, Workload};

/// The grouping sort packs the person above this many bits and the event number below.
const EVENT_BITS: u32 = 40;
const EVENT_MASK: u64 = (1 << EVENT_BITS) - 1;

/// One event as the benchmark keeps it between builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Seconds before `REF_NOW`: the workload's timestamps span 180 days, which fits 32 bits.
    pub back: u32,
    /// The price in cents, below 10,000.
    pub price_cents: u16,
    /// The index of the name in `NAMES`.
    pub name: u8,
}

impl Row {
    pub fn timestamp(self) -> i64 {
        REF_NOW - i64::from(self.back)
    }

    pub fn name(self) -> &'static str {
        NAMES[usize::from(self.name)]
    }

    /// The event as the store would hand it to the engine: data `{"price": …}`.
    pub fn record(self) -> EventRecord {
        event_record(self.name(), self.timestamp(), self.price_cents)
    }
}

/// An event with the workload's data shape, `{"price": 12.05}`.
pub fn event_record(name: &str, timestamp: i64, price_cents: u16) -> EventRecord {
    let mut data = Map::new();
    // Dividing the integer cents by 100 gives the double nearest to the decimal price, the same
    // value the SQL baselines parse from the CSV.
    data.insert(
        "price".to_owned(),
        Value::from(f64::from(price_cents) / 100.0),
    );
    EventRecord {
        name: name.to_owned(),
        kind: EventKind::Event,
        timestamp,
        data,
    }
}

/// Every person's events, in person order and, per person, in timestamp order with ties by event
/// number, as `events.csv` orders them.
pub struct People {
    workload: Workload,
    /// Person `k`'s rows are `rows[starts[k]..starts[k + 1]]`.
    starts: Vec<usize>,
    rows: Vec<Row>,
}

impl People {
    /// Groups the workload's events by person. This holds 16 bytes per event while it runs and
    /// 8 afterwards.
    ///
    /// # Panics
    /// If the workload has 2^24 people or more, or 2^40 events or more, which the sort key cannot
    /// hold.
    pub fn group(workload: Workload) -> Self {
        assert!(
            workload.people < 1 << (64 - EVENT_BITS) && workload.events <= 1 << EVENT_BITS,
            "the grouping sort holds at most 2^24 people and 2^40 events"
        );
        let mut keys: Vec<u64> = (0..workload.events)
            .map(|index| workload.event(index).person << EVENT_BITS | index)
            .collect();
        keys.sort_unstable();
        let mut starts = Vec::with_capacity(workload.people as usize + 1);
        let mut rows = Vec::with_capacity(keys.len());
        let mut keys = keys.into_iter().peekable();
        for person in 0..workload.people {
            let begin = rows.len();
            starts.push(begin);
            while let Some(key) = keys.next_if(|key| key >> EVENT_BITS == person) {
                let event = workload.event(key & EVENT_MASK);
                rows.push(Row {
                    // Timestamps are at most 180 days before REF_NOW, so the difference fits.
                    back: (REF_NOW - event.ts) as u32,
                    price_cents: event.price_cents as u16,
                    name: NAMES
                        .iter()
                        .position(|name| *name == event.name)
                        .unwrap_or_default() as u8,
                });
            }
            // The rows are in event-number order, so a stable sort by time keeps ties in it.
            rows[begin..].sort_by_key(|row: &Row| std::cmp::Reverse(row.back));
        }
        starts.push(rows.len());
        Self {
            workload,
            starts,
            rows,
        }
    }

    pub fn workload(&self) -> Workload {
        self.workload
    }

    pub fn len(&self) -> u64 {
        self.workload.people
    }

    pub fn is_empty(&self) -> bool {
        self.workload.people == 0
    }

    /// Person `person`'s rows.
    pub fn rows(&self, person: u64) -> &[Row] {
        let person = person as usize;
        &self.rows[self.starts[person]..self.starts[person + 1]]
    }

    /// Person `person`'s attributes as the store gives them to the engine: the identifier `id`
    /// next to the workload's `plan`, `country` and `created_at`.
    pub fn attributes(&self, person: u64) -> Map<String, Value> {
        let row = self.workload.person(person);
        let mut attributes = Map::new();
        attributes.insert("id".to_owned(), Value::from(format!("u{person}")));
        attributes.insert("plan".to_owned(), Value::from(row.plan));
        attributes.insert("country".to_owned(), Value::from(row.country));
        attributes.insert("created_at".to_owned(), Value::from(row.created_at));
        attributes
    }

    /// Person `person`'s full history. First seen is the workload's `created_at`.
    pub fn history(&self, person: u64) -> PersonHistory {
        PersonHistory {
            attributes: self.attributes(person),
            first_seen: self.workload.person(person).created_at,
            events: self.rows(person).iter().map(|row| row.record()).collect(),
            earliest_event: None,
        }
    }

    /// Every person's full history, made one person at a time.
    pub fn histories(&self) -> impl Iterator<Item = (PersonId, PersonHistory)> + '_ {
        (0..self.len()).map(|person| (person as PersonId, self.history(person)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_keeps_every_event_once_in_time_order() {
        let workload = Workload {
            people: 300,
            events: 5_000,
            seed: 42,
        };
        let people = People::group(workload);
        let mut expected: Vec<Vec<(i64, u64)>> = vec![Vec::new(); 300];
        for event in workload.events_by_index() {
            expected[event.person as usize].push((event.ts, event.index));
        }
        for (person, events) in expected.iter_mut().enumerate() {
            events.sort_unstable();
            let rows = people.rows(person as u64);
            let by_index: Vec<Row> = events
                .iter()
                .map(|(_, index)| {
                    let event = workload.event(*index);
                    Row {
                        back: (REF_NOW - event.ts) as u32,
                        price_cents: event.price_cents as u16,
                        name: NAMES.iter().position(|n| *n == event.name).unwrap() as u8,
                    }
                })
                .collect();
            assert_eq!(rows, by_index.as_slice(), "person {person}");
        }
    }

    #[test]
    fn records_carry_the_price_as_a_number() {
        let record = event_record("purchased", 7, 2001);
        assert_eq!(record.data["price"], serde_json::json!(20.01));
        assert_eq!(record.timestamp, 7);
    }
}
