use serde_json::json;

use super::*;

fn one(kind: &str, value: Value) -> Result<Operation> {
    call(Some(kind), &value, None, 1_000)
}

#[test]
fn identify_names_the_person_by_user_id_or_email_and_attaches_the_anonymous_id() {
    let operation = one(
        "identify",
        json!({"userId": "u1", "anonymousId": "anon-1",
               "traits": {"id": "u1", "email": "Ann@Example.com", "plan": "pro",
                          "createdAt": "2026-12-04T10:00:00.250Z"}}),
    )
    .unwrap();
    let Operation::Identify(identify) = operation else {
        panic!("not an identify: {operation:?}")
    };
    assert_eq!(identify.target, PathIdentifier::explicit(IdType::Id, "u1"));
    assert_eq!(identify.id, None, "traits.id does not change the id");
    assert_eq!(identify.email.as_deref(), Some("Ann@Example.com"));
    assert_eq!(identify.anonymous_id.as_deref(), Some("anon-1"));
    assert_eq!(identify.attributes["plan"], json!("pro"));
    assert_eq!(identify.attributes["created_at"], json!(1_796_378_400));
    assert!(!identify.attributes.contains_key("createdAt"));

    let by_email = one("identify", json!({"traits": {"email": "b@example.com"}})).unwrap();
    let Operation::Identify(by_email) = by_email else {
        panic!("not an identify")
    };
    assert_eq!(
        by_email.target,
        PathIdentifier::explicit(IdType::Email, "b@example.com")
    );

    let anonymous = one("identify", json!({"anonymousId": "a", "traits": {"x": 1}})).unwrap_err();
    assert_eq!(anonymous.field.as_deref(), Some("userId"));
    assert!(
        anonymous.message.contains("anonymousId alone"),
        "{anonymous}"
    );
}

#[test]
fn track_keeps_the_message_id_and_the_iso_time() {
    let operation = one(
        "track",
        json!({"userId": "u1", "event": " purchased ", "properties": {"price": 3},
               "messageId": "node-next-1-abc", "timestamp": "2026-12-04T10:00:00Z"}),
    )
    .unwrap();
    let Operation::Track { target, event } = operation else {
        panic!("not a track: {operation:?}")
    };
    assert_eq!(target.raw, "u1");
    assert_eq!(event.name, "purchased");
    assert_eq!(event.kind, ActivityKind::Event);
    assert_eq!(event.event_id.as_deref(), Some("node-next-1-abc"));
    assert_eq!(event.timestamp, Some(1_796_378_400));
    assert_eq!(event.data["price"], json!(3));

    let anonymous = one("track", json!({"anonymousId": "v1", "event": "viewed"})).unwrap();
    assert!(matches!(
        anonymous,
        Operation::TrackAnonymous { anonymous_id: Some(ref id), .. } if id == "v1"
    ));

    for (body, field) in [
        (json!({"event": "x"}), "userId"),
        (json!({"userId": "u", "event": ""}), "event"),
        (
            json!({"userId": "u", "event": "x", "properties": "no"}),
            "properties",
        ),
        (
            json!({"userId": "u", "event": "x", "timestamp": "yesterday"}),
            "timestamp",
        ),
        (
            json!({"userId": "u", "event": "x", "messageId": 5}),
            "messageId",
        ),
        (json!({"userId": {"a": 1}, "event": "x"}), "userId"),
    ] {
        let error = one("track", body.clone()).unwrap_err();
        assert_eq!(error.field.as_deref(), Some(field), "{body}: {error}");
    }
}

#[test]
fn pages_are_named_by_their_url_and_screens_by_their_name() {
    let page = one(
        "page",
        json!({"userId": "u", "name": "Home", "properties": {"url": "https://a.test/"}}),
    )
    .unwrap();
    assert!(matches!(
        page,
        Operation::Track { ref event, .. } if event.kind == ActivityKind::Page && event.name == "https://a.test/"
    ));
    let from_context = call(
        None,
        &json!({"type": "page", "userId": "u", "name": "Home"}),
        Some(&json!({"page": {"url": "https://a.test/b"}})),
        0,
    )
    .unwrap();
    assert!(matches!(
        from_context,
        Operation::Track { ref event, .. } if event.name == "https://a.test/b"
    ));
    let screen = one("screen", json!({"userId": "u", "name": "Settings"})).unwrap();
    assert!(matches!(
        screen,
        Operation::Track { ref event, .. } if event.kind == ActivityKind::Screen && event.name == "Settings"
    ));
}

