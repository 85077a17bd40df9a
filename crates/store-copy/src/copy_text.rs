//! PostgreSQL's `COPY … FROM STDIN` text format: one line per row, columns separated by tabs,
//! `\N` for NULL, and a backslash before every backslash, newline, carriage return and tab
//! inside a value (the characters that would otherwise end a value or a row).
//!
//! Text rather than the binary format: a chunk is one buffer built while the source is read,
//! with no per-value type negotiation, and every value Herald stores is an integer, a boolean,
//! UTF-8 text or bytes, which this format carries exactly (text may not hold NUL, which
//! PostgreSQL refuses in any format).

/// A value that cannot be written: PostgreSQL's text cannot hold the NUL character.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NulInText;

/// Appends NULL.
pub(crate) fn push_null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\\N");
}

/// Appends an integer in decimal.
pub(crate) fn push_int(out: &mut Vec<u8>, value: i64) {
    // Digits are produced from the end into a stack buffer: no allocation per value, which
    // matters at tens of millions of rows.
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends a boolean as PostgreSQL reads it (`t` or `f`).
pub(crate) fn push_bool(out: &mut Vec<u8>, value: bool) {
    out.push(if value { b't' } else { b'f' });
}

/// Appends text, escaping what would end the value or the row.
pub(crate) fn push_text(out: &mut Vec<u8>, value: &str) -> Result<(), NulInText> {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0 => return Err(NulInText),
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..at]);
        out.extend_from_slice(escaped);
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    Ok(())
}

/// Appends bytes as a `bytea` in its hex form (`\x…`), whose backslash the format escapes.
pub(crate) fn push_bytes(out: &mut Vec<u8>, value: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(3 + 2 * value.len());
    out.extend_from_slice(b"\\\\x");
    for byte in value {
        out.push(HEX[usize::from(byte >> 4)]);
        out.push(HEX[usize::from(byte & 0x0f)]);
    }
}

/// Appends what comes before the column at `index` of a row (a tab, except before the first).
pub(crate) fn push_separator(out: &mut Vec<u8>, index: usize) {
    if index > 0 {
        out.push(b'\t');
    }
}

/// Ends a row.
pub(crate) fn end_row(out: &mut Vec<u8>) {
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> String {
        let mut out = Vec::new();
        push_text(&mut out, value).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_escapes_only_what_ends_a_value_or_a_row() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text(""), "");
        assert_eq!(text("a\tb\nc\rd\\e"), "a\\tb\\nc\\rd\\\\e");
        assert_eq!(text("\\N"), "\\\\N", "a value that spells NULL stays text");
        assert_eq!(text("\\."), "\\\\.", "nor does it end the data");
        assert_eq!(text("é ✓ \u{1F600}"), "é ✓ \u{1F600}");
        assert_eq!(
            text("\u{7}\u{1b}"),
            "\u{7}\u{1b}",
            "other controls pass as they are"
        );
        assert_eq!(text("\n\n"), "\\n\\n");
    }

    #[test]
    fn text_with_nul_is_refused() {
        assert_eq!(push_text(&mut Vec::new(), "a\0b"), Err(NulInText));
    }

    #[test]
    fn integers_and_booleans() {
        for value in [0, 7, -7, 10, 1_800_000_000, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            push_int(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
        }
        let mut out = Vec::new();
        push_bool(&mut out, true);
        push_separator(&mut out, 1);
        push_bool(&mut out, false);
        push_separator(&mut out, 2);
        push_null(&mut out);
        end_row(&mut out);
        assert_eq!(out, b"t\tf\t\\N\n");
    }

    #[test]
    fn bytes_are_hex_behind_an_escaped_backslash() {
        let mut out = Vec::new();
        push_bytes(&mut out, &[0x00, 0x0a, 0x5c, 0xff]);
        assert_eq!(out, b"\\\\x000a5cff");
        let mut out = Vec::new();
        push_bytes(&mut out, &[]);
        assert_eq!(out, b"\\\\x");
    }
}
