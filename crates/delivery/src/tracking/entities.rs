//! Decoding the character references an href may contain.
//!
//! An attribute value like `?a=1&amp;b=2` means the URL `?a=1&b=2`; the click redirect must go
//! to the URL the browser would have opened, and the signature covers exactly that URL.

use std::borrow::Cow;

/// Decodes `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;` and numeric references (`&#38;`,
/// `&#x26;`). Other named references are left as written: they almost never occur in URLs, and
/// leaving them keeps the link exactly as authored.
pub(super) fn decode(value: &str) -> Cow<'_, str> {
    if !value.contains('&') {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let candidate = &rest[at..];
        match reference(candidate) {
            Some((decoded, length)) => {
                out.push(decoded);
                rest = &candidate[length..];
            }
            None => {
                out.push('&');
                rest = &candidate[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The character a reference at the start of `text` stands for, and the reference's length.
fn reference(text: &str) -> Option<(char, usize)> {
    // The longest reference decoded here is `&#x10FFFF;`; looking no further keeps a long URL
    // full of `&` linear.
    let end = text.bytes().take(12).position(|byte| byte == b';')?;
    let body = &text[1..end];
    let decoded = match body {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let number = body.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse::<u32>().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((decoded, end + 1))
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_the_references_urls_use() {
        assert_eq!(
            decode("https://x.test/?a=1&amp;b=2"),
            "https://x.test/?a=1&b=2"
        );
        assert_eq!(decode("&#38;&#x26;&#X26;&quot;&apos;&lt;&gt;"), "&&&\"'<>");
        assert_eq!(decode("a&b=c&nbsp;d&#xZZ;"), "a&b=c&nbsp;d&#xZZ;");
        assert_eq!(decode("plain"), "plain");
    }
}
