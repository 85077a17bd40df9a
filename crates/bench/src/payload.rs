//! The requests the generator sends, built once before the run so that building them costs
//! nothing while the server is measured.

use hyper::body::Bytes;
use hyper::{Method, Uri};

use crate::args::{Names, Scenario};
use herald_bench::workload::Workload;

/// Distinct requests per scenario. For `batch` this is 1,024 bodies of 100 events (about 15 MB),
/// enough to reach ~100,000 distinct people; for `single` it is 65,536 paths.
const BATCH_POOL: usize = 1_024;
const BATCH_POOL_BYTES: usize = 16 * 1024 * 1024;
const SINGLE_POOL: usize = 65_536;

/// One prepared request: its path and its JSON body.
pub struct Prepared {
    pub path: Uri,
    pub body: Bytes,
}

/// The pool of prepared requests, their method and how many events each one carries.
pub struct Payloads {
    pub method: Method,
    pub requests: Vec<Prepared>,
    pub events_per_request: u64,
}

impl Payloads {
    pub fn build(scenario: Scenario, batch_size: usize, people: u64, names: Names) -> Self {
        let mut names = EventNames::new(names);
        let mut people = People::new(people);
        match scenario {
            Scenario::Batch => Self {
                method: Method::POST,
                // About 150 bytes an event; large batches get a smaller pool, so that the pool
                // stays near 16 MB whatever the batch size.
                requests: (0..BATCH_POOL.min((BATCH_POOL_BYTES / (batch_size * 150)).max(16)))
                    .map(|_| Prepared {
                        path: Uri::from_static("/api/v2/batch"),
                        body: Bytes::from(batch_body(&mut people, &mut names, batch_size)),
                    })
                    .collect(),
                events_per_request: batch_size as u64,
            },
            Scenario::Single => {
                // Every single event has the same body; sharing one buffer keeps the pool small.
                let body =
                    Bytes::from_static(br#"{"name":"purchased","data":{"price":12.5,"sku":"a1"}}"#);
                Self {
                    method: Method::POST,
                    requests: (0..SINGLE_POOL)
                        .map(|_| Prepared {
                            path: single_path(people.next()),
                            body: body.clone(),
                        })
                        .collect(),
                    events_per_request: 1,
                }
            }
            Scenario::Healthz => Self {
                method: Method::GET,
                requests: vec![Prepared {
                    path: Uri::from_static("/healthz"),
                    body: Bytes::new(),
                }],
                events_per_request: 0,
            },
        }
    }
}

fn single_path(person: u64) -> Uri {
    format!("/api/v1/customers/u{person}/events")
        .parse()
        .expect("a path of ASCII letters and digits is a valid URI")
}

/// `{"batch":[…]}` with `size` events of people drawn from `people`, named by `names`.
fn batch_body(people: &mut People, names: &mut EventNames, size: usize) -> String {
    let mut body = String::with_capacity(32 + size * 150);
    body.push_str(r#"{"batch":["#);
    for index in 0..size {
        if index > 0 {
            body.push(',');
        }
        let person = people.next();
        let name = names.next();
        // The price varies so that rows are not byte-identical, as real traffic would not be.
        let cents = person % 10_000;
        body.push_str(&format!(
            r#"{{"type":"person","identifiers":{{"id":"u{person}"}},"action":"event","name":"{name}","attributes":{{"price":{}.{:02},"sku":"a1"}}}}"#,
            cents / 100,
            cents % 100
        ));
    }
    body.push_str("]}");
    body
}

/// The events' names, in turn: always `purchased`, or those of the workload's events in order.
struct EventNames {
    names: Names,
    workload: Workload,
    next: u64,
}

impl EventNames {
    fn new(names: Names) -> Self {
        Self {
            names,
            workload: Workload::default(),
            next: 0,
        }
    }

    fn next(&mut self) -> &'static str {
        match self.names {
            Names::Purchased => "purchased",
            Names::Workload => {
                self.next += 1;
                self.workload.event(self.next - 1).name
            }
        }
    }
}

/// Person numbers spread uniformly over `0..count` by splitmix64 (the generator of
/// `/work/shared/bench/workload.md`), so each run sends the same people in the same order.
struct People {
    count: u64,
    state: u64,
}

impl People {
    fn new(count: u64) -> Self {
        Self {
            count: count.max(1),
            state: 42,
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_healthz_scenario_reads_and_stores_nothing() {
        let payloads = Payloads::build(Scenario::Healthz, 100, 1_000, Names::Purchased);
        assert_eq!(payloads.method, Method::GET);
        assert_eq!(payloads.events_per_request, 0);
        assert_eq!(payloads.requests.len(), 1);
        assert_eq!(payloads.requests[0].path, "/healthz");
        assert!(payloads.requests[0].body.is_empty());
        let single = Payloads::build(Scenario::Single, 100, 1_000, Names::Purchased);
        assert_eq!(single.method, Method::POST);
    }

    #[test]
    fn a_batch_body_is_json_with_the_requested_number_of_events() {
        let body = batch_body(
            &mut People::new(1000),
            &mut EventNames::new(Names::Purchased),
            100,
        );
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        let items = value["batch"].as_array().unwrap();
        assert_eq!(items.len(), 100);
        assert_eq!(items[0]["name"], "purchased");
        assert!(
            items[0]["identifiers"]["id"]
                .as_str()
                .unwrap()
                .starts_with('u')
        );
        assert!(items[0]["attributes"]["price"].is_f64());
    }

    #[test]
    fn workload_names_follow_the_workloads_events_with_its_skew() {
        let body = batch_body(
            &mut People::new(1000),
            &mut EventNames::new(Names::Workload),
            1_000,
        );
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        let names: Vec<&str> = value["batch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["name"].as_str().unwrap())
            .collect();
        let workload = Workload::default();
        assert!((0..1_000).all(|index| names[index] == workload.event(index as u64).name));
        let logins = names.iter().filter(|name| **name == "login").count();
        assert!((150..320).contains(&logins), "login is about 23%: {logins}");
        let distinct: std::collections::HashSet<_> = names.iter().collect();
        assert!(
            distinct.len() > 20,
            "most of the 40 names: {}",
            distinct.len()
        );
    }

    #[test]
    fn people_stay_in_range_and_spread() {
        let mut people = People::new(100);
        let drawn: std::collections::HashSet<u64> = (0..10_000).map(|_| people.next()).collect();
        assert!(drawn.iter().all(|&person| person < 100));
        assert_eq!(drawn.len(), 100);
    }
}
