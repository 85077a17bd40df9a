//! Transactional messages: `POST /v1/send/email` and `/v1/send/push` over real SMTP and a real
//! push gateway, and the App API's reads of the messages.

use std::time::Duration;

use serde_json::{Value, json};

use crate::delivery::start_campaign;
use crate::helpers::{TestApp, identify, set_clock};
use crate::receiver::Receiver;
use crate::smtp_sink::SmtpSink;

const START: i64 = 1_796_000_000;

/// Waits until a delivery is recorded as sent (the dispatcher records it right after the send,
/// so a receiver may hear of it a moment before) and returns it.
pub async fn sent_delivery(app: &TestApp, delivery_id: &str) -> Value {
    for _ in 0..400 {
        let (status, body) = app.app_get(&format!("/v1/deliveries/{delivery_id}")).await;
        if status == 200 && body["delivery"]["status"] == "sent" {
            return body["delivery"].clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("delivery {delivery_id} was never recorded as sent");
}

fn receipt() -> Value {
    json!({
        "name": "Order receipt",
        "trigger": {"transactional": {}},
        "steps": [{"email": {
            "to": "{{ customer.email }}",
            "from": "Shop <shop@example.com>",
            "subject": "Order {{ trigger.order_id }}",
            "html": "<p>Hi {{ customer.first_name }}, order {{ message_data.order_id }} costs {{ event.total }}.</p>",
            "text": "Order {{ trigger.order_id }}"
        }}]
    })
}

#[tokio::test]
async fn a_transactional_email_goes_out_over_smtp_with_its_message_data() {
    let smtp = SmtpSink::start().await;
    let app = TestApp::spawn_with(&[
        &format!("--smtp-url={}", smtp.url()),
        &format!("--dev-clock={START}"),
    ])
    .await;
    identify(
        &app,
        "ann",
        json!({"email": "ann@example.com", "first_name": "Ann", "unsubscribed": true}),
    )
    .await;
    let id = start_campaign(&app, receipt()).await;
    let (status, sent) = app
        .app_post(
            "/v1/send/email",
            json!({"transactional_message_id": id, "identifiers": {"id": "ann"},
                   "message_data": {"order_id": 42, "total": "9.50"}, "headers": {}}),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let delivery_id = sent["delivery_id"]
        .as_str()
        .expect("a delivery id")
        .to_owned();
    assert_eq!(sent["queued_at"], START);
    let messages = smtp.wait_for_messages(1, Duration::from_secs(20)).await;
    assert_eq!(messages[0].header("Subject").as_deref(), Some("Order 42"));
    assert!(
        messages[0].raw.contains("order 42 costs 9.50"),
        "{}",
        messages[0].raw
    );
    assert_eq!(
        messages[0].rcpt_to,
        ["ann@example.com"],
        "unsubscribed, but a receipt still goes"
    );
    sent_delivery(&app, &delivery_id).await;

    // By name, with overrides, to a person who does not exist yet, and later.
    let (status, later) = app
        .app_post(
            "/v1/send/email",
            json!({"transactional_message_id": "ORDER RECEIPT",
                   "identifiers": {"email": "new@example.com"},
                   "to": "new@example.com", "subject": "Your order {{ trigger.order_id }}",
                   "body": "<p>Thanks</p>", "message_data": {"order_id": 7},
                   "send_at": START + 3600}),
        )
        .await;
    assert_eq!(status, 200, "{later}");
    assert_eq!(later["send_at"], START + 3600);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.messages().len(), 1, "not before send_at");
    set_clock(&app, START + 3600).await;
    let messages = smtp.wait_for_messages(2, Duration::from_secs(20)).await;
    assert_eq!(
        messages[1].header("Subject").as_deref(),
        Some("Your order 7")
    );
    assert_eq!(messages[1].rcpt_to, ["new@example.com"]);
    let (status, _) = app
        .app_get("/v1/customers/new@example.com/attributes?id_type=email")
        .await;
    assert_eq!(status, 200, "the person was created");

    // Without a template: the request writes the whole email.
    let (status, inline) = app
        .app_post(
            "/v1/send/email",
            json!({"identifiers": {"id": "ann"}, "to": "ann@example.com",
                   "from": "support@example.com", "subject": "About {{ trigger.topic }}",
                   "body": "<p>Hello</p>", "message_data": {"topic": "billing"}}),
        )
        .await;
    assert_eq!(status, 200, "{inline}");
    let messages = smtp.wait_for_messages(3, Duration::from_secs(20)).await;
    assert_eq!(
        messages[2].header("Subject").as_deref(),
        Some("About billing")
    );
    assert_eq!(messages[2].mail_from, "support@example.com");
    sent_delivery(&app, inline["delivery_id"].as_str().expect("an id")).await;

    let (status, list) = app.app_get("/v1/transactional").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["messages"][0]["id"], id);
    assert_eq!(list["messages"][1]["name"], "Inline transactional email");
    assert_eq!(list["messages"][0]["name"], "Order receipt");
    let (status, one) = app.app_get(&format!("/v1/transactional/{id}")).await;
    assert_eq!((status, &one["message"]["id"]), (200, &json!(id)));
    let (status, contents) = app
        .app_get(&format!("/v1/transactional/{id}/contents"))
        .await;
    assert_eq!(status, 200, "{contents}");
    assert_eq!(
        contents["contents"][0]["subject"],
        "Order {{ trigger.order_id }}"
    );
    assert_eq!(contents["contents"][0]["type"], "email");
    let response = app
        .client
        .put(app.url(&format!("/v1/transactional/{id}/content/1")))
        .bearer_auth(&app.workspace.app_api_key)
        .json(&json!({"subject": "Receipt {{ trigger.order_id }}", "from_id": null}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let (_, contents) = app
        .app_get(&format!("/v1/transactional/{id}/contents"))
        .await;
    assert_eq!(
        contents["contents"][0]["subject"],
        "Receipt {{ trigger.order_id }}"
    );
    let (status, last) = app
        .app_post(
            "/v1/send/email",
            json!({"transactional_message_id": id, "identifiers": {"id": "ann"},
                   "message_data": {"order_id": 9}}),
        )
        .await;
    assert_eq!(status, 200);
    let messages = smtp.wait_for_messages(4, Duration::from_secs(20)).await;
    assert_eq!(messages[3].header("Subject").as_deref(), Some("Receipt 9"));
    let last_id = last["delivery_id"].as_str().expect("an id");
    sent_delivery(&app, last_id).await;

    // What the message sent: its deliveries a page at a time, newest first, and its metrics.
    let (status, page) = app
        .app_get(&format!("/v1/transactional/{id}/deliveries?limit=2"))
        .await;
    assert_eq!(status, 200, "{page}");
    let ids = |page: &Value| -> Vec<String> {
        page["deliveries"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|message| message["id"].as_str().expect("an id").to_owned())
            .collect()
    };
    let first_page = ids(&page);
    assert_eq!(first_page.len(), 2, "{page}");
    assert_eq!(page["deliveries"][0]["transactional_message_id"], id);
    assert_eq!(page["deliveries"][0]["recipient"], "ann@example.com");
    assert_eq!(page["deliveries"][0]["subject"], "Receipt 9");
    assert!(page["deliveries"][0]["metrics"]["sent"].is_i64(), "{page}");
    let next = page["next"].as_str().expect("a cursor");
    assert!(!next.is_empty(), "{page}");
    let (status, rest) = app
        .app_get(&format!(
            "/v1/transactional/{id}/deliveries?limit=2&start={next}"
        ))
        .await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["next"], "", "{rest}");
    let mut every: Vec<String> = first_page.into_iter().chain(ids(&rest)).collect();
    assert_eq!(every.len(), 3, "{rest}");
    assert!(every.contains(&delivery_id) && every.contains(&last_id.to_owned()));
    every.sort();
    every.dedup();
    assert_eq!(every.len(), 3);
    let (status, failed) = app
        .app_get(&format!("/v1/transactional/{id}/deliveries?state=failed"))
        .await;
    assert_eq!((status, &failed["deliveries"]), (200, &json!([])));
    for query in ["state=sent", "metric=opened", "start=nonsense", "limit=0"] {
        let (status, body) = app
            .app_get(&format!("/v1/transactional/{id}/deliveries?{query}"))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
    }
    let (status, metrics) = app
        .app_get(&format!("/v1/transactional/{id}/metrics"))
        .await;
    assert_eq!(status, 200, "{metrics}");
    assert_eq!(metrics["metrics"]["sent"], 3, "{metrics}");
    assert_eq!(metrics["metrics"]["failed"], 0, "{metrics}");
    for path in [
        "/v1/transactional/999/metrics",
        "/v1/transactional/x/deliveries",
    ] {
        let (status, body) = app.app_get(path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, body) = app
        .app_get(&format!("/v1/transactional/{id}/metrics/links"))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_supported", "{body}");

    // Not retained: the email goes out whole, and its delivery keeps only where it went.
    let (status, secret) = app
        .app_post(
            "/v1/send/email",
            json!({"transactional_message_id": id, "identifiers": {"id": "ann"},
                   "message_data": {"order_id": "S3CRET"}, "disable_message_retention": true}),
        )
        .await;
    assert_eq!(status, 200, "{secret}");
    let messages = smtp.wait_for_messages(5, Duration::from_secs(20)).await;
    assert_eq!(
        messages[4].header("Subject").as_deref(),
        Some("Receipt S3CRET")
    );
    let kept = sent_delivery(&app, secret["delivery_id"].as_str().expect("an id")).await;
    assert_eq!(
        kept["content"],
        json!({"to": "ann@example.com", "retained": false}),
        "{kept}"
    );
    assert!(!kept.to_string().contains("S3CRET"), "{kept}");
    let (_, listed) = app
        .app_get(&format!("/v1/transactional/{id}/deliveries?limit=1"))
        .await;
    assert!(!listed.to_string().contains("S3CRET"), "{listed}");
}

#[tokio::test]
async fn a_transactional_push_reaches_the_devices_including_one_it_brings() {
    let gateway = Receiver::start().await;
    let app =
        TestApp::spawn_with(&[&format!("--push-gateway-url={}/push", gateway.base_url)]).await;
    let id = start_campaign(
        &app,
        json!({"name": "Login alert", "trigger": {"transactional": {}},
               "steps": [{"push": {"title": "New login", "body": "From {{ trigger.city }}"}}]}),
    )
    .await;
    let (status, sent) = app
        .app_post(
            "/v1/send/push",
            json!({"transactional_message_id": id, "identifiers": {"id": 12345},
                   "message_data": {"city": "Lyon"}, "link": "app://security",
                   "custom_data": {"kind": "alert"},
                   "custom_device": {"token": "tok-new", "platform": "android"}}),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let received = gateway.wait_for(1).await;
    let push = received[0].json();
    assert_eq!(push["token"], "tok-new");
    assert_eq!(push["title"], "New login");
    assert_eq!(push["body"], "From Lyon");
    assert_eq!(push["data"]["link"], "app://security");
    assert_eq!(push["data"]["kind"], "alert");
    assert_eq!(push["data"]["CIO-Delivery-ID"], sent["delivery_id"]);
}

#[tokio::test]
async fn transactional_requests_it_cannot_honour_are_refused_and_send_nothing() {
    let smtp = SmtpSink::start().await;
    let app = TestApp::spawn_with(&[&format!("--smtp-url={}", smtp.url())]).await;
    let id = start_campaign(&app, receipt()).await;
    let (status, created) = app
        .app_post("/v1/campaigns", json!({"campaign": receipt()}))
        .await;
    assert_eq!(status, 200, "{created}");
    let draft = created["campaign"]["id"].as_i64().expect("an id");
    let person = json!({"id": "bo"});
    for (body, status, needle) in [
        (json!({"identifiers": person}), 400, "to is required"),
        (
            json!({"transactional_message_id": id, "identifiers": person,
                   "disable_message_retention": "yes"}),
            400,
            "disable_message_retention must be true or false",
        ),
        (
            json!({"transactional_message_id": 999, "identifiers": person}),
            404,
            "no transactional message",
        ),
        (
            json!({"transactional_message_id": draft, "identifiers": person}),
            400,
            "not started",
        ),
        (json!({"transactional_message_id": id}), 400, "identifiers"),
        (
            json!({"transactional_message_id": id, "identifiers": {}}),
            400,
            "no identifier given",
        ),
        (
            json!({"transactional_message_id": id, "identifiers": {"cio_id": "doesnotexist"}}),
            404,
            "no person has the cio_id",
        ),
        (
            json!({"transactional_message_id": id, "identifiers": person,
                "attachments": {"a.txt": "aGk="}}),
            400,
            "attachments",
        ),
        (
            json!({"transactional_message_id": id, "identifiers": person, "cc": "x@example.com"}),
            400,
            "cc",
        ),
        (
            json!({"transactional_message_id": id, "identifiers": person, "subject": "{% if %}"}),
            400,
            "subject",
        ),
    ] {
        let (got, answer) = app.app_post("/v1/send/email", body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer.to_string().contains(needle), "{body}: {answer}");
    }
    let (got, answer) = app
        .app_post(
            "/v1/send/push",
            json!({"transactional_message_id": id, "identifiers": person}),
        )
        .await;
    assert_eq!(got, 400, "{answer}");
    assert!(answer.to_string().contains("/v1/send/email"), "{answer}");
    let (got, answer) = app
        .app_post(
            "/v1/campaigns",
            json!({"campaign": {"name": "two", "trigger": {"transactional": {}},
                   "steps": [{"delay": {"minutes": 1}}, {"push": {"title": "t", "body": "b"}}]}}),
        )
        .await;
    assert_eq!(got, 400, "{answer}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(smtp.messages().is_empty(), "nothing was sent");
}
