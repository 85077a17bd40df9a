//! Objects and relationships over HTTP: Track API v1 and v2, the Data Pipelines API, and the
//! App API's reads.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, identify};

async fn batch(app: &TestApp, operations: Value) -> Value {
    let (status, body) = app
        .track(
            Method::POST,
            "/api/v2/batch",
            Some(json!({"batch": operations})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The object ids a person is related to, with each relationship's attributes.
async fn related_objects(app: &TestApp, person: &str) -> Vec<(String, Value)> {
    let (status, body) = app
        .app_get(&format!("/v1/customers/{person}/relationships"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["cio_relationships"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| {
            (
                item["identifiers"]["object_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                item["attributes"].clone(),
            )
        })
        .collect()
}

/// The ids of the people related to an object, following `next` one person at a time.
async fn related_people(app: &TestApp, object_type_id: &str, object_id: &str) -> Vec<String> {
    let mut people = Vec::new();
    let mut start = String::new();
    loop {
        let (status, body) = app
            .app_get(&format!(
                "/v1/objects/{object_type_id}/{object_id}/relationships?limit=1&start={start}"
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        for item in body["cio_relationships"].as_array().expect("a list") {
            people.push(
                item["identifiers"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        start = body["next"].as_str().unwrap_or_default().to_owned();
        if start.is_empty() {
            return people;
        }
    }
}

async fn object(app: &TestApp, object_type_id: &str, object_id: &str) -> Result<Value, u16> {
    let (status, body) = app
        .app_get(&format!(
            "/v1/objects/{object_type_id}/{object_id}/attributes"
        ))
        .await;
    if status == 200 {
        Ok(body["object"].clone())
    } else {
        Err(status)
    }
}

#[tokio::test]
async fn objects_and_relationships_are_stored_and_read_back() {
    let app = TestApp::spawn().await;
    batch(
        &app,
        json!([
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "1", "object_id": "acme"},
             "attributes": {"name": "Acme", "plan": "enterprise", "seats": 50},
             "cio_relationships": [
                 {"identifiers": {"id": "ann"}, "relationship_attributes": {"role": "admin"}},
                 {"identifiers": {"email": "bob@example.com"}}
             ]},
            {"type": "person", "action": "add_relationships", "identifiers": {"id": "cy"},
             "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"},
                                    "relationship_attributes": {"role": "member"}},
                                   {"identifiers": {"object_type_id": "2", "object_id": "course-7"}}]},
            {"type": "person", "action": "identify", "identifiers": {"id": "dee"},
             "attributes": {"name": "Dee"},
             "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "initech"}}]}
        ]),
    )
    .await;
    // Track API v1: `cio_relationships` is an object with an action.
    identify(
        &app,
        "ann",
        json!({"cio_relationships": {"action": "add_relationships",
               "relationships": [{"identifiers": {"object_type_id": "2", "object_id": "course-7"},
                                  "relationship_attributes": {"grade": "A"}}]}}),
    )
    .await;

    let acme = object(&app, "1", "acme").await.expect("acme exists");
    assert_eq!(acme["attributes"]["plan"], "enterprise");
    assert_eq!(acme["object_type_id"], "1");
    let cio_object_id = acme["identifiers"]["cio_object_id"]
        .as_str()
        .expect("a cio_object_id")
        .to_owned();
    let (status, by_cio) = app
        .app_get(&format!(
            "/v1/objects/1/{cio_object_id}/attributes?id_type=cio_object_id"
        ))
        .await;
    assert_eq!(status, 200, "{by_cio}");
    assert_eq!(by_cio["object"]["identifiers"]["object_id"], "acme");
    assert_eq!(
        related_people(&app, "1", "acme").await,
        ["ann", "", "cy"],
        "bob was created by email, so has no id"
    );
    assert_eq!(
        related_objects(&app, "ann").await,
        [
            ("acme".to_owned(), json!({"role": "admin"})),
            ("course-7".to_owned(), json!({"grade": "A"}))
        ]
    );
    assert_eq!(related_objects(&app, "dee").await.len(), 1);
    let (_, types) = app.app_get("/v1/object_types").await;
    let ids: Vec<_> = types["types"]
        .as_array()
        .expect("types")
        .iter()
        .map(|kind| kind["id"].clone())
        .collect();
    assert_eq!(ids, [json!("1"), json!("2")]);
    let (_, activity) = app
        .app_get("/v1/customers/ann/activities?type=add_relationship")
        .await;
    assert_eq!(
        activity["activities"].as_array().map(Vec::len),
        Some(2),
        "{activity}"
    );

    // A null or empty value removes an attribute; relationship attributes merge the same way.
    batch(
        &app,
        json!([
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "1", "object_id": "acme"},
             "attributes": {"seats": null, "name": "", "plan": "pro"}},
            {"type": "object", "action": "add_relationships",
             "identifiers": {"cio_object_id": cio_object_id},
             "cio_relationships": [{"identifiers": {"id": "ann"},
                                    "relationship_attributes": {"role": null, "since": 2020}}]}
        ]),
    )
    .await;
    let acme = object(&app, "1", "acme").await.expect("acme exists");
    assert_eq!(acme["attributes"], json!({"plan": "pro"}));
    assert_eq!(
        related_objects(&app, "ann").await[0].1,
        json!({"since": 2020})
    );

    // Relationships end from either side, and go with a deleted person or object.
    batch(
        &app,
        json!([
            {"type": "person", "action": "delete_relationships", "identifiers": {"id": "ann"},
             "cio_relationships": [{"identifiers": {"object_type_id": "2", "object_id": "course-7"}}]},
            {"type": "object", "action": "delete_relationships",
             "identifiers": {"object_type_id": "1", "object_id": "acme"},
             "cio_relationships": [{"identifiers": {"id": "cy"}}]},
            {"type": "person", "action": "delete", "identifiers": {"email": "bob@example.com"}},
            {"type": "object", "action": "delete",
             "identifiers": {"object_type_id": "1", "object_id": "initech"}}
        ]),
    )
    .await;
    assert_eq!(related_people(&app, "1", "acme").await, ["ann"]);
    assert_eq!(related_objects(&app, "ann").await.len(), 1);
    assert_eq!(
        related_objects(&app, "cy").await,
        [("course-7".to_owned(), json!({}))]
    );
    assert!(related_objects(&app, "dee").await.is_empty());
    assert_eq!(object(&app, "1", "initech").await, Err(404));

    // A merge gives the primary the secondary's relationships.
    batch(
        &app,
        json!([{"type": "person", "action": "merge",
                "primary": {"id": "dee"}, "secondary": {"id": "cy"}}]),
    )
    .await;
    assert_eq!(
        related_objects(&app, "dee").await,
        [("course-7".to_owned(), json!({}))]
    );
}

#[tokio::test]
async fn bad_object_input_is_refused_with_its_place() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .track(
            Method::POST,
            "/api/v2/batch",
            Some(json!({"batch": [
                {"type": "object", "action": "identify",
                 "identifiers": {"object_type_id": "companies", "object_id": "acme"}},
                {"type": "person", "action": "add_relationships", "identifiers": {"id": "ann"},
                 "cio_relationships": [{"identifiers": {"object_type_id": "1"}}]},
                {"type": "object", "action": "identify",
                 "identifiers": {"object_type_id": "1", "object_id": "fine"}}
            ]})),
        )
        .await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body["errors"][0]["field"], "identifiers.object_type_id");
    assert_eq!(
        body["errors"][1]["field"],
        "cio_relationships[0].identifiers.object_id"
    );
    assert!(
        object(&app, "1", "fine").await.is_ok(),
        "the valid one is stored"
    );
    assert!(
        crate::helpers::TestApp::app_get(&app, "/v1/customers/ann/attributes")
            .await
            .0
            == 404,
        "nothing of the refused operation is stored"
    );
    let (status, body) = app
        .app_get("/v1/objects/1/fine/attributes?id_type=name")
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(object(&app, "1", "missing").await, Err(404));
    let (status, _) = app.app_get("/v1/customers/nobody/relationships").await;
    assert_eq!(status, 404);
    let (status, body) = app
        .app_get("/v1/objects/1/fine/relationships?limit=0")
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn pipelines_group_calls_relate_people_to_objects() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .pipelines(
            "/v1/group",
            json!({"userId": "eve", "groupId": "globex",
                   "traits": {"name": "Globex", "plan": "enterprise",
                              "relationshipAttributes": {"role": "owner"}}}),
            true,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let globex = object(&app, "1", "globex").await.expect("globex exists");
    assert_eq!(
        globex["attributes"],
        json!({"name": "Globex", "plan": "enterprise"})
    );
    assert_eq!(
        related_objects(&app, "eve").await,
        [("globex".to_owned(), json!({"role": "owner"}))]
    );
    let (status, _) = app
        .pipelines(
            "/v1/track",
            json!({"userId": "eve", "event": "Relationship Deleted",
                   "properties": {"groupId": "globex"}}),
            true,
        )
        .await;
    assert_eq!(status, 200);
    assert!(related_objects(&app, "eve").await.is_empty());
    let (status, _) = app
        .pipelines(
            "/v1/track",
            json!({"userId": "eve", "event": "Object Deleted",
                   "properties": {"groupId": "globex", "objectTypeId": "1"}}),
            true,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(object(&app, "1", "globex").await, Err(404));
}

/// A segment on an object's attribute: people enter and leave when the object or their
/// relationship to it changes, and a restart that rebuilds the engine from the stored history
/// (no engine image) gives the same members.
#[tokio::test]
async fn segments_follow_objects_and_relationships_and_survive_a_restart() {
    use crate::segments::{create_segment, members};
    let mut app = TestApp::spawn_with(&["--engine-image-every=off"]).await;
    batch(
        &app,
        json!([
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "1", "object_id": "acme"},
             "attributes": {"plan": "free"},
             "cio_relationships": [{"identifiers": {"id": "ann"},
                                    "relationship_attributes": {"role": "admin"}}]},
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "1", "object_id": "globex"},
             "attributes": {"plan": "enterprise"},
             "cio_relationships": [{"identifiers": {"id": "bob"},
                                    "relationship_attributes": {"role": "admin"}},
                                   {"identifiers": {"id": "cy"},
                                    "relationship_attributes": {"role": "viewer"}}]},
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "2", "object_id": "enterprise-course"},
             "attributes": {"plan": "enterprise"},
             "cio_relationships": [{"identifiers": {"id": "dee"}}]}
        ]),
    )
    .await;
    let enterprise_admins = create_segment(
        &app,
        Some(json!({"relationship": {"object_type_id": "1",
            "where": [{"field": "plan", "op": "eq", "value": "enterprise"}],
            "relationship_where": [{"field": "role", "op": "eq", "value": "admin"}]}})),
    )
    .await;
    let with_objects =
        create_segment(&app, Some(json!({"relationship": {"object_type_id": "1"}}))).await;
    assert_eq!(members(&app, enterprise_admins).await, ["bob"]);
    assert_eq!(members(&app, with_objects).await, ["ann", "bob", "cy"]);

    // The object changes: ann enters without any call naming her.
    batch(
        &app,
        json!([{"type": "object", "action": "identify",
                "identifiers": {"object_type_id": "1", "object_id": "acme"},
                "attributes": {"plan": "enterprise"}}]),
    )
    .await;
    assert_eq!(members(&app, enterprise_admins).await, ["ann", "bob"]);
    let (_, explained) = app
        .app_get(&format!(
            "/v1/segments/{enterprise_admins}/explain?customer_id=ann"
        ))
        .await;
    assert!(explained.to_string().contains("acme"), "{explained}");

    // The relationship changes or ends: bob and cy move.
    batch(
        &app,
        json!([
            {"type": "person", "action": "delete_relationships", "identifiers": {"id": "bob"},
             "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "globex"}}]},
            {"type": "person", "action": "add_relationships", "identifiers": {"id": "cy"},
             "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "globex"},
                                    "relationship_attributes": {"role": "admin"}}]}
        ]),
    )
    .await;
    assert_eq!(members(&app, enterprise_admins).await, ["ann", "cy"]);
    assert_eq!(members(&app, with_objects).await, ["ann", "cy"]);
    // An identify that changes attributes keeps the relationships the engine knows.
    identify(&app, "ann", json!({"plan": "changed"})).await;
    assert_eq!(members(&app, enterprise_admins).await, ["ann", "cy"]);

    // The object goes: its people leave.
    batch(
        &app,
        json!([{"type": "object", "action": "delete",
                "identifiers": {"object_type_id": "1", "object_id": "acme"}}]),
    )
    .await;
    assert_eq!(members(&app, enterprise_admins).await, ["cy"]);

    let data_dir = app.server.data_dir.clone();
    app.server.kill();
    app.server = crate::helpers::Server::start(&data_dir, &["--engine-image-every=off"]);
    assert_eq!(
        members(&app, enterprise_admins).await,
        ["cy"],
        "rebuilt from the stored history with its relationships"
    );
    assert_eq!(members(&app, with_objects).await, ["cy"]);
    batch(
        &app,
        json!([{"type": "object", "action": "identify",
                "identifiers": {"object_type_id": "1", "object_id": "globex"},
                "attributes": {"plan": "free"}}]),
    )
    .await;
    assert!(members(&app, enterprise_admins).await.is_empty());
}

