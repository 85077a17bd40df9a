//! The email sender against a real SMTP server (aiosmtpd, see `support/smtp_sink.rs`).

#[path = "support/smtp_sink.rs"]
mod smtp_sink;

use std::time::Duration;

use herald_delivery::{DeliveryError, EmailMessage, EmailSender, SmtpConfig};
use smtp_sink::SmtpSink;

fn sender(url: String) -> EmailSender {
    EmailSender::new(SmtpConfig {
        url,
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

fn message(to: &str) -> EmailMessage {
    EmailMessage {
        from: "Herald News <news@herald.test>".to_owned(),
        to: to.to_owned(),
        subject: "Welcome aboard".to_owned(),
        html: Some("<html><body><p>Hello <b>Ada</b></p></body></html>".to_owned()),
        text: Some("Hello Ada".to_owned()),
        message_id: "idem_01@herald".to_owned(),
        headers: vec![
            (
                "List-Unsubscribe".to_owned(),
                "<https://herald.test/unsubscribe/tok>".to_owned(),
            ),
            (
                "List-Unsubscribe-Post".to_owned(),
                "List-Unsubscribe=One-Click".to_owned(),
            ),
            ("X-Herald-Delivery-Id".to_owned(), "dlv_01".to_owned()),
        ],
    }
}

#[tokio::test]
async fn delivers_multipart_mail_with_headers() {
    let sink = SmtpSink::start().await;
    sender(sink.url())
        .send(&message("ada@example.test"))
        .await
        .unwrap();

    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let mail = &messages[0];
    assert_eq!(mail.mail_from, "news@herald.test");
    assert_eq!(mail.rcpt_to, ["ada@example.test"]);
    assert_eq!(
        mail.header("From").unwrap(),
        "\"Herald News\" <news@herald.test>"
    );
    assert_eq!(mail.header("To").unwrap(), "ada@example.test");
    assert_eq!(mail.header("Subject").unwrap(), "Welcome aboard");
    assert_eq!(mail.header("Message-ID").unwrap(), "<idem_01@herald>");
    assert_eq!(
        mail.header("List-Unsubscribe").unwrap(),
        "<https://herald.test/unsubscribe/tok>"
    );
    assert_eq!(
        mail.header("List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(mail.header("X-Herald-Delivery-Id").unwrap(), "dlv_01");
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"),
        "{}",
        mail.raw
    );
    assert!(
        mail.raw.contains("Content-Type: text/plain"),
        "{}",
        mail.raw
    );
    assert!(mail.raw.contains("Content-Type: text/html"), "{}", mail.raw);
    assert!(mail.raw.contains("Hello Ada"), "{}", mail.raw);
    assert!(mail.raw.contains("<p>Hello <b>Ada</b></p>"), "{}", mail.raw);
}

#[tokio::test]
async fn html_only_and_text_only_are_single_part() {
    let sink = SmtpSink::start().await;
    let sender = sender(sink.url());
    let mut html_only = message("ada@example.test");
    html_only.text = None;
    sender.send(&html_only).await.unwrap();
    let mut text_only = message("ada@example.test");
    text_only.html = None;
    text_only.message_id = "idem_02@herald".to_owned();
    sender.send(&text_only).await.unwrap();

    let messages = sink.messages();
    assert_eq!(messages.len(), 2);
    assert!(
        messages[0]
            .header("Content-Type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        messages[1]
            .header("Content-Type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(
        messages[1].header("Message-ID").unwrap(),
        "<idem_02@herald>"
    );
}

#[tokio::test]
async fn a_550_rejection_is_permanent() {
    let sink = SmtpSink::start().await;
    let error = sender(sink.url())
        .send(&message("reject@example.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, DeliveryError::Permanent(text) if text.contains("550")),
        "{error:?}"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_451_deferral_is_retryable() {
    let sink = SmtpSink::start().await;
    let sender = sender(sink.url());
    let error = sender
        .send(&message("tempfail@example.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, DeliveryError::Retryable(text) if text.contains("451")),
        "{error:?}"
    );
    // The pooled connection is still usable for the next message.
    sender.send(&message("ada@example.test")).await.unwrap();
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn connection_refused_is_retryable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = sender(format!("smtp://127.0.0.1:{port}"))
        .send(&message("ada@example.test"))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
}

#[tokio::test]
async fn invalid_messages_are_permanent_and_never_sent() {
    let sink = SmtpSink::start().await;
    let sender = sender(sink.url());

    let mut bad_to = message("not an address");
    bad_to.to = "not an address".to_owned();
    let error = sender.send(&bad_to).await.unwrap_err();
    assert!(
        matches!(&error, DeliveryError::Permanent(text) if text.contains("to address")),
        "{error:?}"
    );

    let mut bad_from = message("ada@example.test");
    bad_from.from = "nobody".to_owned();
    let error = sender.send(&bad_from).await.unwrap_err();
    assert!(
        matches!(&error, DeliveryError::Permanent(text) if text.contains("from address")),
        "{error:?}"
    );

    let mut no_body = message("ada@example.test");
    no_body.html = None;
    no_body.text = None;
    assert!(!sender.send(&no_body).await.unwrap_err().is_retryable());

    assert!(sink.messages().is_empty());
}

#[test]
fn an_unusable_smtp_url_is_permanent() {
    for url in ["http://mail.example", "not a url", "smtp://"] {
        let error = EmailSender::new(SmtpConfig {
            url: url.to_owned(),
            timeout: Duration::from_secs(1),
        })
        .unwrap_err();
        assert!(!error.is_retryable(), "{url}: {error:?}");
    }
}
