//! Objects in the web UI over HTTP: a profile's Relationships (each object with its attributes
//! and the relationship's, linked to the object's page, a page at a time), an object's page with
//! its people, tracked values escaped on both, and the campaign editor's preview reading
//! `customer.cio_relationships` as a run does.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, create_workspace, identify};
use crate::ui::{Browser, IMAGE, PASSWORD, SCRIPT, add_user};

/// `<script>` as askama escapes it.
const SCRIPT_ESCAPED: &str = "&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;";

async fn batch(app: &TestApp, operations: Value) {
    let (status, body) = app
        .track(
            Method::POST,
            "/api/v2/batch",
            Some(json!({"batch": operations})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// ann is an admin of Acme (whose motto is markup) and takes the course `intro/1 a+b`; bob is a
/// member of Acme.
pub async fn relate(app: &TestApp) {
    identify(app, "ann", json!({"email": "ann@example.com"})).await;
    identify(app, "bob", json!({"email": "bob@example.com"})).await;
    batch(
        app,
        json!([
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "1", "object_id": "acme"},
             "attributes": {"name": "Acme", "motto": SCRIPT, "seats": 50},
             "cio_relationships": [
                 {"identifiers": {"id": "ann"}, "relationship_attributes": {"role": "admin", "note": IMAGE}},
                 {"identifiers": {"id": "bob"}, "relationship_attributes": {"role": "member"}}
             ]},
            {"type": "person", "action": "add_relationships", "identifiers": {"id": "ann"},
             "cio_relationships": [{"identifiers": {"object_type_id": "2", "object_id": "intro/1 a+b"}}]}
        ]),
    )
    .await;
}

#[tokio::test]
async fn a_profile_lists_relationships_and_an_object_page_its_people_escaped() {
    let app = TestApp::spawn().await;
    let other = create_workspace(&app.server.data_dir, "other");
    add_user(
        &app.server.data_dir,
        "viewer@example.com",
        &["--workspace", "test"],
    );
    relate(&app).await;
    let ws = app.workspace.id;
    let mut browser = Browser::new(&app.server);
    browser.sign_in("viewer@example.com", PASSWORD).await;
    let (_, _, list) = browser.get(&format!("/ui/w/{ws}/people")).await;
    let ann = Browser::link(&list, "\">ann</a>");

    let (status, _, profile) = browser.get(&ann).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        profile.contains("<h2 id=\"relationships\">Relationships</h2>"),
        "{profile}"
    );
    for label in [
        "<dt>Object type</dt>",
        "<dt>Object id</dt>",
        "<dt>Object attributes</dt>",
        "<dt>Relationship attributes</dt>",
        "<dt>Related since</dt>",
    ] {
        assert_eq!(profile.matches(label).count(), 2, "{label} in {profile}");
    }
    for raw in [SCRIPT, IMAGE] {
        assert!(!profile.contains(raw), "{raw} is not escaped in {profile}");
    }
    assert!(profile.contains(SCRIPT_ESCAPED), "{profile}");
    assert!(
        profile.contains("&#60;img src=x onerror=alert(&#39;x&#39;)&#62;"),
        "{profile}"
    );
    // In the order the objects were created; the course's id is one path segment.
    let acme = format!("/ui/w/{ws}/objects/1/acme");
    let course = format!("/ui/w/{ws}/objects/2/intro%2F1%20a%2Bb");
    let (at_acme, at_course) = (
        profile.find(&format!("href=\"{acme}\"")),
        profile.find(&format!("href=\"{course}\"")),
    );
    assert!(at_acme.is_some() && at_acme < at_course, "{profile}");
    assert!(!profile.contains("More relationships"), "{profile}");

    let (status, _, object) = browser.get(&course).await;
    assert_eq!(status, StatusCode::OK);
    assert!(object.contains("<h1>intro/1 a+b</h1>"), "{object}");

    let (status, _, object) = browser.get(&acme).await;
    assert_eq!(status, StatusCode::OK);
    assert!(object.contains("<h1>acme</h1>"), "{object}");
    assert!(
        object.contains(SCRIPT_ESCAPED) && !object.contains(SCRIPT),
        "{object}"
    );
    assert!(!object.contains(IMAGE), "{object}");
    let (_, acme_api) = app.app_get("/v1/objects/1/acme").await;
    let cio_object_id = acme_api["object"]["identifiers"]["cio_object_id"]
        .as_str()
        .expect("a cio_object_id");
    assert!(object.contains(cio_object_id), "{object}");
    // Both people, linked to their profiles, with their roles.
    assert_eq!(Browser::link(&object, "\">ann</a>"), ann);
    let bob = Browser::link(&object, "\">bob</a>");
    assert!(
        object.contains("member") && object.contains("admin"),
        "{object}"
    );
    let (status, _, bob_profile) = browser.get(&bob).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        bob_profile.contains(&format!("href=\"{acme}\"")),
        "{bob_profile}"
    );

    // Nobody: the profile says so.
    identify(&app, "cy", json!({})).await;
    let (_, _, list) = browser.get(&format!("/ui/w/{ws}/people")).await;
    let (_, _, cy) = browser.get(&Browser::link(&list, "\">cy</a>")).await;
    assert!(cy.contains("Related to no object."), "{cy}");

    // Another workspace's id in the path, or an object that does not exist, is not found.
    for path in [
        format!("/ui/w/{}/objects/1/acme", other.id),
        format!("/ui/w/{ws}/objects/1/nobody"),
        format!("/ui/w/{ws}/objects/2/acme"),
    ] {
        let (status, _, _) = browser.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    // Signed out: to the sign-in page.
    let (status, location, _) = Browser::new(&app.server).get(&acme).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/ui/sign-in?next="), "{location}");
}

