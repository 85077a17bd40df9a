//! The member counts the server must reach, computed from the workload rows alone.

use herald_bench::segments::definitions::{Segment, benchmark, reference_counts};
use herald_bench::workload::{REF_NOW, Workload};
use serde_json::{Value, json};

const DAY: i64 = 86_400;

/// A segment the benchmark creates, with the count it must reach.
pub struct Expected {
    pub name: &'static str,
    pub definition: Value,
    pub count: usize,
}

/// S1–S3 of workload.md.
pub fn benchmark_segments(workload: Workload) -> Vec<Expected> {
    let counts = reference_counts(workload);
    benchmark()
        .into_iter()
        .zip(counts)
        .map(
            |(
                Segment {
                    name, definition, ..
                },
                count,
            )| Expected {
                name,
                definition,
                count,
            },
        )
        .collect()
}

/// The segments created after the restart: the issue's "performed `login` at least 5 times
/// within 30 days" (read from the index), and a "has not performed `churned` in 30 days" with
/// the profile-age rule, which is built person by person.
pub fn new_segments(workload: Workload) -> Vec<Expected> {
    let people = workload.people as usize;
    let mut logins = vec![0_u32; people];
    let mut churned = vec![false; people];
    for event in workload.events_by_index() {
        let person = event.person as usize;
        let within_30 = event.ts > REF_NOW - 30 * DAY && event.ts <= REF_NOW;
        match event.name {
            "login" if within_30 => logins[person] += 1,
            "churned" if within_30 => churned[person] = true,
            _ => {}
        }
    }
    let login5 = logins.iter().filter(|n| **n >= 5).count();
    // The load sends each person's `created_at`, which is where the profile age starts.
    let not_churned = (0..people)
        .filter(|k| workload.person(*k as u64).created_at <= REF_NOW - 30 * DAY && !churned[*k])
        .count();
    vec![
        Expected {
            name: "login5",
            definition: json!({"event": {"name": "login", "count": {"at_least": 5}, "within": {"days": 30}}}),
            count: login5,
        },
        Expected {
            name: "not_churned",
            definition: json!({"event": {"name": "churned", "performed": false, "within": {"days": 30}, "require_profile_age": true}}),
            count: not_churned,
        },
    ]
}
