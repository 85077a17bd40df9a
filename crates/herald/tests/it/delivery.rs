//! Campaigns end to end through the real server: triggers, the durable queue and the senders,
//! against real receivers.

use serde_json::{Value, json};

use crate::helpers::{TestApp, event, identify, set_clock};
use crate::receiver::Receiver;

/// Webhooks may reach the test's loopback receivers only because the tests allow it.
pub const ALLOW_LOOPBACK: &str = "--webhook-allow-networks=127.0.0.0/8";

/// Creates and starts a campaign; returns its id.
pub async fn start_campaign(app: &TestApp, campaign: Value) -> i64 {
    let (status, created) = app
        .app_post("/v1/campaigns", json!({"campaign": campaign}))
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["campaign"]["id"].as_i64().unwrap();
    let (status, started) = app
        .app_post(&format!("/v1/campaigns/{id}/start"), json!({}))
        .await;
    assert_eq!(status, 200, "{started}");
    id
}

#[tokio::test]
async fn an_event_triggers_a_signed_webhook_rendered_from_the_event() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK, "--webhook-signing-secret=s3cret"]).await;
    let campaign = start_campaign(
        &app,
        json!({
            "name": "Receipt",
            "trigger": {"event": {"name": "purchased", "where": [{"field": "price", "op": "gt", "value": 10}]}},
            "steps": [{"webhook": {
                "url": format!("{}/receipts/{{{{ customer.id }}}}", receiver.base_url),
                "headers": {"X-Order": "{{ event.order }}"},
                "body": "{\"plan\": \"{{ event[\"sign up date\"] | date: \"%Y-%m-%d\" }}\", \"email\": \"{{ customer.email }}\", \"nick\": \"{{ customer.nickname | default: \"friend\" }}\"}"
            }}]
        }),
    )
    .await;
    identify(&app, "ann", json!({"email": "ann@example.com"})).await;
    // Not over 10: starts nothing.
    event(
        &app,
        "ann",
        json!({"name": "purchased", "data": {"price": 5, "order": "o-0"}}),
    )
    .await;
    event(
        &app,
        "ann",
        json!({"name": "purchased", "data": {"price": "23.45", "order": "o-1", "sign up date": 1_700_000_000}}),
    )
    .await;
    let received = receiver.wait_for(1).await;
    let request = &received[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/receipts/ann");
    assert_eq!(request.header("x-order").as_deref(), Some("o-1"));
    assert_eq!(
        request.json(),
        json!({"plan": "2023-11-14", "email": "ann@example.com", "nick": "friend"})
    );
    let timestamp: i64 = request
        .header("x-herald-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        request.header("x-herald-signature").unwrap(),
        herald_delivery::sign(b"s3cret", timestamp, &request.body)
    );
    let delivery_id = request.header("x-herald-delivery-id").unwrap();
    assert!(request.header("idempotency-key").is_some());
    receiver.assert_stays_at(1).await;

    let list = settled_deliveries(&app, campaign).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], delivery_id.as_str());
    assert_eq!(list[0]["status"], "sent");
    assert_eq!(list[0]["channel"], "webhook");
    let sent = app.all_activities("&type=delivery_sent").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
}

#[tokio::test]
async fn a_backfilled_event_is_stored_and_counted_but_starts_nothing() {
    let receiver = Receiver::start().await;
    let now = 1_800_000_000;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK, &format!("--dev-clock={now}")]).await;
    start_campaign(
        &app,
        json!({
            "name": "Receipt",
            "trigger": {"event": {"name": "purchased"}},
            "steps": [{"webhook": {"url": format!("{}/hook", receiver.base_url)}}]
        }),
    )
    .await;
    identify(&app, "ann", json!({})).await;
    // 73 hours old when received.
    event(
        &app,
        "ann",
        json!({"name": "purchased", "timestamp": now - 73 * 3600}),
    )
    .await;
    let skipped = app.all_activities("&type=trigger_skipped").await;
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("72 hours"),
        "{skipped:?}"
    );
    let (_, index) = app.app_get("/v1/data_index/events").await;
    assert!(index.to_string().contains("purchased"), "{index}");
    // A fresh one (71 hours) does trigger, which shows the campaign was live all along.
    event(
        &app,
        "ann",
        json!({"name": "purchased", "timestamp": now - 71 * 3600}),
    )
    .await;
    receiver.wait_for(1).await;
    receiver.assert_stays_at(1).await;
    set_clock(&app, now + 10).await;
}

