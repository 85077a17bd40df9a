//! Customer search on a real SQLite store and a running engine, with chunks of two people so
//! that every page crosses chunk boundaries.

use herald_domain::PersonSeq;
use serde_json::{Value, json};

use crate::service_tests::{NOW, Setup, setup};
use crate::{PeopleFilter, SegmentsError};

fn identify(id: &str, attributes: Value) -> Value {
    json!({"type": "person", "identifiers": {"id": id}, "action": "identify", "attributes": attributes})
}

fn purchase(id: &str) -> Value {
    json!({"type": "person", "identifiers": {"id": id}, "action": "event", "name": "purchase", "timestamp": NOW - 10})
}

impl Setup {
    /// Every page of a search, `limit` people each: the ids of each page, in order.
    fn pages(&self, filter: &Value, limit: usize) -> Vec<Vec<String>> {
        let filter = PeopleFilter::parse(filter).expect("a valid filter");
        let mut pages = Vec::new();
        let mut after: Option<PersonSeq> = None;
        loop {
            let page = self
                .runtime
                .block_on(self.segments.search_people_in_chunks(
                    self.workspace,
                    &filter,
                    after,
                    limit,
                    2,
                ))
                .expect("searched");
            pages.push(
                page.people
                    .iter()
                    .map(|p| p.id.clone().unwrap_or_default())
                    .collect(),
            );
            match page.next {
                Some(next) => {
                    assert_eq!(Some(next), page.people.last().map(|p| p.seq));
                    after = Some(next);
                }
                None => return pages,
            }
        }
    }
}

fn people(s: &Setup) {
    s.track(&[
        identify("p1", json!({"plan": "pro"})),
        identify("p2", json!({"plan": "free"})),
        identify("p3", json!({"plan": "pro"})),
        identify("p4", json!({})),
        identify("p5", json!({"plan": "pro"})),
        identify("p6", json!({"plan": "pro"})),
        identify("p7", json!({"plan": "free"})),
        purchase("p2"),
        purchase("p3"),
        purchase("p6"),
        purchase("p7"),
        json!({"type": "person", "identifiers": {"id": "p5"}, "action": "delete"}),
    ]);
}

#[test]
fn attribute_searches_page_through_everyone_in_order() {
    let s = setup();
    people(&s);
    let pro = json!({"attribute": {"field": "plan", "operator": "eq", "value": "pro"}});
    assert_eq!(s.pages(&pro, 2), vec![vec!["p1", "p3"], vec!["p6"]]);
    // A page that ends exactly with the last match says so: no next page.
    assert_eq!(s.pages(&pro, 3), vec![vec!["p1", "p3", "p6"]]);
    let without_plan =
        json!({"attribute": {"field": "plan", "operator": "exists", "inverse": true}});
    assert_eq!(s.pages(&without_plan, 50), vec![vec!["p4"]]);
    let nobody = json!({"attribute": {"field": "plan", "operator": "eq", "value": "gold"}});
    assert_eq!(s.pages(&nobody, 50), vec![Vec::<String>::new()]);
}

#[test]
fn segment_searches_combine_memberships_and_attributes() {
    let s = setup();
    people(&s);
    let buyers = s
        .create(Some(json!({"event": {"name": "purchase"}})))
        .expect("created")
        .id;
    let segment = json!({"segment": {"id": buyers.get()}});
    assert_eq!(
        s.pages(&segment, 2),
        vec![vec!["p2", "p3"], vec!["p6", "p7"]]
    );
    let pro_buyers = json!({"and": [
        {"attribute": {"field": "plan", "operator": "eq", "value": "pro"}},
        {"and": [segment.clone()]}
    ]});
    assert_eq!(s.pages(&pro_buyers, 1), vec![vec!["p3"], vec!["p6"]]);
    let not_buyers = json!({"not": segment.clone()});
    assert_eq!(s.pages(&not_buyers, 2), vec![vec!["p1", "p4"]]);
    let either =
        json!({"or": [segment, {"attribute": {"field": "id", "operator": "eq", "value": "p1"}}]});
    assert_eq!(
        s.pages(&either, 10),
        vec![vec!["p1", "p2", "p3", "p6", "p7"]]
    );
}

#[test]
fn a_filter_naming_a_missing_segment_is_refused() {
    let s = setup();
    people(&s);
    let filter = PeopleFilter::parse(&json!({"or": [{"segment": {"id": 99}}]})).expect("parses");
    let refused = s
        .runtime
        .block_on(s.segments.search_people(s.workspace, &filter, None, 10));
    assert!(
        matches!(&refused, Err(SegmentsError::Invalid(message)) if message.contains("segment 99, which does not exist")),
        "{refused:?}"
    );
}
