//! Rewriting an HTML email's links and adding the open pixel.
//!
//! This is a scanner for `<a …>` start tags, not an HTML parser: it copies the document through
//! untouched except for the `href` values it replaces, so markup it does not understand (broken
//! tags, Outlook's conditional comments, templates' leftovers) is never damaged. Links inside
//! comments are rewritten too, on purpose: Outlook renders the links of `<!--[if mso]>` blocks.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::entities;
use super::signature::{click_signature, delivery_token};

/// What stays unencoded in a query value or a path segment: RFC 3986's unreserved characters,
/// as JavaScript's `encodeURIComponent` does, so the value cannot end the parameter early.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Rewrites every http(s) `href` of `<a>` tags to
/// `{base_url}/e/c/{delivery_id}?u=<percent-encoded url>&s=<click_signature>` and adds a 1×1
/// open pixel `<img src="{base_url}/e/o/{delivery_id}?s=<delivery_token>" …>` before `</body>`
/// (or at the end).
///
/// Links to `{base_url}/unsubscribe/…` (the unsubscribe link must work without tracking),
/// links already tracked, and `mailto:`, `tel:`, `#anchor` and relative links are left alone.
/// Tags and attribute names match in any case; values may be double-quoted, single-quoted or
/// bare; attributes may come in any order.
pub fn instrument_html(html: &str, base_url: &str, delivery_id: &str, key: &[u8]) -> String {
    let base = base_url.trim_end_matches('/');
    let id = utf8_percent_encode(delivery_id, COMPONENT).to_string();
    let mut out = String::with_capacity(html.len() + 256);
    let mut copied = 0;
    let mut position = 0;
    while let Some(offset) = html[position..].find('<') {
        let start = position + offset;
        if !is_anchor_start(html.as_bytes(), start) {
            position = start + 1;
            continue;
        }
        let Some(tag) = scan_tag(html, start + 2) else {
            // An unterminated tag or quote runs to the end of the document: nothing after it
            // is markup a mail client would show as a link.
            break;
        };
        if let Some(href) = tag.href {
            let url = entities::decode(&html[href.value.clone()]);
            let url = url.trim_matches(|c: char| c.is_ascii_whitespace());
            if should_track(url, base) {
                let tracked = format!(
                    "{base}/e/c/{id}?u={}&s={}",
                    utf8_percent_encode(url, COMPONENT),
                    click_signature(key, delivery_id, url)
                );
                out.push_str(&html[copied..href.whole.start]);
                // The tracked URL holds only unreserved characters, `%`, `/`, `:`, `?`, `=` and
                // `&`, so it is safe in any quotes; a bare value gets double quotes. The `&` stays
                // literal: `&s=` is no character reference in HTML5, so browsers read the URL
                // exactly as written.
                let quote = href.quote.unwrap_or('"');
                out.push(quote);
                out.push_str(&tracked);
                out.push(quote);
                copied = href.whole.end;
            }
        }
        position = tag.end;
    }
    out.push_str(&html[copied..]);
    add_pixel(out, base, &id, &delivery_token(key, delivery_id))
}

/// Whether `<` at `start` opens an `a` element: `<a` followed by whitespace, `/` or `>`.
fn is_anchor_start(bytes: &[u8], start: usize) -> bool {
    matches!(bytes.get(start + 1), Some(b'a' | b'A'))
        && matches!(
            bytes.get(start + 2),
            None | Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/' | b'>')
        )
}

fn should_track(url: &str, base: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return false;
    }
    let base = base.to_ascii_lowercase();
    let own = |path: &str| lower.starts_with(&format!("{base}{path}"));
    !own("/unsubscribe/") && !own("/e/c/")
}

/// The `href` attribute of a tag: the span of its value as written (quotes included), the span
/// inside the quotes, and which quote was used.
struct Href {
    whole: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
    quote: Option<char>,
}