/// Tracks an event and returns when the server acknowledged it.
async fn purchase(app: &TestApp, person: &str) {
    event(
        app,
        person,
        json!({"name": "purchased", "data": {"price": 30}}),
    )
    .await;
}

fn webhook_campaign(receiver: &Receiver, steps_before: Vec<Value>) -> Value {
    let mut steps = steps_before;
    steps.push(
        json!({"webhook": {"url": format!("{}/hook/{{{{ customer.id }}}}", receiver.base_url)}}),
    );
    json!({"name": "Receipt", "trigger": {"event": {"name": "purchased"}}, "steps": steps})
}

async fn deliveries(app: &TestApp, campaign: i64) -> Vec<Value> {
    let (status, body) = app
        .app_get(&format!("/v1/deliveries?campaign_id={campaign}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

/// Returns a campaign's deliveries once none is `queued` any more. The receiver has the message
/// before the server records that it was sent, so a test that saw it arrive polls briefly for
/// the record (a write in flight, not a time window).
pub async fn settled_deliveries(app: &TestApp, campaign: i64) -> Vec<Value> {
    for _ in 0..400 {
        let list = deliveries(app, campaign).await;
        if !list.is_empty() && list.iter().all(|d| d["status"] != "queued") {
            return list;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!(
        "campaign {campaign}'s deliveries never settled: {:?}",
        deliveries(app, campaign).await
    );
}

#[tokio::test]
async fn entering_a_segment_sends_an_email_over_real_smtp_and_builds_send_nothing() {
    let smtp = crate::smtp_sink::SmtpSink::start().await;
    let app = TestApp::spawn_with(&[
        &format!("--smtp-url={}", smtp.url()),
        "--public-url=https://herald.example.com",
    ])
    .await;
    // Already pro before the segment exists: the build puts her in, which must send nothing.
    identify(
        &app,
        "early",
        json!({"email": "early@example.com", "plan": "pro"}),
    )
    .await;
    let segment = crate::segments::create_segment(
        &app,
        Some(json!({"attribute": {"field": "plan", "op": "eq", "value": "pro"}})),
    )
    .await;
    let campaign = start_campaign(
        &app,
        json!({
            "name": "Welcome to pro",
            "trigger": {"segment": {"id": segment, "on": "enter"}},
            "steps": [{"email": {
                "to": "{{ customer.email }}",
                "from": "Herald <news@example.com>",
                "subject": "Welcome, {{ customer.first_name | default: \"friend\" }}",
                "html": "<html><body><p>Hi {{ customer.first_name }}</p><a href=\"https://example.com/start\">Start</a> <a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></body></html>",
                "text": "Hi {{ customer.first_name }}"
            }}]
        }),
    )
    .await;
    identify(
        &app,
        "ann",
        json!({"email": "ann@example.com", "first_name": "Ann", "plan": "pro"}),
    )
    .await;
    let messages = smtp
        .wait_for_messages(1, std::time::Duration::from_secs(20))
        .await;
    let message = &messages[0];
    assert_eq!(message.rcpt_to, vec!["ann@example.com".to_owned()]);
    assert_eq!(message.header("subject").as_deref(), Some("Welcome, Ann"));
    let delivery = &settled_deliveries(&app, campaign).await[0];
    let delivery_id = delivery["id"].as_str().unwrap();
    let key = delivery["idempotency_key"].as_str().unwrap();
    assert_eq!(
        message.header("message-id"),
        Some(format!("<{key}@herald>"))
    );
    assert_eq!(
        message.header("list-unsubscribe"),
        Some(format!(
            "<https://herald.example.com/unsubscribe/{delivery_id}>"
        ))
    );
    // Quoted-printable may wrap lines: compare without soft line breaks.
    let body = message.raw.replace("=\r\n", "").replace("=3D", "=");
    assert!(
        body.contains(&format!("https://herald.example.com/e/o/{delivery_id}")),
        "open pixel missing: {body}"
    );
    assert!(
        body.contains(&format!(
            "https://herald.example.com/e/c/{delivery_id}?u=https%3A%2F%2Fexample.com%2Fstart"
        )),
        "tracked link missing: {body}"
    );
    assert!(body.contains("Hi Ann"));
    // Still one message: the build's entry of `early` sent nothing.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn leaving_a_segment_by_time_alone_triggers_an_exit_campaign() {
    let receiver = Receiver::start().await;
    let start = 1_800_000_000;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK, &format!("--dev-clock={start}")]).await;
    let segment = crate::segments::create_segment(
        &app,
        Some(json!({"event": {"name": "visited", "within": {"days": 1}}})),
    )
    .await;
    start_campaign(
        &app,
        json!({
            "name": "Come back",
            "trigger": {"segment": {"id": segment, "on": "exit"}},
            "steps": [{"webhook": {"url": format!("{}/lapsed", receiver.base_url),
                                   "body": "{{ customer.id }} {{ trigger.segment.cause.type }}"}}]
        }),
    )
    .await;
    identify(&app, "ann", json!({})).await;
    event(&app, "ann", json!({"name": "visited"})).await;
    set_clock(&app, start + 86_399).await;
    receiver.assert_stays_at(0).await;
    set_clock(&app, start + 86_400).await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].body, "ann deadline");
}

#[tokio::test]
async fn a_delay_survives_a_restart() {
    let receiver = Receiver::start().await;
    let start = 1_800_000_000;
    let clock = format!("--dev-clock={start}");
    let args = [ALLOW_LOOPBACK, clock.as_str()];
    let mut app = TestApp::spawn_with(&args).await;
    let campaign = start_campaign(
        &app,
        webhook_campaign(&receiver, vec![json!({"delay": {"hours": 1}})]),
    )
    .await;
    identify(&app, "ann", json!({})).await;
    purchase(&app, "ann").await;
    set_clock(&app, start + 3599).await;
    receiver.assert_stays_at(0).await;
    // A crash, then a restart on the same data.
    app.server.kill();
    let data_dir = app.server.data_dir.clone();
    app.server = crate::helpers::Server::start(&data_dir, &args);
    receiver.assert_stays_at(0).await;
    set_clock(&app, start + 3600).await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/hook/ann");
    receiver.assert_stays_at(1).await;
    assert_eq!(
        settled_deliveries(&app, campaign).await[0]["status"],
        "sent"
    );
}

/// A due run whose stored row cannot be read is read once and set aside, while the others go
/// on: the dispatcher lists due runs by id and reads each afresh, and a damaged one listed again
/// at every look would keep it busy (and its log full) forever.
#[tokio::test]
async fn a_run_that_cannot_be_read_is_set_aside_and_the_others_go_on() {
    let receiver = Receiver::start().await;
    let start = 1_800_000_000;
    let clock = format!("--dev-clock={start}");
    let args = [ALLOW_LOOPBACK, clock.as_str()];
    let mut app = TestApp::spawn_with(&args).await;
    start_campaign(
        &app,
        webhook_campaign(&receiver, vec![json!({"delay": {"hours": 1}})]),
    )
    .await;
    for person in ["ann", "bob"] {
        identify(&app, person, json!({})).await;
        purchase(&app, person).await;
    }
    app.server.kill();
    // Ann's run damaged as a disk or a hand edit could leave it: a trigger nested deeper than
    // any read allows.
    let data_dir = app.server.data_dir.clone();
    let deep = crate::database::too_deep_json();
    let changed = crate::database::execute(
        &data_dir,
        &format!(
            "UPDATE runs SET trigger = '{deep}'
             WHERE person_seq = (SELECT seq FROM people WHERE id = 'ann')"
        ),
    );
    assert_eq!(changed, 1);
    let log = data_dir.join("server.log");
    app.server = crate::helpers::Server::start_logging(&data_dir, &args, &log);
    set_clock(&app, start + 3600).await;
    assert_eq!(receiver.wait_for(1).await[0].path, "/hook/bob");
    // A later run goes through too, after many more looks at the queue.
    identify(&app, "cy", json!({})).await;
    purchase(&app, "cy").await;
    set_clock(&app, start + 7200).await;
    assert_eq!(receiver.wait_for(2).await[1].path, "/hook/cy");
    receiver.assert_stays_at(2).await;
    let text = std::fs::read_to_string(&log).expect("the server's log");
    let reports: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("runs row"))
        .collect();
    assert_eq!(reports.len(), 1, "{reports:#?}\n{text}");
}

