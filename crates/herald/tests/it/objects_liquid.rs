//! A person's relationships to objects in Liquid (`customer.cio_relationships`): through the App
//! API's `POST /v1/templates/render`, and in a campaign's webhook as a run renders it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::delivery::{ALLOW_LOOPBACK, start_campaign};
use crate::helpers::{TestApp, event, identify};
use crate::receiver::Receiver;

/// Lists each relationship as `type/id name role;`.
const LIST: &str = "{% for r in customer.cio_relationships %}{{ r.object_type_id }}/{{ r.object_id }} {{ r.object_attributes.name }} {{ r.relationship_attributes.role }};{% endfor %}";

/// ann is an admin of Acme (type 1) and takes course-7 (type 2), without relationship
/// attributes; bob has no relationship.
async fn relate(app: &TestApp) {
    identify(app, "ann", json!({"email": "ann@example.com"})).await;
    identify(app, "bob", json!({"email": "bob@example.com"})).await;
    let (status, body) = app
        .track(
            Method::POST,
            "/api/v2/batch",
            Some(json!({"batch": [
                {"type": "object", "action": "identify",
                 "identifiers": {"object_type_id": "1", "object_id": "acme"},
                 "attributes": {"name": "Acme", "plan": "enterprise"},
                 "cio_relationships": [{"identifiers": {"id": "ann"},
                                        "relationship_attributes": {"role": "admin"}}]},
                {"type": "object", "action": "identify",
                 "identifiers": {"object_type_id": "2", "object_id": "course-7"},
                 "attributes": {"name": "Calculus"},
                 "cio_relationships": [{"identifiers": {"id": "ann"}}]}
            ]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn render(app: &TestApp, body: Value) -> Value {
    let (status, answer) = app.app_post("/v1/templates/render", body).await;
    assert_eq!(status, 200, "{answer}");
    answer["output"].clone()
}

#[tokio::test]
async fn templates_render_reads_the_persons_relationships() {
    let app = TestApp::spawn().await;
    relate(&app).await;
    assert_eq!(
        render(&app, json!({"template": LIST, "customer_id": "ann"})).await,
        "1/acme Acme admin;2/course-7 Calculus ;"
    );
    // One object picked by its id, and by its type.
    let picked = "{% assign acme = customer.cio_relationships | where: \"object_id\", \"acme\" | first %}{{ acme.object_attributes.plan }} {{ acme.cio_object_id }} {{ customer.cio_relationships | where: \"object_type_id\", \"2\" | size }}";
    let (status, acme) = app.app_get("/v1/objects/1/acme").await;
    assert_eq!(status, 200, "{acme}");
    let cio_object_id = acme["object"]["identifiers"]["cio_object_id"]
        .as_str()
        .expect("a cio_object_id");
    assert_eq!(
        render(
            &app,
            json!({"template": picked, "customer_id": "ann@example.com", "id_type": "email"})
        )
        .await,
        format!("enterprise {cio_object_id} 1")
    );
    // No relationships: an empty list, so loops render nothing and `size` is 0.
    assert_eq!(
        render(&app, json!({"template": format!("[{LIST}] {{{{ customer.cio_relationships.size }}}}"), "customer_id": "bob"})).await,
        "[] 0"
    );
    // A relationship ended is gone from the next render.
    let (status, body) = app
        .track(
            Method::POST,
            "/api/v2/entity",
            Some(json!({"type": "person", "action": "delete_relationships",
                        "identifiers": {"id": "ann"},
                        "cio_relationships": [{"identifiers": {"object_type_id": "1", "object_id": "acme"}}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        render(&app, json!({"template": LIST, "customer_id": "ann"})).await,
        "2/course-7 Calculus ;"
    );
}

#[tokio::test]
async fn a_campaigns_webhook_is_rendered_with_the_persons_relationships() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    relate(&app).await;
    start_campaign(
        &app,
        json!({
            "name": "Account news",
            "trigger": {"event": {"name": "purchased"}},
            "steps": [
                {"webhook": {"url": format!("{}/news/{{{{ customer.id }}}}", receiver.base_url),
                             "body": LIST}},
                // Without a body, the receiver gets the customer, relationships included.
                {"webhook": {"url": format!("{}/default", receiver.base_url)}}
            ]
        }),
    )
    .await;
    event(&app, "ann", json!({"name": "purchased"})).await;
    let received = receiver.wait_for(2).await;
    assert_eq!(received[0].path, "/news/ann");
    assert_eq!(received[0].body, "1/acme Acme admin;2/course-7 Calculus ;");
    let customer = &received[1].json()["customer"];
    assert_eq!(customer["id"], "ann", "{customer}");
    assert_eq!(
        customer["cio_relationships"][0]["object_attributes"],
        json!({"name": "Acme", "plan": "enterprise"}),
        "{customer}"
    );
    assert_eq!(
        customer["cio_relationships"][0]["relationship_attributes"],
        json!({"role": "admin"}),
        "{customer}"
    );
    assert_eq!(customer["cio_relationships"][1]["object_id"], "course-7");
}