#[test]
fn semantic_events_do_what_they_say() {
    let device = one(
        "track",
        json!({"userId": "u", "event": "Device Created or Updated",
               "context": {"device": {"token": "tok", "type": "ios"}},
               "properties": {"app_version": "1.2"}}),
    )
    .unwrap();
    let Operation::AddDevice { device, .. } = device else {
        panic!("not a device: {device:?}")
    };
    assert_eq!(
        (device.token.as_str(), device.platform.as_str()),
        ("tok", "ios")
    );
    assert_eq!(device.attributes["app_version"], json!("1.2"));
    let from_properties = one(
        "track",
        json!({"userId": "u", "event": "Device Created or Updated",
               "properties": {"device": {"token": "t2", "type": "android"}}}),
    )
    .unwrap();
    assert!(
        matches!(from_properties, Operation::AddDevice { ref device, .. } if device.token == "t2")
    );
    let deleted = one(
        "track",
        json!({"userId": "u", "event": "Device Deleted", "context": {"device": {"token": "tok"}}}),
    )
    .unwrap();
    assert!(matches!(deleted, Operation::DeleteDevice { ref token, .. } if token == "tok"));
    for (name, check) in [
        (
            "User Deleted",
            (|o: &Operation| matches!(o, Operation::Delete { .. })) as fn(&Operation) -> bool,
        ),
        ("User Suppressed", |o| {
            matches!(o, Operation::Suppress { .. })
        }),
        ("User Unsuppressed", |o| {
            matches!(o, Operation::Unsuppress { .. })
        }),
    ] {
        let operation = one("track", json!({"userId": "u", "event": name})).unwrap();
        assert!(check(&operation), "{name}: {operation:?}");
        let error = one("track", json!({"anonymousId": "a", "event": name})).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("userId"), "{name}");
    }
    let metric = one(
        "track",
        json!({"userId": "u", "event": "Report Delivery Event",
               "properties": {"deliveryId": "d1", "metric": "opened"}}),
    )
    .unwrap();
    assert!(
        matches!(metric, Operation::Metric(ref m) if m.delivery_id == "d1" && m.metric == "opened")
    );
    let no_token = one(
        "track",
        json!({"userId": "u", "event": "Device Deleted", "context": {"device": {}}}),
    )
    .unwrap_err();
    assert!(
        no_token
            .field
            .as_deref()
            .unwrap_or("")
            .starts_with("context.device")
    );
}

#[test]
fn alias_merges_the_previous_id_into_the_user_id() {
    let merge = one("alias", json!({"userId": "new", "previousId": "old"})).unwrap();
    assert_eq!(
        merge,
        Operation::Merge {
            primary: Identifier::Id("new".into()),
            secondary: Identifier::Id("old".into()),
        }
    );
    let same = one("alias", json!({"userId": "a", "previousId": "a"})).unwrap_err();
    assert_eq!(same.field.as_deref(), Some("previousId"));
}

#[test]
fn groups_make_objects_and_relate_the_user() {
    let group = one(
        "group",
        json!({"userId": "u", "groupId": "acme",
               "traits": {"name": "Acme", "plan": "enterprise", "objectTypeId": "2",
                          "relationshipAttributes": {"role": "admin"}}}),
    )
    .unwrap();
    let Operation::ObjectIdentify {
        object,
        attributes,
        people,
    } = group
    else {
        panic!("not an object identify: {group:?}")
    };
    assert_eq!(
        object,
        ObjectRef::Id {
            object_type_id: "2".into(),
            object_id: "acme".into()
        }
    );
    assert_eq!(
        attributes,
        *json!({"name": "Acme", "plan": "enterprise"})
            .as_object()
            .unwrap()
    );
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].other.raw, "u");
    assert_eq!(people[0].attributes["role"], json!("admin"));
    let default_type = one("group", json!({"userId": "u", "groupId": 7})).unwrap();
    assert!(matches!(
        default_type,
        Operation::ObjectIdentify { object: ObjectRef::Id { ref object_type_id, ref object_id }, .. }
            if object_type_id == "1" && object_id == "7"
    ));
    let no_group = one("group", json!({"userId": "u"})).unwrap_err();
    assert_eq!(no_group.field.as_deref(), Some("groupId"));
    let anonymous = one(
        "group",
        json!({"anonymousId": "a", "groupId": "g", "traits": {"relationshipAttributes": {"role": "x"}}}),
    )
    .unwrap();
    assert!(matches!(
        anonymous,
        Operation::ObjectIdentifyAnonymous { ref visitors, .. }
            if visitors.len() == 1 && visitors[0].other == "a" && visitors[0].attributes["role"] == "x"
    ));
    let deleted = one(
        "track",
        json!({"userId": "u", "event": "Relationship Deleted", "properties": {"groupId": "acme"}}),
    )
    .unwrap();
    assert!(matches!(deleted, Operation::PersonRelationships { ref change, .. } if !change.add));
    let object = one(
        "track",
        json!({"userId": "u", "event": "Object Deleted",
               "properties": {"groupId": "acme", "objectTypeId": 3}}),
    )
    .unwrap();
    assert!(matches!(
        object,
        Operation::ObjectDelete { object: ObjectRef::Id { ref object_type_id, .. } } if object_type_id == "3"
    ));
    let unknown = call(None, &json!({"type": "flush"}), None, 0).unwrap_err();
    assert_eq!(unknown.field.as_deref(), Some("type"));
    let untyped = call(None, &json!({"userId": "u"}), None, 0).unwrap_err();
    assert_eq!(untyped.reason, "required");
}
