//! The reads of the App API's customer search and a person's messages: people oldest first
//! from a cursor, and one person's deliveries newest first within a time window.

use herald_domain::{PersonSeq, RunId};
use serde_json::json;

use super::{campaign, new_person, new_workspace};
use crate::{
    CampaignState, DeliveryRow, DeliveryStatus, PersonDeliveryQuery, StoreError, StoreHandle,
};

pub fn people_are_scanned_oldest_first_after_a_cursor(store: &StoreHandle) {
    let ws = new_workspace(store, "people-scan");
    let other = new_workspace(store, "people-scan-other");
    let ann = new_person(store, ws, "ann", None);
    let gone = new_person(store, ws, "gone", None);
    new_person(store, other, "elsewhere", None);
    let bob = new_person(store, ws, "bob", Some("bob@example.com"));
    let cy = new_person(store, ws, "cy", None);
    store
        .write_blocking(move |tx| tx.delete_person(ws, gone, 20))
        .expect("store works")
        .expect("deleted");
    let scan = |after: Option<PersonSeq>, limit: usize| {
        store
            .read_blocking(move |r| r.people_after(ws, after, limit))
            .expect("read")
            .iter()
            .map(|p| p.seq)
            .collect::<Vec<_>>()
    };
    // The deleted and other workspaces' people are never listed.
    assert_eq!(scan(None, 2), vec![ann, bob]);
    assert_eq!(scan(Some(bob), 2), vec![cy]);
    assert_eq!(scan(Some(gone), 10), vec![bob, cy]);
    assert_eq!(scan(Some(cy), 10), Vec::<PersonSeq>::new());
    let people = store
        .read_blocking(move |r| r.people_after(ws, Some(ann), 1))
        .expect("read");
    assert_eq!(people[0].email.as_deref(), Some("bob@example.com"));
}

pub fn a_persons_deliveries_are_paged_newest_first_within_a_window(store: &StoreHandle) {
    let ws = new_workspace(store, "person-deliveries");
    let person = new_person(store, ws, "p1", None);
    let other_person = new_person(store, ws, "p2", None);
    let campaign_id = campaign(store, ws, CampaignState::Running);
    let mut run = 0;
    let mut delivery = |id: &str, person_seq: PersonSeq, created_at: i64| {
        run += 1;
        DeliveryRow {
            id: id.into(),
            workspace_id: ws,
            campaign_id,
            run_id: RunId::new(run),
            person_seq,
            step: 0,
            channel: "email".into(),
            status: DeliveryStatus::Sent,
            content: json!({"to": "p1@example.com", "subject": id}),
            idempotency_key: format!("{id}-key"),
            attempts: 1,
            error: None,
            created_at,
            updated_at: created_at,
            sent_at: Some(created_at),
        }
    };
    // Two deliveries of the same second are ordered by id, so a cursor can fall between them.
    let rows = vec![
        delivery("d1", person, 10),
        delivery("d2", person, 20),
        delivery("d3", person, 20),
        delivery("d4", person, 30),
        delivery("x1", other_person, 20),
    ];
    store
        .write_blocking(move |tx| {
            for row in &rows {
                tx.insert_delivery(row)?;
            }
            Ok::<_, StoreError>(())
        })
        .expect("store works")
        .expect("inserted");
    let page = |created_from: Option<i64>,
                created_to: Option<i64>,
                after: Option<(i64, &str)>,
                limit: i64| {
        let query = PersonDeliveryQuery {
            workspace_id: ws,
            person_seq: person,
            created_from,
            created_to,
            after: after.map(|(time, id)| (time, id.to_owned())),
            limit,
        };
        store
            .read_blocking(move |r| r.person_deliveries(&query))
            .expect("read")
            .into_iter()
            .map(|d| d.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(page(None, None, None, 10), ["d4", "d3", "d2", "d1"]);
    assert_eq!(page(None, None, None, 2), ["d4", "d3"]);
    assert_eq!(page(None, None, Some((20, "d3")), 2), ["d2", "d1"]);
    assert_eq!(page(None, None, Some((10, "d1")), 2), Vec::<String>::new());
    assert_eq!(page(Some(20), Some(20), None, 10), ["d3", "d2"]);
    assert_eq!(
        page(Some(11), None, Some((20, "d2")), 10),
        Vec::<String>::new()
    );
    assert_eq!(page(None, Some(19), None, 10), ["d1"]);
}