/// A scanned start tag: where it ends (just past `>`) and its first `href`, which is the one
/// browsers use.
struct Tag {
    end: usize,
    href: Option<Href>,
}

/// Scans the attributes of a start tag from `position` (just past the tag name) to its `>`,
/// following HTML's tokenizer closely enough that a `>` inside a quoted value does not end the
/// tag. Returns `None` when the document ends first.
fn scan_tag(html: &str, mut position: usize) -> Option<Tag> {
    let bytes = html.as_bytes();
    let mut href = None;
    loop {
        while position < bytes.len()
            && (bytes[position].is_ascii_whitespace() || bytes[position] == b'/')
        {
            position += 1;
        }
        if *bytes.get(position)? == b'>' {
            return Some(Tag {
                end: position + 1,
                href,
            });
        }
        let name_start = position;
        while position < bytes.len()
            && !bytes[position].is_ascii_whitespace()
            && !matches!(bytes[position], b'/' | b'>' | b'=')
        {
            position += 1;
        }
        let name = &html[name_start..position];
        while position < bytes.len() && bytes[position].is_ascii_whitespace() {
            position += 1;
        }
        if bytes.get(position) != Some(&b'=') {
            continue;
        }
        position += 1;
        while position < bytes.len() && bytes[position].is_ascii_whitespace() {
            position += 1;
        }
        let value_start = position;
        let (value, quote) = match bytes.get(position)? {
            quote @ (b'"' | b'\'') => {
                let close = html[position + 1..].find(char::from(*quote))? + position + 1;
                position = close + 1;
                (value_start + 1..close, Some(char::from(*quote)))
            }
            _ => {
                while position < bytes.len()
                    && !bytes[position].is_ascii_whitespace()
                    && bytes[position] != b'>'
                {
                    position += 1;
                }
                (value_start..position, None)
            }
        };
        if href.is_none() && name.eq_ignore_ascii_case("href") {
            href = Some(Href {
                whole: value_start..position,
                value,
                quote,
            });
        }
    }
}

/// Puts the open pixel before the last `</body` (any case), or at the end of a fragment.
fn add_pixel(mut html: String, base: &str, id: &str, token: &str) -> String {
    let pixel = format!(
        r#"<img src="{base}/e/o/{id}?s={token}" width="1" height="1" alt="" style="display:none">"#
    );
    // ASCII lower-casing keeps every byte where it was, so the index is valid in `html`.
    match html.to_ascii_lowercase().rfind("</body") {
        Some(at) => html.insert_str(at, &pixel),
        None => html.push_str(&pixel),
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://herald.example";

    fn tracked(url: &str) -> String {
        format!(
            "{BASE}/e/c/d1?u={}&s={}",
            utf8_percent_encode(url, COMPONENT),
            click_signature(b"k", "d1", url)
        )
    }

    fn run(html: &str) -> String {
        instrument_html(html, BASE, "d1", b"k")
    }

    #[test]
    fn scanner_survives_broken_markup() {
        // Unterminated quote: the document is kept as it was, plus the pixel.
        let html = r#"<p><a href="https://x.test/>never closed"#;
        assert!(run(html).starts_with(html));
        // `<abbr>` and `<area>` are not anchors.
        let html = r#"<abbr href="https://x.test/">x</abbr><area href="https://x.test/">"#;
        assert!(run(html).starts_with(html));
    }

    #[test]
    fn entities_are_decoded_before_signing() {
        let out = run(r#"<a href="https://x.test/?a=1&amp;b=2">x</a>"#);
        assert!(out.contains(&tracked("https://x.test/?a=1&b=2")), "{out}");
    }

    #[test]
    fn only_the_first_href_counts_and_a_gt_in_quotes_does_not_end_the_tag() {
        let out = run(r#"<a title="a > b" href="https://x.test/1" href="https://x.test/2">x</a>"#);
        assert!(out.contains(&tracked("https://x.test/1")), "{out}");
        assert!(out.contains(r#"href="https://x.test/2""#), "{out}");
    }
}
