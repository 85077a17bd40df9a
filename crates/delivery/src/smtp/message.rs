//! Turns an [`EmailMessage`] into a lettre message, refusing what could never be sent.

use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue, MessageId};
use lettre::message::{Mailbox, MultiPart, SinglePart};

use super::EmailMessage;
use crate::error::DeliveryError;

/// Headers the message's structure and envelope come from. Setting one as an extra header
/// would contradict the fields (or, for `Bcc`, quietly add recipients), so it is refused.
const RESERVED: [&str; 11] = [
    "from",
    "to",
    "cc",
    "bcc",
    "sender",
    "subject",
    "message-id",
    "date",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
];

pub(super) fn build(message: &EmailMessage) -> Result<Message, DeliveryError> {
    let from = mailbox("from", &message.from)?;
    let to = mailbox("to", &message.to)?;
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(message.subject.clone())
        .header(MessageId::from(format!(
            "<{}>",
            message_id(&message.message_id)?
        )));
    for (name, value) in &message.headers {
        builder = builder.raw_header(extra_header(name, value)?);
    }
    let built = match (&message.html, &message.text) {
        (Some(html), Some(text)) => builder.multipart(MultiPart::alternative_plain_html(
            text.clone(),
            html.clone(),
        )),
        (Some(html), None) => builder.singlepart(SinglePart::html(html.clone())),
        (None, Some(text)) => builder.singlepart(SinglePart::plain(text.clone())),
        (None, None) => {
            return Err(DeliveryError::Permanent(
                "the email has neither an html nor a text body".to_owned(),
            ));
        }
    };
    built.map_err(|error| DeliveryError::Permanent(format!("cannot build the email: {error}")))
}

fn mailbox(field: &str, raw: &str) -> Result<Mailbox, DeliveryError> {
    raw.trim().parse::<Mailbox>().map_err(|error| {
        DeliveryError::Permanent(format!("invalid {field} address {raw:?}: {error}"))
    })
}

/// Checks a Message-ID's id part: printable ASCII without spaces or angle brackets, with an `@`
/// (RFC 5322 `id-left "@" id-right`).
fn message_id(raw: &str) -> Result<&str, DeliveryError> {
    let valid = raw.contains('@')
        && raw
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && byte != b'<' && byte != b'>');
    if valid {
        Ok(raw)
    } else {
        Err(DeliveryError::Permanent(format!(
            "invalid message_id {raw:?}: expected printable ASCII like \"key@herald\", without angle brackets"
        )))
    }
}

fn extra_header(name: &str, value: &str) -> Result<HeaderValue, DeliveryError> {
    let name = name.trim();
    // RFC 5322 field names are printable ASCII except the colon; lettre checks less.
    let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !name_ok {
        return Err(DeliveryError::Permanent(format!(
            "invalid email header name {name:?}"
        )));
    }
    if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(DeliveryError::Permanent(format!(
            "email header {name} cannot be set as an extra header: it comes from the message's own fields"
        )));
    }
    // lettre would encode a line break rather than send it, but a value with one is a bug
    // upstream that should be seen, not papered over.
    if value.contains(['\r', '\n']) {
        return Err(DeliveryError::Permanent(format!(
            "invalid value for email header {name}: it contains a line break"
        )));
    }
    let name = HeaderName::new_from_ascii(name.to_owned())
        .map_err(|_| DeliveryError::Permanent(format!("invalid email header name {name:?}")))?;
    Ok(HeaderValue::new(name, value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> EmailMessage {
        EmailMessage {
            from: "Herald <news@example.com>".into(),
            to: "person@example.com".into(),
            subject: "Hello".into(),
            html: Some("<p>Hi</p>".into()),
            text: None,
            message_id: "key-1@herald".into(),
            headers: vec![],
        }
    }

    fn formatted(message: &EmailMessage) -> String {
        String::from_utf8(build(message).unwrap().formatted()).unwrap()
    }

    #[test]
    fn invalid_addresses_name_the_field() {
        let mut bad_to = message();
        bad_to.to = "not an address".into();
        let error = build(&bad_to).unwrap_err();
        assert!(!error.is_retryable());
        assert!(
            error.to_string().starts_with("invalid to address"),
            "{error}"
        );

        let mut bad_from = message();
        bad_from.from = "@@".into();
        let error = build(&bad_from).unwrap_err();
        assert!(
            error.to_string().starts_with("invalid from address"),
            "{error}"
        );
    }

    #[test]
    fn a_body_is_required() {
        let mut empty = message();
        empty.html = None;
        assert!(!build(&empty).unwrap_err().is_retryable());
    }

    #[test]
    fn message_id_gets_angle_brackets() {
        assert!(formatted(&message()).contains("Message-ID: <key-1@herald>\r\n"));
        let mut bad = message();
        bad.message_id = "<key@herald>".into();
        assert!(build(&bad).is_err());
    }

    #[test]
    fn extra_headers_are_checked() {
        let mut ok = message();
        ok.headers = vec![(
            "List-Unsubscribe".into(),
            "<https://herald.example/unsubscribe/x>".into(),
        )];
        assert!(
            formatted(&ok).contains("List-Unsubscribe: <https://herald.example/unsubscribe/x>\r\n")
        );

        for (name, value) in [
            ("Bcc", "spy@example.com"),
            ("X Bad", "1"),
            ("X-Evil", "a\r\nBcc: b@c.d"),
        ] {
            let mut bad = message();
            bad.headers = vec![(name.into(), value.into())];
            let error = build(&bad).unwrap_err();
            assert!(!error.is_retryable());
            assert!(error.to_string().contains(name), "{error}");
        }
    }
}
