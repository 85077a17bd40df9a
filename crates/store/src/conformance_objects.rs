//! Conformance: objects and relationships.

use herald_domain::{ObjectSeq, PersonSeq, WorkspaceId};
use serde_json::{Map, Value, json};

use super::{new_person, new_workspace};
use crate::{NewObject, StoreError, StoreHandle};

fn attributes(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn new_object(store: &StoreHandle, ws: WorkspaceId, object_id: &str, plan: &str) -> ObjectSeq {
    let new = NewObject {
        workspace_id: ws,
        object_type_id: "1".into(),
        object_id: object_id.into(),
        cio_object_id: format!("cio-{object_id}"),
        attributes: attributes(json!({"plan": plan})),
        created_at: 10,
    };
    store
        .write_blocking(move |tx| tx.insert_object(&new))
        .expect("store works")
        .expect("inserted")
        .seq
}

fn relate(store: &StoreHandle, ws: WorkspaceId, person: PersonSeq, object: ObjectSeq, role: &str) {
    let role = attributes(json!({"role": role}));
    store
        .write_blocking(move |tx| tx.save_relationship(ws, person, object, &role, 20))
        .expect("store works")
        .expect("saved");
}

pub fn objects_and_relationships_follow_their_people(store: &StoreHandle) {
    let ws = new_workspace(store, "objects");
    let other_ws = new_workspace(store, "objects-other");
    let acme = new_object(store, ws, "acme", "enterprise");
    let initech = new_object(store, ws, "initech", "free");
    let duplicate = NewObject {
        workspace_id: ws,
        object_type_id: "1".into(),
        object_id: "acme".into(),
        cio_object_id: "cio-other".into(),
        attributes: Map::new(),
        created_at: 11,
    };
    let refused = store
        .write_blocking(move |tx| tx.insert_object(&duplicate))
        .expect("store works");
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let found = store
        .read_blocking(move |r| r.object(ws, "1", "acme"))
        .expect("read")
        .expect("found");
    assert_eq!(found.attributes["plan"], json!("enterprise"));
    assert_eq!(
        store
            .read_blocking(move |r| r.object_by_cio_id(ws, "cio-acme"))
            .expect("read")
            .map(|object| object.seq),
        Some(acme)
    );
    assert!(
        store
            .read_blocking(move |r| r.object(other_ws, "1", "acme"))
            .expect("read")
            .is_none(),
        "objects belong to their workspace"
    );
    let mut changed = found.clone();
    changed.attributes = attributes(json!({"plan": "pro", "seats": 5}));
    changed.updated_at = 30;
    store
        .write_blocking(move |tx| tx.update_object(&changed))
        .expect("store works")
        .expect("updated");
    let found = store
        .read_blocking(move |r| r.object(ws, "1", "acme"))
        .expect("read")
        .expect("found");
    assert_eq!(found.attributes["seats"], json!(5));
    assert_eq!(found.updated_at, 30);

    let ann = new_person(store, ws, "ann", None);
    let bob = new_person(store, ws, "bob", None);
    relate(store, ws, ann, acme, "admin");
    relate(store, ws, ann, initech, "member");
    relate(store, ws, bob, acme, "member");
    relate(store, ws, ann, acme, "owner");
    let of_ann = store
        .read_blocking(move |r| r.person_relationships(ws, ann, None, 10))
        .expect("read");
    let roles: Vec<_> = of_ann
        .iter()
        .map(|r| (r.object.object_id.as_str(), r.attributes["role"].clone()))
        .collect();
    assert_eq!(
        roles,
        [("acme", json!("owner")), ("initech", json!("member"))],
        "saving again replaces the attributes"
    );
    let page = store
        .read_blocking(move |r| r.person_relationships(ws, ann, Some(acme), 10))
        .expect("read");
    assert_eq!(page.len(), 1, "paged after acme");
    let of_acme = store
        .read_blocking(move |r| r.object_relationships(ws, acme, None, 10))
        .expect("read");
    let people: Vec<_> = of_acme.iter().map(|r| r.person.seq).collect();
    assert_eq!(people, [ann, bob]);
    let all = store
        .read_blocking(move |r| r.workspace_relationships(ws))
        .expect("read");
    let pairs: Vec<_> = all
        .iter()
        .map(|(person, r)| (*person, r.object.seq))
        .collect();
    assert_eq!(
        pairs,
        [(ann, acme), (ann, initech), (bob, acme)],
        "by person, then object"
    );
    let of_type: Vec<_> = store
        .read_blocking(move |r| r.objects_of_type(ws, "1", None, 10))
        .expect("read")
        .into_iter()
        .map(|object| object.object_id)
        .collect();
    assert_eq!(of_type, ["acme", "initech"]);
    let after_acme = store
        .read_blocking(move |r| r.objects_of_type(ws, "1", Some(acme), 1))
        .expect("read");
    assert_eq!(after_acme.len(), 1, "paged after acme");
    assert!(
        store
            .read_blocking(move |r| r.objects_of_type(ws, "2", None, 10))
            .expect("read")
            .is_empty()
    );
    let types = store
        .read_blocking(move |r| r.object_types(ws))
        .expect("read");
    assert_eq!(types.len(), 1);
    assert_eq!(
        (types[0].object_type_id.as_str(), types[0].objects),
        ("1", 2)
    );

    // A merge gives the primary the relationships it lacks; the secondary keeps none.
    let cy = new_person(store, ws, "cy", None);
    relate(store, ws, cy, initech, "cy-role");
    store
        .write_blocking(move |tx| tx.move_relationships(ws, ann, cy))
        .expect("store works")
        .expect("moved");
    let of_cy = store
        .read_blocking(move |r| r.person_relationships(ws, cy, None, 10))
        .expect("read");
    let roles: Vec<_> = of_cy
        .iter()
        .map(|r| (r.object.object_id.as_str(), r.attributes["role"].clone()))
        .collect();
    assert_eq!(
        roles,
        [("acme", json!("owner")), ("initech", json!("cy-role"))]
    );
    assert!(
        store
            .read_blocking(move |r| r.person_relationships(ws, ann, None, 10))
            .expect("read")
            .is_empty()
    );

    // Deleting a person or an object takes their relationships along.
    let deleted = store
        .write_blocking(move |tx| {
            tx.delete_person(ws, bob, 40)?;
            let gone = tx.delete_relationship(ws, cy, initech)?;
            let again = tx.delete_relationship(ws, cy, initech)?;
            Ok::<_, StoreError>((gone, again))
        })
        .expect("store works")
        .expect("deleted");
    assert_eq!(deleted, (true, false));
    let of_acme = store
        .read_blocking(move |r| r.object_relationships(ws, acme, None, 10))
        .expect("read");
    let people: Vec<_> = of_acme.iter().map(|r| r.person.seq).collect();
    assert_eq!(people, [cy], "bob was deleted");
    store
        .write_blocking(move |tx| tx.delete_object(ws, acme))
        .expect("store works")
        .expect("deleted");
    assert!(
        store
            .read_blocking(move |r| r.person_relationships(ws, cy, None, 10))
            .expect("read")
            .is_empty()
    );
    assert!(
        store
            .read_blocking(move |r| r.object(ws, "1", "acme"))
            .expect("read")
            .is_none()
    );
}

pub fn anonymous_relationships_wait_for_their_identify(store: &StoreHandle) {
    let ws = new_workspace(store, "anonymous-relationships");
    let acme = new_object(store, ws, "acme", "enterprise");
    let initech = new_object(store, ws, "initech", "free");
    let save = |anonymous_id: &'static str, object: ObjectSeq, role: &str| {
        let role = attributes(json!({"role": role}));
        store
            .write_blocking(move |tx| {
                tx.save_anonymous_relationship(ws, anonymous_id, object, &role, 30)
            })
            .expect("store works")
            .expect("saved");
    };
    save("anon-1", initech, "viewer");
    save("anon-1", acme, "guest");
    save("anon-1", acme, "admin");
    save("anon-2", acme, "guest");
    let take = |anonymous_id: &'static str| {
        store
            .write_blocking(move |tx| tx.take_anonymous_relationships(ws, anonymous_id))
            .expect("store works")
            .expect("taken")
            .into_iter()
            .map(|relationship| (relationship.object.seq, relationship.attributes))
            .collect::<Vec<_>>()
    };
    // In object order, the last attributes saved, and only once.
    assert_eq!(
        take("anon-1"),
        vec![
            (acme, attributes(json!({"role": "admin"}))),
            (initech, attributes(json!({"role": "viewer"})))
        ]
    );
    assert_eq!(take("anon-1"), Vec::new());
    // An object's deletion takes the relationships kept for it.
    store
        .write_blocking(move |tx| tx.delete_object(ws, acme))
        .expect("store works")
        .expect("deleted");
    assert_eq!(take("anon-2"), Vec::new());
}