#[tokio::test]
async fn a_crash_between_sending_and_recording_repeats_with_the_same_idempotency_key() {
    let receiver = Receiver::start().await;
    let mut app = TestApp::spawn_with(&[ALLOW_LOOPBACK, "--crash-after-send"]).await;
    let campaign = start_campaign(&app, webhook_campaign(&receiver, Vec::new())).await;
    identify(&app, "ann", json!({})).await;
    purchase(&app, "ann").await;
    let first = receiver.wait_for(1).await[0].clone();
    // The server aborted right after the send, before recording it.
    let status = app.server.child.wait().unwrap();
    assert!(
        !status.success(),
        "the server should have crashed: {status}"
    );
    let data_dir = app.server.data_dir.clone();
    app.server = crate::helpers::Server::start(&data_dir, &[ALLOW_LOOPBACK]);
    let received = receiver.wait_for(2).await;
    let repeat = &received[1];
    assert_eq!(
        repeat.header("idempotency-key"),
        first.header("idempotency-key")
    );
    assert_eq!(
        repeat.header("x-herald-delivery-id"),
        first.header("x-herald-delivery-id")
    );
    receiver.assert_stays_at(2).await;
    let list = settled_deliveries(&app, campaign).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "sent");
}

#[tokio::test]
async fn failing_receivers_are_retried_with_backoff_then_given_up() {
    let receiver = Receiver::start().await;
    let start = 1_800_000_000;
    let app = TestApp::spawn_with(&[
        ALLOW_LOOPBACK,
        &format!("--dev-clock={start}"),
        "--delivery-retry-base-seconds=10",
        "--delivery-max-attempts=3",
    ])
    .await;
    let campaign = start_campaign(&app, webhook_campaign(&receiver, Vec::new())).await;
    identify(&app, "ann", json!({})).await;
    receiver.answer_with(&[500, 503]);
    purchase(&app, "ann").await;
    receiver.wait_for(1).await;
    // The first retry waits 10 s, the second 20 s.
    set_clock(&app, start + 9).await;
    receiver.assert_stays_at(1).await;
    set_clock(&app, start + 10).await;
    receiver.wait_for(2).await;
    set_clock(&app, start + 29).await;
    receiver.assert_stays_at(2).await;
    set_clock(&app, start + 30).await;
    let received = receiver.wait_for(3).await;
    let keys: Vec<_> = received
        .iter()
        .map(|r| r.header("idempotency-key"))
        .collect();
    assert!(keys.iter().all(|key| key == &keys[0]), "{keys:?}");
    let delivery = &settled_deliveries(&app, campaign).await[0];
    assert_eq!(delivery["status"], "sent");
    assert_eq!(delivery["attempts"], 3);

    // Three failures in a row: failed, with the reason in the activity log.
    receiver.answer_with(&[500, 500, 500]);
    identify(&app, "bob", json!({})).await;
    purchase(&app, "bob").await;
    receiver.wait_for(4).await;
    set_clock(&app, start + 40).await;
    receiver.wait_for(5).await;
    set_clock(&app, start + 60).await;
    receiver.wait_for(6).await;
    receiver.assert_stays_at(6).await;
    let failed = app.all_activities("&type=delivery_failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0]["data"]["error"].as_str().unwrap().contains("500"),
        "{failed:?}"
    );

    // A 4xx is not worth retrying.
    receiver.answer_with(&[404]);
    identify(&app, "cy", json!({})).await;
    purchase(&app, "cy").await;
    receiver.wait_for(7).await;
    set_clock(&app, start + 4000).await;
    receiver.assert_stays_at(7).await;
    assert_eq!(app.all_activities("&type=delivery_failed").await.len(), 2);
}