#[tokio::test]
async fn relationships_and_an_objects_people_come_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "viewer@example.com", &[]);
    // dee is related to 101 objects; Acme to 51 people.
    let objects: Vec<Value> = (0..101)
        .map(|n| json!({"identifiers": {"object_type_id": "1", "object_id": format!("o{n:03}")}}))
        .collect();
    let people: Vec<Value> = (0..51)
        .map(|n| json!({"identifiers": {"id": format!("p{n:02}")}}))
        .collect();
    batch(
        &app,
        json!([
            {"type": "person", "action": "identify", "identifiers": {"id": "dee"},
             "cio_relationships": objects},
            {"type": "object", "action": "identify",
             "identifiers": {"object_type_id": "9", "object_id": "acme"},
             "cio_relationships": people}
        ]),
    )
    .await;
    let ws = app.workspace.id;
    let mut browser = Browser::new(&app.server);
    browser.sign_in("viewer@example.com", PASSWORD).await;
    let (_, _, list) = browser.get(&format!("/ui/w/{ws}/people?q=dee")).await;
    let dee = Browser::link(&list, "\">dee</a>");

    let (_, _, first) = browser.get(&dee).await;
    assert_eq!(first.matches("<dt>Object id</dt>").count(), 100, "{first}");
    assert!(
        first.contains("There are more relationships than these 100."),
        "{first}"
    );
    assert!(first.contains("/objects/1/o099\"") && !first.contains("/objects/1/o100\""));
    let more = Browser::link(&first, "More relationships");
    let (status, _, second) = browser.get(&more).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second.matches("<dt>Object id</dt>").count(), 1, "{second}");
    assert!(second.contains("/objects/1/o100\""), "{second}");
    assert!(!second.contains("More relationships"), "{second}");
    assert_eq!(
        Browser::link(&second, "First relationships"),
        format!("{dee}#relationships")
    );

    // The people linked on a page of Acme's, by their ids.
    let linked = |page: &str| -> Vec<usize> {
        (0..51)
            .filter(|n| page.contains(&format!("\">p{n:02}</a>")))
            .collect()
    };
    let (_, _, first) = browser.get(&format!("/ui/w/{ws}/objects/9/acme")).await;
    assert_eq!(linked(&first), (0..50).collect::<Vec<_>>(), "{first}");
    let (_, _, second) = browser.get(&Browser::link(&first, "More people")).await;
    assert_eq!(linked(&second), [50], "{second}");
    assert!(!second.contains("More people"), "{second}");
}

#[tokio::test]
async fn the_campaign_editors_preview_reads_relationships_escaped() {
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "editor@example.com", &[]);
    relate(&app).await;
    let ws = app.workspace.id;
    let mut browser = Browser::new(&app.server);
    browser.sign_in("editor@example.com", PASSWORD).await;
    let (_, _, page) = browser.get(&format!("/ui/w/{ws}/campaigns/new")).await;
    let csrf = Browser::hidden(&page, "csrf");
    let (_, _, picks) = browser
        .get(&format!("/ui/w/{ws}/people/pick?person_query=ann"))
        .await;
    let seq = Browser::hidden_attribute(&picks, "data-seq");
    let body = "{% for r in customer.cio_relationships %}[{{ r.object_id }}: {{ r.object_attributes.motto }} as {{ r.relationship_attributes.role }}]{% endfor %}";
    let (status, _, previews) = browser
        .post_htmx(
            &format!("/ui/w/{ws}/campaigns/editor/preview"),
            &[
                ("csrf", csrf.as_str()),
                ("name", "News"),
                ("trigger", "event"),
                ("event_name", "purchased"),
                ("frequency", "every_time"),
                ("filter", "none"),
                ("step.0.kind", "webhook"),
                ("step.0.method", "POST"),
                ("step.0.url", "https://example.com/{{ customer.id }}"),
                ("step.0.body", body),
                ("person", seq.as_str()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        previews.contains(&format!(
            "[acme: {SCRIPT_ESCAPED} as admin][intro/1 a+b:  as ]"
        )),
        "{previews}"
    );
    assert!(!previews.contains(SCRIPT), "{previews}");
}
