//! Click and open tracking of HTML email.

use herald_delivery::{click_signature, delivery_token, instrument_html, verify_click};

const BASE: &str = "https://herald.example";
const KEY: &[u8] = b"tracking-key";

/// Pulls the `u` and `s` parameters out of a tracked link, decoding `u` the way the click
/// endpoint will.
fn parse_tracked(link: &str) -> (String, String) {
    let query = link
        .strip_prefix(&format!("{BASE}/e/c/dlv_1?"))
        .unwrap_or_else(|| panic!("not a tracked link: {link}"));
    let mut url = None;
    let mut signature = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap();
        match name {
            "u" => url = Some(percent_decode(value)),
            "s" => signature = Some(value.to_owned()),
            other => panic!("unexpected parameter {other}"),
        }
    }
    (url.unwrap(), signature.unwrap())
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Every href value in the document, in order.
fn hrefs(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut rest = 0;
    while let Some(at) = lower[rest..].find("href=") {
        let start = rest + at + 5;
        let quote = html.as_bytes()[start];
        let (value_start, end) = if quote == b'"' || quote == b'\'' {
            let close = html[start + 1..].find(quote as char).unwrap() + start + 1;
            (start + 1, close)
        } else {
            let close = html[start..].find([' ', '>']).unwrap() + start;
            (start, close)
        };
        found.push(html[value_start..end].to_owned());
        rest = end;
    }
    found
}

#[test]
fn rewrites_links_in_both_quote_styles_and_any_attribute_order() {
    let html = concat!(
        r#"<html><body>"#,
        r#"<a href="https://shop.example/sale?x=1&amp;y=two words">Sale</a>"#,
        r#"<A class='btn' HREF='http://blog.example/post#top' target=_blank>Post</A>"#,
        r#"<a id=x href=https://bare.example/p>Bare</a>"#,
        r#"</body></html>"#
    );
    let out = instrument_html(html, BASE, "dlv_1", KEY);
    let links = hrefs(&out);
    assert_eq!(links.len(), 3, "{out}");
    let expected = [
        "https://shop.example/sale?x=1&y=two words",
        "http://blog.example/post#top",
        "https://bare.example/p",
    ];
    for (link, original) in links.iter().zip(expected) {
        let (url, signature) = parse_tracked(link);
        assert_eq!(url, original);
        assert_eq!(signature, click_signature(KEY, "dlv_1", original));
        assert!(verify_click(KEY, "dlv_1", &url, &signature));
    }
    // The quote style and the other attributes are kept.
    assert!(
        out.contains(r#"<A class='btn' HREF='https://herald.example/e/c/dlv_1?u="#),
        "{out}"
    );
    assert!(out.contains("target=_blank>Post</A>"), "{out}");
    assert!(
        out.contains(r#"<a id=x href="https://herald.example/e/c/dlv_1?u="#),
        "{out}"
    );
}

#[test]
fn leaves_mailto_tel_anchors_relative_and_unsubscribe_links_alone() {
    let html = concat!(
        r#"<a href="mailto:help@shop.example">Mail</a>"#,
        r#"<a href='tel:+15551234'>Call</a>"#,
        r##"<a href="#section">Jump</a>"##,
        r#"<a href="/relative">Rel</a>"#,
        r#"<a href="https://herald.example/unsubscribe/tok123">Unsubscribe</a>"#,
        r#"<a name="top">Top</a>"#,
    );
    let out = instrument_html(html, "https://herald.example/", "dlv_1", KEY);
    assert_eq!(out, format!("{html}{}", pixel()));
}

/// The pixel every instrumented message of delivery `dlv_1` ends with.
fn pixel() -> String {
    format!(
        r#"<img src="https://herald.example/e/o/dlv_1?s={}" width="1" height="1" alt="" style="display:none">"#,
        delivery_token(KEY, "dlv_1")
    )
}

#[test]
fn puts_the_pixel_before_the_closing_body_tag() {
    let pixel = pixel();
    let out = instrument_html("<html><BODY><p>Hi</p></BODY></html>", BASE, "dlv_1", KEY);
    assert_eq!(out, format!("<html><BODY><p>Hi</p>{pixel}</BODY></html>"));

    let out = instrument_html("<p>fragment</p>", BASE, "dlv_1", KEY);
    assert_eq!(out, format!("<p>fragment</p>{pixel}"));
}

#[test]
fn instrumenting_twice_does_not_track_twice() {
    let once = instrument_html(r#"<a href="https://x.example/">x</a>"#, BASE, "dlv_1", KEY);
    let links_once = hrefs(&once);
    let twice = instrument_html(&once, BASE, "dlv_1", KEY);
    assert_eq!(hrefs(&twice), links_once);
}

#[test]
fn signatures_cannot_be_forged_or_moved() {
    let url = "https://shop.example/sale";
    let signature = click_signature(KEY, "dlv_1", url);
    assert_eq!(signature.len(), 32);
    assert!(signature.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(verify_click(KEY, "dlv_1", url, &signature));

    // Another destination, another delivery, another key, or a tampered signature fail.
    assert!(!verify_click(
        KEY,
        "dlv_1",
        "https://evil.example/",
        &signature
    ));
    assert!(!verify_click(KEY, "dlv_2", url, &signature));
    assert!(!verify_click(b"other-key", "dlv_1", url, &signature));
    let mut tampered = signature.clone().into_bytes();
    tampered[0] = if tampered[0] == b'0' { b'1' } else { b'0' };
    assert!(!verify_click(
        KEY,
        "dlv_1",
        url,
        &String::from_utf8(tampered).unwrap()
    ));
    assert!(!verify_click(KEY, "dlv_1", url, ""));
    assert!(!verify_click(KEY, "dlv_1", url, &format!("{signature}00")));
}