#[tokio::test]
async fn a_push_goes_to_every_device_and_an_opened_event_counts_as_its_open() {
    let gateway = Receiver::start().await;
    let app =
        TestApp::spawn_with(&[&format!("--push-gateway-url={}/push", gateway.base_url)]).await;
    let campaign = start_campaign(
        &app,
        json!({
            "name": "Order shipped",
            "trigger": {"event": {"name": "shipped"}},
            "steps": [{"push": {"title": "Shipped!", "body": "Order {{ event.order }} is on its way",
                                "data": {"order": "{{ event.order }}"}}}]
        }),
    )
    .await;
    identify(&app, "ann", json!({})).await;
    for token in ["tok-1", "tok-2"] {
        let (status, body) = app
            .track(
                reqwest::Method::PUT,
                "/api/v1/customers/ann/devices",
                Some(json!({"device": {"id": token, "platform": "ios"}})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    event(
        &app,
        "ann",
        json!({"name": "shipped", "data": {"order": "o-7"}}),
    )
    .await;
    let received = gateway.wait_for(2).await;
    let mut devices: Vec<_> = received
        .iter()
        .map(|r| r.json()["token"].as_str().unwrap().to_owned())
        .collect();
    devices.sort();
    assert_eq!(devices, vec!["tok-1", "tok-2"]);
    let push = received[0].json();
    assert_eq!(push["body"], "Order o-7 is on its way");
    assert_eq!(push["data"]["order"], "o-7");
    let delivery_id = push["data"]["CIO-Delivery-ID"].as_str().unwrap().to_owned();
    // Both devices get the same delivery's token: the proof an open report carries.
    let token = push["data"]["CIO-Delivery-Token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(token.len(), 32, "{push}");
    assert_eq!(
        received[1].json()["data"]["CIO-Delivery-Token"],
        token.as_str()
    );
    // The app reports the open as Customer.io's events guide describes.
    event(
        &app,
        "ann",
        json!({"name": "opened", "data": {"CIO-Delivery-ID": delivery_id, "CIO-Delivery-Token": token}}),
    )
    .await;
    let list = settled_deliveries(&app, campaign).await;
    assert_eq!(list[0]["status"], "opened", "{list:?}");
    let opened = app.all_activities("&type=delivery_metric").await;
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(app.all_activities("&type=event").await.len(), 2);
}

#[tokio::test]
async fn frequency_once_and_current_members_enrollment() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK]).await;
    identify(&app, "early", json!({"plan": "pro"})).await;
    let segment = crate::segments::create_segment(
        &app,
        Some(json!({"attribute": {"field": "plan", "op": "eq", "value": "pro"}})),
    )
    .await;
    start_campaign(
        &app,
        json!({
            "name": "Pro onboarding",
            "trigger": {"segment": {"id": segment, "on": "enter"}},
            "enrollment": "current_and_future",
            "steps": [{"webhook": {"url": format!("{}/pro/{{{{ customer.id }}}}", receiver.base_url)}}]
        }),
    )
    .await;
    // The member from before the start is enrolled by the start itself.
    assert_eq!(receiver.wait_for(1).await[0].path, "/pro/early");
    // Leaving and entering again sends nothing more: the default frequency is once.
    identify(&app, "early", json!({"plan": "free"})).await;
    identify(&app, "early", json!({"plan": "pro"})).await;
    identify(&app, "ann", json!({"plan": "pro"})).await;
    assert_eq!(receiver.wait_for(2).await[1].path, "/pro/ann");
    receiver.assert_stays_at(2).await;
    let skipped = app.all_activities("&type=trigger_skipped").await;
    assert_eq!(skipped.len(), 1, "{skipped:?}");
}

#[tokio::test]
async fn webhooks_to_private_addresses_are_refused_unless_allowed() {
    let receiver = Receiver::start().await;
    // No --webhook-allow-networks: loopback is off limits.
    let app = TestApp::spawn().await;
    let campaign = start_campaign(&app, webhook_campaign(&receiver, Vec::new())).await;
    identify(&app, "ann", json!({})).await;
    purchase(&app, "ann").await;
    let list = settled_deliveries(&app, campaign).await;
    assert_eq!(list[0]["status"], "failed", "{list:?}");
    assert!(
        list[0]["error"]
            .as_str()
            .unwrap()
            .contains("webhook_allow_networks"),
        "{list:?}"
    );
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn anonymous_events_trigger_when_attached_within_72_hours_and_merged_ones_never() {
    let receiver = Receiver::start().await;
    let now = 1_800_000_000;
    let app = TestApp::spawn_with(&[ALLOW_LOOPBACK, &format!("--dev-clock={now}")]).await;
    start_campaign(&app, webhook_campaign(&receiver, Vec::new())).await;
    // An anonymous purchase is stored unattached and starts nothing yet.
    for (anonymous_id, hours_ago) in [("fresh", 1), ("stale", 80)] {
        let (status, body) = app
            .track(
                reqwest::Method::POST,
                "/api/v1/events",
                Some(json!({"name": "purchased", "anonymous_id": anonymous_id, "timestamp": now - hours_ago * 3600})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    receiver.assert_stays_at(0).await;
    // Identifying with the anonymous id attaches the event, which may now trigger.
    identify(&app, "ann", json!({"anonymous_id": "fresh"})).await;
    assert_eq!(receiver.wait_for(1).await[0].path, "/hook/ann");
    // Attached more than 72 hours after its timestamp: stored, explained, not sent.
    identify(&app, "bob", json!({"anonymous_id": "stale"})).await;
    // Merging ann into cy moves her purchase, which must not trigger again.
    identify(&app, "cy", json!({})).await;
    let (status, body) = app
        .track(
            reqwest::Method::POST,
            "/api/v1/merge_customers",
            Some(json!({"primary": {"id": "cy"}, "secondary": {"id": "ann"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    receiver.assert_stays_at(1).await;
    let skipped = app.all_activities("&type=trigger_skipped").await;
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped[0]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("attached")
    );
}
