//! The campaign editor over HTTP, as a browser without script uses it: what is missing is
//! refused with where it is, the buttons change the draft, the preview renders tracked values
//! escaped and keeps each email preview for the user who rendered it, in a sandboxed document of
//! its own, and saving, archiving and restoring go through the same service as the App API.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;
use crate::ui::{Browser, PASSWORD, SCRIPT, add_user};

#[tokio::test]
async fn the_campaign_editor_refuses_previews_saves_and_archives_over_http() {
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "editor@example.com", &[]);
    add_user(&app.server.data_dir, "other@example.com", &[]);
    crate::helpers::identify(
        &app,
        "ann",
        json!({"email": "ann@example.com", "plan": SCRIPT}),
    )
    .await;
    let ws = app.workspace.id;
    let mut browser = Browser::new(&app.server);
    browser.sign_in("editor@example.com", PASSWORD).await;
    let (status, _, page) = browser.get(&format!("/ui/w/{ws}/campaigns/new")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Step 1 · Webhook"), "{page}");
    let csrf = Browser::hidden(&page, "csrf");
    let (_, _, picks) = browser
        .get(&format!("/ui/w/{ws}/people/pick?person_query=ann"))
        .await;
    let seq = Browser::hidden_attribute(&picks, "data-seq");

    let form = |extra: &[(&'static str, &'static str)]| {
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("trigger", "event"),
            ("frequency", "every_time"),
            ("filter", "none"),
            ("step.0.kind", "webhook"),
            ("step.0.method", "POST"),
        ];
        form.extend_from_slice(extra);
        form
    };

    // Nothing named: refused with every missing piece, where it is.
    let (status, _, refused) = browser
        .post(&format!("/ui/w/{ws}/campaigns/save"), &form(&[]))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains(
            "Not saved: Name: name the campaign; Trigger: name the event; Step 1: enter the URL."
        ),
        "{refused}"
    );
    // Without the form's token nothing is saved.
    let (status, _, _) = browser
        .post(
            &format!("/ui/w/{ws}/campaigns/save"),
            &[("name", "x"), ("event_name", "y")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A button: an email step is added, with what was typed kept.
    let (status, _, page) = browser
        .post(
            &format!("/ui/w/{ws}/campaigns/editor"),
            &form(&[("name", "Welcome"), ("op", "add-step:email")]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Step 2 · Email"), "{page}");
    assert!(page.contains("value=\"Welcome\""), "{page}");

    // The preview: the tracked plan escaped in the webhook's body, the email's HTML in a frame
    // only this user can read, with a policy of its own.
    let person = seq.as_str();
    let (status, _, previews) = browser
        .post_htmx(
            &format!("/ui/w/{ws}/campaigns/editor/preview"),
            &[
                form(&[
                    ("name", "Welcome"),
                    ("event_name", "signed up"),
                    ("step.0.url", "https://example.com/{{ customer.id }}"),
                    ("step.0.body", "{{ customer.plan }}"),
                    ("step.1.kind", "email"),
                    ("step.1.to", "{{ customer.email }}"),
                    ("step.1.from", "shop@example.com"),
                    ("step.1.subject", "Hi"),
                    ("step.1.html", "<b>{{ customer.email }}</b>"),
                    ("preview_event", "{\"plan\": \"pro\"}"),
                ]),
                vec![("person", person)],
            ]
            .concat(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(previews.contains("https://example.com/ann"), "{previews}");
    assert!(
        previews.contains("&#60;script&#62;") || previews.contains("&lt;script&gt;"),
        "{previews}"
    );
    assert!(!previews.contains(SCRIPT), "{previews}");
    let frame = previews
        .split("src=\"")
        .find(|part| part.contains("/preview-frame/"))
        .and_then(|part| part.split('"').next())
        .expect("an email frame")
        .to_owned();
    let response = reqwest::Client::new()
        .get(app.url(&frame))
        .header("cookie", browser.cookie_header())
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(policy.starts_with("sandbox;"), "{policy}");
    assert!(policy.contains("frame-ancestors 'self'"), "{policy}");
    assert_eq!(
        response.text().await.expect("a body"),
        "<b>ann@example.com</b>"
    );
    let mut other = Browser::new(&app.server);
    other.sign_in("other@example.com", PASSWORD).await;
    let (status, _, _) = other.get(&frame).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another user's preview");

    // Saved: a draft, as the App API sees it.
    let saved = form(&[
        ("name", "Welcome"),
        ("event_name", "signed up"),
        ("step.0.url", "https://example.com/{{ customer.id }}"),
    ]);
    let (status, location, _) = browser
        .post(&format!("/ui/w/{ws}/campaigns/save"), &saved)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, body) = app.app_get("/v1/campaigns").await;
    let id = body["campaigns"][0]["id"].as_i64().expect("saved");
    assert_eq!(location, format!("/ui/w/{ws}/campaigns/{id}"));
    assert_eq!(body["campaigns"][0]["state"], "draft");
    assert_eq!(
        body["campaigns"][0]["trigger"],
        json!({"event": {"name": "signed up"}})
    );
    let (status, _, edit) = browser
        .get(&format!("/ui/w/{ws}/campaigns/{id}/edit"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        edit.contains("https://example.com/{{ customer.id }}"),
        "{edit}"
    );

    // Archived, it leaves the list for its own section; restored, it waits paused.
    for (to, state) in [("archived", "archived"), ("restored", "paused")] {
        let (status, _, _) = browser
            .post(
                &format!("/ui/w/{ws}/campaigns/{id}/state"),
                &[("csrf", csrf.as_str()), ("to", to)],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, body) = app.app_get(&format!("/v1/campaigns/{id}")).await;
        assert_eq!(body["campaign"]["state"], state);
        let (_, _, list) = browser.get(&format!("/ui/w/{ws}/campaigns")).await;
        assert_eq!(list.contains("Archived (1)"), state == "archived", "{list}");
    }
}

/// Renders the editor's previews of `fields` for ann (identified here) with `sample` as the
/// sample data; returns the previews' HTML.
async fn preview_for_ann(
    app: &TestApp,
    browser: &mut Browser,
    fields: &[(&str, &str)],
    sample: &str,
) -> String {
    let ws = app.workspace.id;
    crate::helpers::identify(app, "ann", json!({"email": "ann@example.com"})).await;
    let (_, _, picks) = browser
        .get(&format!("/ui/w/{ws}/people/pick?person_query=ann"))
        .await;
    let seq = Browser::hidden_attribute(&picks, "data-seq");
    let (status, _, previews) = browser
        .post_htmx(
            &format!("/ui/w/{ws}/campaigns/editor/preview"),
            &[
                fields,
                &[
                    ("filter", "none"),
                    ("preview_event", sample),
                    ("person", seq.as_str()),
                ],
            ]
            .concat(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    previews
}

/// Signs an editor in and asks the editor for a new campaign with this trigger (after `op`,
/// e.g. `refresh`); returns the browser, the form's CSRF token and the editor's answer.
async fn new_campaign_with(app: &TestApp, trigger: &str, op: &str) -> (Browser, String, String) {
    add_user(&app.server.data_dir, "editor@example.com", &[]);
    let ws = app.workspace.id;
    let mut browser = Browser::new(&app.server);
    browser.sign_in("editor@example.com", PASSWORD).await;
    let (_, _, page) = browser.get(&format!("/ui/w/{ws}/campaigns/new")).await;
    let csrf = Browser::hidden(&page, "csrf");
    let (status, _, page) = browser
        .post(
            &format!("/ui/w/{ws}/campaigns/editor"),
            &[
                ("csrf", csrf.as_str()),
                ("trigger", trigger),
                ("filter", "none"),
                ("op", op),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    (browser, csrf, page)
}

#[tokio::test]
async fn the_campaign_editor_makes_and_edits_a_transactional_message() {
    let app = TestApp::spawn().await;
    let ws = app.workspace.id;
    let (mut browser, csrf, page) = new_campaign_with(&app, "transactional", "refresh").await;
    assert!(page.contains("POST /v1/send/email"), "{page}");
    assert!(!page.contains("How often per person"), "{page}");
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "Receipt"),
        ("trigger", "transactional"),
        ("step.0.kind", "email"),
        ("step.0.to", "{{ customer.email }}"),
        ("step.0.from", "shop@example.com"),
        ("step.0.subject", "Order {{ trigger.order_id }}"),
        ("step.0.html", "<p>Thanks</p>"),
    ];
    let (status, _, refused) = browser
        .post(
            &format!("/ui/w/{ws}/campaigns/save"),
            &[&fields[..], &[("filter", "in"), ("filter_segment", "1")]].concat(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused.contains("a transactional message has no filter"),
        "{refused}"
    );
    let (status, _, _) = browser
        .post(
            &format!("/ui/w/{ws}/campaigns/save"),
            &[&fields[..], &[("filter", "none")]].concat(),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, body) = app.app_get("/v1/campaigns").await;
    let id = body["campaigns"][0]["id"].as_i64().expect("saved");
    assert_eq!(
        body["campaigns"][0]["trigger"],
        json!({"transactional": {}})
    );
    let (_, listed) = app.app_get("/v1/transactional").await;
    assert_eq!(listed["messages"][0]["id"], id);
    let (status, _, edit) = browser
        .get(&format!("/ui/w/{ws}/campaigns/{id}/edit"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        edit.contains("<option value=\"transactional\" selected>"),
        "{edit}"
    );
    // The preview renders the sample data as a send's message_data.
    let previews = preview_for_ann(&app, &mut browser, &fields, "{\"order_id\": 5}").await;
    assert!(previews.contains("Order 5"), "{previews}");
}

#[tokio::test]
async fn the_campaign_editor_makes_and_edits_an_object_triggered_campaign() {
    let app = TestApp::spawn().await;
    let ws = app.workspace.id;
    let (mut browser, csrf, page) = new_campaign_with(&app, "object", "add-where").await;
    for label in [
        "<label for=\"trigger-object-type\">Object type</label>",
        "<label for=\"trigger-object-on\">When</label>",
        "Object attribute filter 1",
        "+ Object attribute filter",
    ] {
        assert!(page.contains(label), "{label}: {page}");
    }
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "Enterprise accounts"),
        ("trigger", "object"),
        ("object_type_id", "2"),
        ("object_on", "updated"),
        ("where.0.field", "plan"),
        ("where.0.op", "eq"),
        ("where.0.value", "enterprise"),
        ("frequency", "every_time"),
        ("filter", "none"),
        ("step.0.kind", "webhook"),
        ("step.0.method", "POST"),
        ("step.0.url", "https://example.com/{{ trigger.object_id }}"),
    ];
    let bad_type: Vec<(&str, &str)> = fields
        .iter()
        .map(|&(name, value)| (name, if name == "object_type_id" { "x" } else { value }))
        .collect();
    let (status, _, refused) = browser
        .post(&format!("/ui/w/{ws}/campaigns/save"), &bad_type)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.contains("object type"), "{refused}");
    let (status, _, _) = browser
        .post(&format!("/ui/w/{ws}/campaigns/save"), &fields)
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, body) = app.app_get("/v1/campaigns").await;
    let id = body["campaigns"][0]["id"].as_i64().expect("saved");
    assert_eq!(
        body["campaigns"][0]["trigger"],
        json!({"object": {"object_type_id": "2", "on": "updated",
                          "where": [{"field": "plan", "op": "eq", "value": "enterprise"}]}})
    );
    let (status, _, edit) = browser
        .get(&format!("/ui/w/{ws}/campaigns/{id}/edit"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        edit.contains("<option value=\"object\" selected>"),
        "{edit}"
    );
    assert!(
        edit.contains("<option value=\"updated\" selected>"),
        "{edit}"
    );
    let (_, _, list) = browser.get(&format!("/ui/w/{ws}/campaigns")).await;
    assert!(list.contains("object of type 2 updated"), "{list}");

    // The preview renders the sample data as the object change's trigger.
    let sample = "{\"object_id\": \"acme\", \"object\": {\"plan\": \"enterprise\"}}";
    let previews = preview_for_ann(&app, &mut browser, &fields, sample).await;
    assert!(previews.contains("https://example.com/acme"), "{previews}");
}
