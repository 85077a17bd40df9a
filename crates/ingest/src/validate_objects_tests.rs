use serde_json::json;

use super::*;
use crate::validate_v2;

fn v2(value: Value) -> std::result::Result<Option<Operation>, ValidationError> {
    validate_v2::operation(&value, 0)
}

#[test]
fn objects_are_named_by_type_and_id_or_by_cio_object_id() {
    assert_eq!(
        object_ref(
            Some(&json!({"object_type_id": 1, "object_id": 42})),
            "identifiers"
        )
        .unwrap(),
        ObjectRef::Id {
            object_type_id: "1".into(),
            object_id: "42".into()
        }
    );
    assert_eq!(
        object_ref(Some(&json!({"cio_object_id": "ob1"})), "identifiers").unwrap(),
        ObjectRef::CioId("ob1".into())
    );
    for (bad, field) in [
        (json!({"object_id": "a"}), "identifiers.object_type_id"),
        (
            json!({"object_type_id": "0", "object_id": "a"}),
            "identifiers.object_type_id",
        ),
        (
            json!({"object_type_id": "x", "object_id": "a"}),
            "identifiers.object_type_id",
        ),
        (json!({"object_type_id": "1"}), "identifiers.object_id"),
        (
            json!({"object_type_id": "1", "object_id": ""}),
            "identifiers.object_id",
        ),
        (
            json!({"object_type_id": "1", "object_id": "a\u{0}b"}),
            "identifiers.object_id",
        ),
    ] {
        let error = object_ref(Some(&bad), "identifiers").unwrap_err();
        assert_eq!(error.field.as_deref(), Some(field), "{bad}: {error}");
    }
}

#[test]
fn v2_object_operations_and_person_relationships_are_read() {
    let identify = v2(json!({"type": "object", "action": "identify",
        "identifiers": {"object_type_id": "1", "object_id": "acme"},
        "attributes": {"plan": "enterprise", "old": null},
        "cio_relationships": [{"identifiers": {"id": "42"}, "relationship_attributes": {"role": "admin"}}]}))
    .unwrap()
    .unwrap();
    let Operation::ObjectIdentify {
        attributes, people, ..
    } = identify
    else {
        panic!("not an object identify: {identify:?}")
    };
    assert_eq!(
        attributes["old"],
        Value::Null,
        "a null removes, so it is kept to say so"
    );
    assert_eq!(people[0].other, PathIdentifier::explicit(IdType::Id, "42"));
    assert_eq!(people[0].attributes["role"], json!("admin"));

    let delete = v2(json!({"type": "object", "action": "delete",
        "identifiers": {"cio_object_id": "ob1"}}))
    .unwrap()
    .unwrap();
    assert!(matches!(
        delete,
        Operation::ObjectDelete {
            object: ObjectRef::CioId(_)
        }
    ));

    let removed = v2(json!({"type": "person", "action": "delete_relationships",
        "identifiers": {"email": "a@b.c"},
        "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}}]}))
    .unwrap()
    .unwrap();
    assert!(
        matches!(removed, Operation::PersonRelationships { ref change, .. } if !change.add && change.with.len() == 1)
    );

    let person_identify = v2(json!({"type": "person", "action": "identify",
        "identifiers": {"id": "42"}, "attributes": {"name": "Jane"},
        "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}}]}))
    .unwrap()
    .unwrap();
    assert!(matches!(person_identify, Operation::Identify(ref input)
        if input.relationships.as_ref().is_some_and(|change| change.add && change.with.len() == 1)));

    for (bad, field) in [
        (
            json!({"type": "person", "action": "add_relationships", "identifiers": {"id": "1"}}),
            "cio_relationships",
        ),
        (
            json!({"type": "person", "action": "add_relationships", "identifiers": {"id": "1"},
                "cio_relationships": [{"identifiers": {"object_id": "a"}}]}),
            "cio_relationships[0].identifiers.object_type_id",
        ),
        (
            json!({"type": "object", "action": "add_relationships",
                "identifiers": {"object_type_id": "1", "object_id": "a"},
                "cio_relationships": [{"identifiers": {"id": "1", "email": "a@b.c"}}]}),
            "cio_relationships[0].identifiers",
        ),
        (
            json!({"type": "object", "action": "identify",
                "identifiers": {"object_type_id": "1", "object_id": "a"},
                "cio_relationships": [{"identifiers": {"id": "1"}, "relationship_attributes": 5}]}),
            "cio_relationships[0].relationship_attributes",
        ),
        (
            json!({"type": "object", "action": "explode",
                "identifiers": {"object_type_id": "1", "object_id": "a"}}),
            "action",
        ),
    ] {
        let error = v2(bad.clone()).unwrap_err();
        assert_eq!(error.field.as_deref(), Some(field), "{bad}: {error}");
    }
    let anonymous = v2(json!({"type": "object", "action": "identify_anonymous",
        "identifiers": {"object_type_id": "1", "object_id": "a"}, "attributes": {"plan": "pro"},
        "cio_relationships": [{"identifiers": {"anonymous_id": "visitor-1"},
                               "relationship_attributes": {"role": "trial"}}]}))
    .unwrap()
    .expect("an operation");
    let Operation::ObjectIdentifyAnonymous {
        attributes,
        visitors,
        ..
    } = anonymous
    else {
        panic!("an identify_anonymous: {anonymous:?}");
    };
    assert_eq!(attributes["plan"], "pro");
    assert_eq!(visitors[0].other, "visitor-1");
    assert_eq!(visitors[0].attributes["role"], "trial");
    for (bad, field) in [
        (
            json!([{"identifiers": {"id": "ann"}}]),
            "cio_relationships[0].identifiers.anonymous_id",
        ),
        (
            json!([{"identifiers": {"anonymous_id": ""}}]),
            "cio_relationships[0].identifiers.anonymous_id",
        ),
        (
            json!([{"identifiers": {"anonymous_id": "a\u{0}b"}}]),
            "cio_relationships[0].identifiers.anonymous_id",
        ),
    ] {
        let error = v2(json!({"type": "object", "action": "identify_anonymous",
            "identifiers": {"object_type_id": "1", "object_id": "a"}, "cio_relationships": bad}))
        .unwrap_err();
        assert_eq!(error.field.as_deref(), Some(field), "{error}");
    }
    // A person's relationships name people; a visitor's anonymous_id is refused there.
    let person = v2(json!({"type": "object", "action": "identify",
        "identifiers": {"object_type_id": "1", "object_id": "a"},
        "cio_relationships": [{"identifiers": {"anonymous_id": "v"}}]}))
    .unwrap_err();
    assert!(person.message.contains("identify_anonymous"), "{person}");
}

#[test]
fn v1_identify_takes_the_relationships_object() {
    let mut body = serde_json::Map::new();
    body.insert("plan".into(), json!("pro"));
    body.insert(
        "cio_relationships".into(),
        json!({"action": "delete_relationships",
               "relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}}]}),
    );
    let operation = validate::identify(PathIdentifier::inferred("42"), body).unwrap();
    let Operation::Identify(input) = operation else {
        panic!("not an identify")
    };
    assert!(!input.attributes.contains_key("cio_relationships"));
    let change = input.relationships.expect("relationships");
    assert!(!change.add);
    assert_eq!(change.with.len(), 1);
    let too_many: Vec<Value> = (0..=MAX_RELATIONSHIPS_PER_OPERATION)
        .map(|i| json!({"identifiers": {"object_type_id": "1", "object_id": i.to_string()}}))
        .collect();
    let error = identify_relationships(&Value::Array(too_many)).unwrap_err();
    assert_eq!(error.reason, "too_many");
}