#[tokio::test]
async fn objects_are_found_by_their_attributes_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    batch(
        &app,
        json!([
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "1", "object_id": "acme"},
             "attributes": {"plan": "enterprise", "seats": 50}},
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "1", "object_id": "initech"},
             "attributes": {"plan": "free"}},
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "1", "object_id": "globex"},
             "attributes": {"plan": "enterprise"}},
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "2", "object_id": "course"},
             "attributes": {"plan": "enterprise"}}
        ]),
    )
    .await;
    let enterprise = json!({"object_type_id": "1", "filter": {"object_attribute":
        {"field": "plan", "operator": "eq", "value": "enterprise", "type_id": "1"}}});
    let (status, first) = app
        .app_post("/v1/objects?limit=1", enterprise.clone())
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["ids"], json!(["acme"]));
    assert_eq!(first["identifiers"][0]["object_id"], "acme");
    let next = first["next"].as_str().expect("a cursor").to_owned();
    assert!(!next.is_empty(), "{first}");
    let (_, second) = app
        .app_post(&format!("/v1/objects?limit=1&start={next}"), enterprise)
        .await;
    assert_eq!(second["ids"], json!(["globex"]));
    assert_eq!(second["next"], "", "{second}");
    let (_, combined) = app
        .app_post(
            "/v1/objects",
            json!({"object_type_id": 1, "filter": {"and": [
                {"object_attribute": {"field": "seats", "operator": "exists", "type_id": 1}},
                {"not": {"object_attribute": {"field": "plan", "operator": "eq", "value": "free", "type_id": 1}}}
            ]}}),
        )
        .await;
    assert_eq!(combined["ids"], json!(["acme"]));
    for (body, needle) in [
        (json!({"filter": {}}), "object_type_id"),
        (
            json!({"object_type_id": "1", "filter": {"attribute": {"field": "plan", "operator": "exists"}}}),
            "object_attribute",
        ),
        (
            json!({"object_type_id": "1", "filter": {"object_attribute":
                {"field": "plan", "operator": "exists", "type_id": "2"}}}),
            "type_id",
        ),
    ] {
        let (status, answer) = app.app_post("/v1/objects", body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer.to_string().contains(needle), "{body}: {answer}");
    }
}
