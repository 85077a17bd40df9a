//! Deliveries, metrics, tracking links and unsubscribe through the real server: webhooks to a
//! real receiver and email to a real SMTP server make the deliveries the tests then follow.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::delivery::{ALLOW_LOOPBACK, start_campaign};
use crate::helpers::{TestApp, event, identify};
use crate::receiver::Receiver;
use crate::smtp_sink::{SinkMessage, SmtpSink};

/// A webhook campaign started by `event_name`, sending to `receiver`.
async fn webhook_campaign(app: &TestApp, receiver: &Receiver, event_name: &str) -> i64 {
    start_campaign(
        app,
        json!({
            "name": format!("On {event_name}"),
            "trigger": {"event": {"name": event_name}},
            "steps": [{"webhook": {"url": format!("{}/{event_name}", receiver.base_url)}}]
        }),
    )
    .await
}

/// Waits until a delivery reached `status`: the dispatcher records a send just after the
/// receiver answered it, and a metric reported before that would race with the record.
async fn wait_for_status(app: &TestApp, delivery_id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = app.app_get(&format!("/v1/deliveries/{delivery_id}")).await;
        assert_eq!(code, 200, "{body}");
        if body["delivery"]["status"] == status {
            return body["delivery"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "delivery {delivery_id} never became {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The delivery token the default webhook body of the `index`th received request carries.
fn delivery_token_of(receiver: &Receiver, index: usize) -> String {
    receiver.received()[index].json()["delivery_token"]
        .as_str()
        .expect("the default webhook body carries the delivery token")
        .to_owned()
}

/// Makes `person` trigger a webhook campaign and returns the id of the delivery, once sent.
async fn sent_webhook(
    app: &TestApp,
    receiver: &Receiver,
    person: &str,
    event_name: &str,
    expected: usize,
) -> String {
    event(app, person, json!({"name": event_name})).await;
    let received = receiver.wait_for(expected).await;
    let delivery_id = received[expected - 1]
        .header("x-herald-delivery-id")
        .expect("the webhook names its delivery");
    wait_for_status(app, &delivery_id, "sent").await;
    delivery_id
}

/// Reports a metric the way an app's server does: with the workspace's Track API credentials.
async fn report(app: &TestApp, delivery_id: &str, metric: &str) {
    let (status, body) = app
        .track(
            reqwest::Method::POST,
            "/api/v1/metrics",
            Some(json!({"delivery_id": delivery_id, "metric": metric})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Posts a metric without credentials; returns the status and body.
async fn report_anonymously(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn metrics(app: &TestApp, campaign: i64) -> Value {
    let (status, body) = app
        .app_get(&format!("/v1/campaigns/{campaign}/metrics"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["campaign_id"], campaign);
    body["metrics"].clone()
}

async fn attributes(app: &TestApp, person: &str) -> Value {
    let (status, body) = app
        .app_get(&format!("/v1/customers/{person}/attributes"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["customer"]["attributes"].clone()
}

/// The person's `delivery_metric` activities, oldest first.
async fn delivery_metrics_of(app: &TestApp, person: &str) -> Vec<Value> {
    let (status, body) = app
        .app_get(&format!(
            "/v1/customers/{person}/activities?type=delivery_metric&limit=100"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    // The API lists newest first; the tests read them in the order they happened.
    let mut activities = body["activities"].as_array().unwrap().clone();
    activities.reverse();
    activities
}

/// A client that reports redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn reported_metrics_move_the_delivery_and_are_counted() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    let campaign = webhook_campaign(&app, &receiver, "signed_up").await;
    identify(&app, "ann", json!({"email": "ann@example.com"})).await;
    let delivery_id = sent_webhook(&app, &receiver, "ann", "signed_up", 1).await;

    let zero = metrics(&app, campaign).await;
    assert_eq!(
        zero,
        json!({"triggered": 1, "queued": 0, "sent": 1, "delivered": 0, "opened": 0, "clicked": 0,
               "converted": 0, "bounced": 0, "failed": 0})
    );

    report(&app, &delivery_id, "delivered").await;
    report(&app, &delivery_id, "bounced").await;
    report(&app, &delivery_id, "opened").await;
    let (status, body) = app.app_get(&format!("/v1/deliveries/{delivery_id}")).await;
    assert_eq!(status, 200, "{body}");
    let delivery = &body["delivery"];
    assert_eq!(delivery["status"], "opened", "{body}");
    assert_eq!(delivery["campaign_id"], campaign);
    assert_eq!(delivery["channel"], "webhook");
    assert_eq!(delivery["customer"]["id"], "ann");
    assert_eq!(delivery["customer"]["email"], "ann@example.com");
    assert!(delivery["customer"]["cio_id"].is_string(), "{body}");
    assert!(delivery["sent_at"].is_i64(), "{body}");
    assert_eq!(delivery["attempts"], 1, "{body}");
    assert!(delivery["content"].is_object(), "{body}");
    assert!(delivery["idempotency_key"].is_string(), "{body}");

    // A late `delivered` does not move an opened delivery back, and a second report of one
    // outcome counts the delivery once.
    report(&app, &delivery_id, "delivered").await;
    assert_eq!(
        metrics(&app, campaign).await,
        json!({"triggered": 1, "queued": 0, "sent": 1, "delivered": 1, "opened": 1, "clicked": 0,
               "converted": 0, "bounced": 1, "failed": 0})
    );
    wait_for_status(&app, &delivery_id, "opened").await;

    let logged = delivery_metrics_of(&app, "ann").await;
    let names: Vec<&str> = logged.iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(
        names,
        ["delivered", "bounced", "opened", "delivered"],
        "{logged:?}"
    );
    assert_eq!(logged[2]["data"]["delivery_id"], delivery_id.as_str());
    assert_eq!(logged[2]["data"]["campaign_id"], campaign);
    assert_eq!(logged[2]["data"]["source"], "metrics");
}

#[tokio::test]
async fn metrics_need_credentials_or_the_delivery_token_and_a_sent_delivery() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    let campaign = webhook_campaign(&app, &receiver, "signed_up").await;
    identify(&app, "ann", json!({})).await;
    let delivery_id = sent_webhook(&app, &receiver, "ann", "signed_up", 1).await;
    let token = delivery_token_of(&receiver, 0);

    // The delivery id alone, or with a forged token, writes nothing.
    for body in [
        json!({"delivery_id": delivery_id, "metric": "clicked"}),
        json!({"delivery_id": delivery_id, "metric": "clicked", "delivery_token": "0".repeat(32)}),
    ] {
        let (status, answer) = report_anonymously(&app, "/api/v1/metrics", body).await;
        assert_eq!(status, 401, "{answer}");
        assert_eq!(answer["code"], "unauthorized", "{answer}");
    }
    let (status, answer) = report_anonymously(
        &app,
        "/api/v1/push/events",
        json!({"delivery_id": delivery_id, "event": "opened", "device_id": "someone-else"}),
    )
    .await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(metrics(&app, campaign).await["clicked"], 0);

    // The token proves the report, as `delivery_token` or as the SDKs' `device_id`.
    let (status, answer) = report_anonymously(
        &app,
        "/api/v1/metrics",
        json!({"delivery_id": delivery_id, "metric": "clicked", "delivery_token": token}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = report_anonymously(
        &app,
        "/api/v1/push/events",
        json!({"delivery_id": delivery_id, "event": "converted", "device_id": token}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    wait_for_status(&app, &delivery_id, "converted").await;

    // Another workspace's credentials do not reach this workspace's delivery.
    let other = crate::helpers::create_workspace(&app.server.data_dir, "other");
    let response = app
        .client
        .post(app.url("/api/v1/metrics"))
        .basic_auth(&other.site_id, Some(&other.api_key))
        .json(&json!({"delivery_id": delivery_id, "metric": "opened"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    // An unknown delivery is a 404 for the workspace's own credentials too.
    let (status, answer) = app
        .track(
            reqwest::Method::POST,
            "/api/v1/metrics",
            Some(json!({"delivery_id": "01JUNKNOWNDELIVERY0000000", "metric": "opened"})),
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["code"], "unknown_delivery", "{answer}");
    assert_eq!(metrics(&app, campaign).await["opened"], 0);
}

#[tokio::test]
async fn a_delivery_that_was_never_sent_takes_no_metrics() {
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK, "--delivery-retry-base-seconds=3600"]).await;
    // Nothing listens on the port, so the webhook fails and waits an hour for its retry.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/nobody", closed.local_addr().unwrap());
    drop(closed);
    let campaign = start_campaign(
        &app,
        json!({"name": "Unreachable", "trigger": {"event": {"name": "signed_up"}},
               "steps": [{"webhook": {"url": url}}]}),
    )
    .await;
    identify(&app, "ann", json!({})).await;
    event(&app, "ann", json!({"name": "signed_up"})).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let delivery = loop {
        let (status, body) = app
            .app_get(&format!("/v1/deliveries?campaign_id={campaign}"))
            .await;
        assert_eq!(status, 200, "{body}");
        if let Some(delivery) = body["deliveries"]
            .as_array()
            .and_then(|list| list.first())
            .filter(|delivery| delivery["attempts"] == 1)
        {
            break delivery.clone();
        }
        assert!(Instant::now() < deadline, "no failed attempt: {body}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(delivery["status"], "queued", "{delivery}");
    let delivery_id = delivery["id"].as_str().unwrap();
    let (status, answer) = app
        .track(
            reqwest::Method::POST,
            "/api/v1/metrics",
            Some(json!({"delivery_id": delivery_id, "metric": "clicked"})),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["code"], "delivery_not_sent", "{answer}");
    let (status, body) = app.app_get(&format!("/v1/deliveries/{delivery_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["delivery"]["status"], "queued", "{body}");
    assert_eq!(metrics(&app, campaign).await["clicked"], 0);
}

#[tokio::test]
async fn the_open_pixel_records_an_open_and_answers_every_id_alike() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    let campaign = webhook_campaign(&app, &receiver, "signed_up").await;
    identify(&app, "ann", json!({})).await;
    let delivery_id = sent_webhook(&app, &receiver, "ann", "signed_up", 1).await;

    let token = delivery_token_of(&receiver, 0);
    let mut images = Vec::new();
    // The id alone, a wrong token and an unknown id record nothing and look the same.
    for path in [
        format!("/e/o/{delivery_id}"),
        format!("/e/o/{delivery_id}?s={}", "0".repeat(32)),
        format!("/e/o/01JUNKNOWNDELIVERY0000000?s={token}"),
        format!("/e/o/{delivery_id}?s={token}"),
    ] {
        let response = app.client.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/gif");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let image = response.bytes().await.unwrap();
        assert!(image.starts_with(b"GIF89a"), "{image:?}");
        images.push(image);
    }
    assert!(
        images.iter().all(|image| image == &images[0]),
        "an unknown id or a wrong token must not be told apart"
    );

    wait_for_status(&app, &delivery_id, "opened").await;
    assert_eq!(metrics(&app, campaign).await["opened"], 1);
    let logged = delivery_metrics_of(&app, "ann").await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["name"], "opened");
    assert_eq!(logged[0]["data"]["source"], "pixel");
}

/// Reads the decoded HTML part of a message, whichever transfer encoding lettre chose.
fn html_of(message: &SinkMessage) -> String {
    let raw = &message.raw;
    let at = raw
        .find("Content-Type: text/html")
        .unwrap_or_else(|| panic!("no html part: {raw}"));
    let (head, body) = raw[at..].split_once("\r\n\r\n").unwrap();
    let body = body.split("\r\n--").next().unwrap();
    let encoding = head.to_ascii_lowercase();
    if encoding.contains("content-transfer-encoding: quoted-printable") {
        decode_quoted_printable(body)
    } else if encoding.contains("content-transfer-encoding: base64") {
        panic!("the html part came base64-encoded; extend html_of: {raw}")
    } else {
        body.to_owned()
    }
}

/// Undoes quoted-printable: soft line breaks (`=` at a line's end) and `=XX` escapes.
fn decode_quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The first `href` value that contains `needle`.
fn link_containing(html: &str, needle: &str) -> String {
    let at = html
        .find(needle)
        .unwrap_or_else(|| panic!("no {needle} link: {html}"));
    let start = html[..at].rfind('"').unwrap() + 1;
    let end = at + html[at..].find('"').unwrap();
    html[start..end].to_owned()
}

/// An email campaign with one tracked link and the unsubscribe link; returns its id, the sent
/// message and the delivery id.
async fn sent_email(app: &TestApp, sink: &SmtpSink) -> (i64, SinkMessage, String) {
    let campaign = start_campaign(
        app,
        json!({
            "name": "Welcome",
            "trigger": {"event": {"name": "signed_up"}},
            "steps": [{"email": {
                "to": "{{ customer.email }}",
                "from": "news@herald.test",
                "subject": "Welcome",
                "html": "<html><body>\n<p><a href=\"https://example.com/x\">Read more</a></p>\n<p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>\n</body></html>"
            }}]
        }),
    )
    .await;
    identify(app, "ann", json!({"email": "ann@example.com"})).await;
    event(app, "ann", json!({"name": "signed_up"})).await;
    let message = sink
        .wait_for_messages(1, Duration::from_secs(20))
        .await
        .remove(0);
    let (status, list) = app
        .app_get(&format!("/v1/deliveries?campaign_id={campaign}"))
        .await;
    assert_eq!(status, 200, "{list}");
    let delivery_id = list["deliveries"][0]["id"].as_str().unwrap().to_owned();
    wait_for_status(app, &delivery_id, "sent").await;
    (campaign, message, delivery_id)
}

#[tokio::test]
async fn a_click_link_from_a_real_email_redirects_only_when_signed() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(&[&format!("--smtp-url={}", sink.url())]).await;
    let (campaign, message, delivery_id) = sent_email(&app, &sink).await;
    let html = html_of(&message);
    let link = link_containing(&html, "/e/c/");
    assert!(
        link.starts_with(&app.url(&format!("/e/c/{delivery_id}?u="))),
        "{link}"
    );
    assert!(
        html.contains(&format!("/e/o/{delivery_id}")),
        "no pixel: {html}"
    );
    let client = no_redirects();

    // A forged signature, a signature moved onto another URL, and a missing one are refused.
    let (base, signature) = link.split_once("&s=").unwrap();
    let forged = format!("{base}&s={}", "0".repeat(signature.len()));
    let elsewhere = format!(
        "{}?u=https%3A%2F%2Fevil.example%2F&s={signature}",
        app.url(&format!("/e/c/{delivery_id}"))
    );
    for bad in [forged, elsewhere, base.to_owned()] {
        let response = client.get(&bad).send().await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert!(response.headers().get("location").is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "invalid_click_link", "{body}");
    }
    assert_eq!(metrics(&app, campaign).await["clicked"], 0);

    let response = client.get(&link).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "https://example.com/x");
    wait_for_status(&app, &delivery_id, "clicked").await;
    assert_eq!(metrics(&app, campaign).await["clicked"], 1);
    let logged = delivery_metrics_of(&app, "ann").await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["name"], "clicked");
}

#[tokio::test]
async fn the_emails_unsubscribe_link_and_header_unsubscribe_in_one_click() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(&[&format!("--smtp-url={}", sink.url())]).await;
    let (campaign, message, delivery_id) = sent_email(&app, &sink).await;
    let header = message.header("List-Unsubscribe").unwrap();
    let url = header.trim_matches(['<', '>']).to_owned();
    assert_eq!(url, app.url(&format!("/unsubscribe/{delivery_id}")));
    assert_eq!(
        message.header("List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(
        link_containing(&html_of(&message), "/unsubscribe/"),
        url,
        "the body's link is the header's, untracked"
    );

    // Opening the page changes nothing: it offers a button that posts the one-click form.
    let page = app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = page.text().await.unwrap();
    assert!(page.contains(r#"<form method="post">"#), "{page}");
    assert!(
        page.contains(r#"name="List-Unsubscribe" value="One-Click""#),
        "{page}"
    );
    assert!(!page.contains("<script"), "{page}");
    assert!(attributes(&app, "ann").await.get("unsubscribed").is_none());

    // The button, as a browser posts it, gets a confirmation page.
    let response = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("You are unsubscribed")
    );
    assert_eq!(attributes(&app, "ann").await["unsubscribed"], true);
    assert_eq!(metrics(&app, campaign).await["unsubscribed"], 1);
    let changes = app.all_activities("&type=attribute_change").await;
    assert!(
        changes
            .iter()
            .any(|change| change.to_string().contains("unsubscribed")),
        "{changes:?}"
    );

    // A page for an id that is no delivery says so, for people, with a 404.
    let unknown = app
        .client
        .get(app.url("/unsubscribe/01JUNKNOWNDELIVERY0000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("not valid"));
}

async fn post_unsubscribe(
    app: &TestApp,
    delivery_id: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(&format!("/unsubscribe/{delivery_id}")))
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn unsubscribe_by_json_and_by_one_click_form_set_the_attribute() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    let campaign = webhook_campaign(&app, &receiver, "signed_up").await;
    identify(&app, "ann", json!({})).await;
    let delivery_id = sent_webhook(&app, &receiver, "ann", "signed_up", 1).await;
    let json_type = "application/json";
    let form_type = "application/x-www-form-urlencoded";

    let (status, body) =
        post_unsubscribe(&app, &delivery_id, json_type, r#"{"unsubscribe": true}"#).await;
    assert_eq!((status, &body), (200, &json!({})));
    assert_eq!(attributes(&app, "ann").await["unsubscribed"], true);

    let (status, _) =
        post_unsubscribe(&app, &delivery_id, json_type, r#"{"unsubscribe": false}"#).await;
    assert_eq!(status, 200);
    assert_eq!(attributes(&app, "ann").await["unsubscribed"], false);

    // A mail client's RFC 8058 POST, in both encodings the RFC allows.
    let (status, body) =
        post_unsubscribe(&app, &delivery_id, form_type, "List-Unsubscribe=One-Click").await;
    assert_eq!((status, &body), (200, &json!({})));
    assert_eq!(attributes(&app, "ann").await["unsubscribed"], true);
    let (status, _) =
        post_unsubscribe(&app, &delivery_id, json_type, r#"{"unsubscribe": false}"#).await;
    assert_eq!(status, 200);
    let multipart = "--b0UND\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b0UND--\r\n";
    let (status, _) = post_unsubscribe(
        &app,
        &delivery_id,
        "multipart/form-data; boundary=b0UND",
        multipart,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(attributes(&app, "ann").await["unsubscribed"], true);

    // Two unsubscribes of one delivery count it once.
    assert_eq!(metrics(&app, campaign).await["unsubscribed"], 1);
    let logged = delivery_metrics_of(&app, "ann").await;
    let names: Vec<&str> = logged.iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(
        names,
        ["unsubscribed", "unsubscribed", "unsubscribed"],
        "{logged:?}"
    );

    // Bad bodies and unknown deliveries are 400s that change nothing.
    let unknown = "01JUNKNOWNDELIVERY0000000";
    for (id, content_type, body) in [
        (unknown, json_type, r#"{"unsubscribe": true}"#),
        (unknown, form_type, "List-Unsubscribe=One-Click"),
        (delivery_id.as_str(), json_type, r#"{"unsubscribe": "yes"}"#),
        (delivery_id.as_str(), json_type, "{"),
        (delivery_id.as_str(), json_type, ""),
        (
            delivery_id.as_str(),
            form_type,
            "List-Unsubscribe=Two-Clicks",
        ),
        (
            delivery_id.as_str(),
            "text/plain",
            r#"{"unsubscribe": true}"#,
        ),
    ] {
        let (status, answer) = post_unsubscribe(&app, id, content_type, body).await;
        assert_eq!(status, 400, "{content_type} {body}: {answer}");
        assert!(answer["meta"]["error"].is_string(), "{answer}");
    }
    let (_, answer) = post_unsubscribe(&app, unknown, json_type, r#"{"unsubscribe": true}"#).await;
    assert_eq!(answer["code"], "unknown_delivery", "{answer}");
    assert_eq!(delivery_metrics_of(&app, "ann").await.len(), 3);
}

#[tokio::test]
async fn deliveries_are_listed_by_campaign_and_by_customer() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    let welcome = webhook_campaign(&app, &receiver, "signed_up").await;
    let receipt = webhook_campaign(&app, &receiver, "purchased").await;
    identify(&app, "ann", json!({"email": "ann@example.com"})).await;
    identify(&app, "bob", json!({})).await;
    let ann_welcome = sent_webhook(&app, &receiver, "ann", "signed_up", 1).await;
    let bob_welcome = sent_webhook(&app, &receiver, "bob", "signed_up", 2).await;
    let ann_receipt = sent_webhook(&app, &receiver, "ann", "purchased", 3).await;

    let ids = |body: &Value| -> Vec<String> {
        body["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |query: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app.app_get(&format!("/v1/deliveries{query}")).await;
            assert_eq!(status, 200, "{query}: {body}");
            body
        }
    };

    // Newest first.
    let all = list("").await;
    assert_eq!(
        ids(&all),
        [
            ann_receipt.as_str(),
            bob_welcome.as_str(),
            ann_welcome.as_str()
        ],
        "{all}"
    );
    let by_campaign = app
        .app_get(&format!("/v1/deliveries?campaign_id={welcome}"))
        .await
        .1;
    assert_eq!(
        ids(&by_campaign),
        [bob_welcome.as_str(), ann_welcome.as_str()]
    );
    let by_receipt = app
        .app_get(&format!("/v1/deliveries?campaign_id={receipt}"))
        .await
        .1;
    assert_eq!(ids(&by_receipt), [ann_receipt.as_str()]);
    assert_eq!(by_receipt["deliveries"][0]["campaign_id"], receipt);
    assert_eq!(
        ids(&list("?customer_id=ann").await),
        [ann_receipt.as_str(), ann_welcome.as_str()]
    );
    assert_eq!(
        ids(&list("?customer_id=ann@example.com&id_type=email").await),
        [ann_receipt.as_str(), ann_welcome.as_str()]
    );
    let bob = list("?customer_id=bob").await;
    assert_eq!(ids(&bob), [bob_welcome.as_str()]);
    assert_eq!(bob["deliveries"][0]["customer"]["id"], "bob");
    let ann_welcome_only = app
        .app_get(&format!(
            "/v1/deliveries?campaign_id={welcome}&customer_id=ann"
        ))
        .await
        .1;
    assert_eq!(ids(&ann_welcome_only), [ann_welcome.as_str()]);
    assert_eq!(ids(&list("?limit=1").await), [ann_receipt.as_str()]);
    assert_eq!(ids(&list("?limit=1000").await).len(), 3);

    // Bad input is a 400 and unknown things a 404, each saying what was wrong.
    for query in [
        "?limit=0",
        "?limit=1001",
        "?limit=ten",
        "?campaign_id=abc",
        "?customer_id=ann&id_type=phone",
    ] {
        let (status, body) = app.app_get(&format!("/v1/deliveries{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["code"], "invalid_request", "{body}");
    }
    let (status, body) = app.app_get("/v1/deliveries?customer_id=nobody").await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["meta"]["error"].as_str().unwrap().contains("nobody"),
        "{body}"
    );
    let (status, body) = app
        .app_get("/v1/deliveries/01JUNKNOWNDELIVERY0000000")
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["meta"]["error"], "Delivery not found");
    let (status, body) = app.app_get("/v1/campaigns/999999/metrics").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["meta"]["error"], "Campaign not found");

    // The App API wants its key.
    let anonymous = app
        .client
        .get(app.url("/v1/deliveries"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}
