//! The segments of workload.md in Herald's definition format, and a plain count of their members
//! straight from the workload rows, which checks that the definitions mean what the SQL means.

use herald_segment_engine::{Definition, SegmentId};
use serde_json::{Value, json};

use crate::workload::{REF_NOW, Workload};

const DAY: i64 = 86_400;

/// One segment of the benchmark.
#[derive(Debug, Clone)]
pub struct Segment {
    pub id: SegmentId,
    pub name: &'static str,
    pub definition: Value,
    /// workload.md's member count, which holds for the default workload only.
    pub published_count: usize,
}

impl Segment {
    pub fn parse(&self) -> Definition {
        // The definitions are constants of this module, and a test parses each of them.
        Definition::parse(&self.definition).expect("the benchmark's definitions are valid")
    }
}

/// S1, S2 and S3 of workload.md. Herald's `within` counts `now − window < ts ≤ now`, which is the
/// SQL's `ts > REF − window` since no event is stamped after REF_NOW. S2's "has not performed"
/// leaves `require_profile_age` at false, the plain semantics that the SQL states.
pub fn benchmark() -> [Segment; 3] {
    [
        Segment {
            id: SegmentId::new(1),
            name: "S1",
            definition: json!({"event": {"name": "created_project", "within": {"days": 30}}}),
            published_count: 125_849,
        },
        Segment {
            id: SegmentId::new(2),
            name: "S2",
            definition: json!({"and": [
                {"event": {
                    "name": "purchased",
                    "where": [{"field": "price", "op": "gt", "value": 20}],
                    "count": {"at_least": 3},
                    "within": {"days": 30}
                }},
                {"event": {
                    "name": "invited_friend",
                    "performed": false,
                    "within": {"days": 14},
                    "require_profile_age": false
                }}
            ]}),
            published_count: 597,
        },
        Segment {
            id: SegmentId::new(3),
            name: "S3",
            definition: json!({"or": [
                {"and": [
                    {"attribute": {"field": "plan", "op": "eq", "value": "pro"}},
                    {"event": {"name": "login", "within": {"days": 7}}}
                ]},
                {"event": {"name": "signup", "within": {"days": 2}}}
            ]}),
            published_count: 56_329,
        },
    ]
}

/// The segment of the midnight case: everyone who sent `midnight_ping` in the last day. When
/// every person sent it at the same second, every person leaves it at the same second a day later.
pub fn storm() -> Segment {
    Segment {
        id: SegmentId::new(4),
        name: "midnight",
        definition: json!({"event": {"name": "midnight_ping", "within": {"days": 1}}}),
        published_count: 0,
    }
}

/// The event name of the midnight case; the workload never uses it.
pub const STORM_EVENT: &str = "midnight_ping";

/// The member counts of S1, S2 and S3 at REF_NOW, computed the way the SQL baselines compute
/// them, from the workload's rows in event-number order and without the engine or the grouping.
pub fn reference_counts(workload: Workload) -> [usize; 3] {
    let people = workload.people as usize;
    let mut created_30 = vec![false; people];
    let mut purchases_30 = vec![0_u32; people];
    let mut invited_14 = vec![false; people];
    let mut login_7 = vec![false; people];
    let mut signup_2 = vec![false; people];
    for event in workload.events_by_index() {
        let person = event.person as usize;
        let after = |days: i64| event.ts > REF_NOW - days * DAY && event.ts <= REF_NOW;
        match event.name {
            "created_project" if after(30) => created_30[person] = true,
            // `price > 20` on the decimal price is `cents > 2000` on the integer cents.
            "purchased" if after(30) && event.price_cents > 2_000 => purchases_30[person] += 1,
            "invited_friend" if after(14) => invited_14[person] = true,
            "login" if after(7) => login_7[person] = true,
            "signup" if after(2) => signup_2[person] = true,
            _ => {}
        }
    }
    let s1 = created_30.iter().filter(|did| **did).count();
    let s2 = (0..people)
        .filter(|k| purchases_30[*k] >= 3 && !invited_14[*k])
        .count();
    let s3 = (0..people)
        .filter(|k| (workload.person(*k as u64).plan == "pro" && login_7[*k]) || signup_2[*k])
        .count();
    [s1, s2, s3]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_parse() {
        for segment in benchmark() {
            segment.parse();
        }
        storm().parse();
    }
}
