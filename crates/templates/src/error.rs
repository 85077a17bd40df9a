//! [`TemplateError`], and the translation of liquid's errors into it.
//!
//! liquid reports errors as text only: syntax errors found by its grammar carry a pest-style
//! ` --> line:col` marker, while unknown filters and bad filter arguments carry no position at
//! all.
//! This module reads the marker when there is one (correcting its column on lines with
//! multi-byte characters) and otherwise finds the offending filter in the source, so syntax
//! errors name a line and a column.

use std::fmt;

use crate::limits::{Limit, MAX_SOURCE_BYTES, limit_message};

/// Why a template could not be compiled or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The source is not valid Liquid, or nests deeper than
    /// [`MAX_NESTING`](crate::limits::MAX_NESTING); found when the template is compiled.
    #[error("syntax error{}: {message}", located(.position))]
    Syntax {
        /// Where the error is, when it could be found.
        position: Option<Position>,
        /// What is wrong, in liquid's words.
        message: String,
    },
    /// The source is longer than [`MAX_SOURCE_BYTES`].
    #[error("template is {bytes} bytes, more than the limit of {MAX_SOURCE_BYTES}")]
    TooLong {
        /// The length of the source.
        bytes: usize,
    },
    /// Rendering ran into one of the limits of [`crate::limits`].
    #[error("render stopped: {}", limit_message(*.0))]
    LimitExceeded(Limit),
    /// Rendering failed for this data, for example a filter given the wrong kind of value
    /// (`{{ customer.first_name | plus: 1 }}`) or an index that is nil
    /// (`{{ customer[customer.nope] }}`).
    #[error("render failed: {message}")]
    Render {
        /// What went wrong, in liquid's words, with the tags it happened in.
        message: String,
    },
    /// The globals given to a render are not a JSON object.
    #[error("template globals are not a json object")]
    GlobalsNotObject,
}

/// A place in a template's source; both numbers start at 1, and columns count characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The line.
    pub line: usize,
    /// The character within the line.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

fn located(position: &Option<Position>) -> String {
    position.map(|p| format!(" at {p}")).unwrap_or_default()
}

/// Translates an error from parsing `source`.
pub(crate) fn syntax(error: &liquid_core::Error, source: &str) -> TemplateError {
    let report = Report::read(&error.to_string());
    let context = |key: &str| {
        report
            .context
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };

    let mut message = sentence(&report.message);
    if let Some(requested) = context("requested").or(context("requested filter")) {
        message = format!("{message} `{requested}`");
    }
    if let Some(cause) = context("cause") {
        message = format!("{message}: {}", sentence(cause));
    }
    let filter = context("filter");
    if let Some(filter) = filter {
        message = format!("{message} in `{}`", filter.trim());
    }

    let position = match (report.position, &report.excerpt) {
        (Some(position), Some(excerpt)) => Some(realign(position, excerpt, source)),
        (position, _) => position,
    };
    let position = position.or_else(|| {
        // Without a marker, the error is about one filter: an unknown one, or bad arguments.
        let offset = match (context("requested filter"), filter) {
            (Some(name), _) => find_filter(source, name),
            (None, Some(text)) => source.find(text),
            (None, None) => None,
        };
        offset.map(|offset| position_of(source, offset))
    });
    TemplateError::Syntax { position, message }
}

/// Translates a panic of liquid's parser into a syntax error. The one known cause, an integer
/// literal too large for 64 bits, is caught by [`crate::scan`] before liquid sees it; this is
/// the last line of defence for any other.
pub(crate) fn parser_panic(message: &str) -> TemplateError {
    TemplateError::Syntax {
        position: None,
        message: format!("the template cannot be parsed: {message}"),
    }
}

/// Translates an error from rendering.
pub(crate) fn render(error: &liquid_core::Error) -> TemplateError {
    let report = Report::read(&error.to_string());
    let mut message = sentence(&report.message);
    if !report.context.is_empty() {
        let pairs: Vec<String> = report
            .context
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        message = format!("{message} ({})", pairs.join(", "));
    }
    for trace in &report.traces {
        message = format!("{message}, in {trace}");
    }
    TemplateError::Render { message }
}

/// The parts of liquid's error text.
#[derive(Debug, Default)]
struct Report {
    message: String,
    position: Option<Position>,
    /// The source line as pest's report shows it.
    excerpt: Option<String>,
    context: Vec<(String, String)>,
    traces: Vec<String>,
}

impl Report {
    /// Reads the text that `liquid_core::Error`'s `Display` writes: a first line
    /// `liquid: <message>` (for grammar errors, a pest report whose `  = ` line is the message),
    /// then `  with:` blocks of `    key=value` lines and `from: <trace>` lines.
    fn read(text: &str) -> Self {
        let mut report = Report::default();
        let body = text.strip_prefix("liquid:").unwrap_or(text);
        let mut lines = body.lines().peekable();
        let first = lines.next().unwrap_or_default().trim();
        if let Some(marker) = first.strip_prefix("-->") {
            report.position = parse_marker(marker.trim());
            // The pest report: source excerpt lines, then `= message`.
            let number = report.position.map(|p| p.line.to_string());
            while let Some(line) =
                lines.next_if(|l| !l.starts_with("  with:") && !l.starts_with("from: "))
            {
                if let Some(message) = line.trim_start().strip_prefix("= ") {
                    report.message = message.to_owned();
                } else if let Some((n, text)) = line.trim_start().split_once(" |")
                    && Some(n) == number.as_deref()
                    && report.excerpt.is_none()
                {
                    let text = text.strip_prefix(' ').unwrap_or(text);
                    report.excerpt = Some(text.to_owned());
                }
            }
        } else {
            report.message = first.to_owned();
        }
        for line in lines {
            if let Some(trace) = line.strip_prefix("from: ") {
                report.traces.push(trace.trim().to_owned());
            } else if let Some((key, value)) =
                line.strip_prefix("    ").and_then(|l| l.split_once('='))
            {
                // The list of everything available is noise next to what was requested.
                if !key.starts_with("available") {
                    report.context.push((key.to_owned(), value.to_owned()));
                }
            }
        }
        report
    }
}

/// Maps a column of pest's excerpt back onto the source line.
///
/// For a malformed `{{` or `{%`, liquid parses again from the start of the line, cutting the
/// line at a character count used as a byte offset; on a line with multi-byte characters that
/// drops bytes between the line's start and the malformed tag, and the column shifts left.
/// The excerpt is then a prefix of the line followed by a suffix of it; the characters dropped
/// between them are added back to columns past the prefix.
fn realign(position: Position, excerpt: &str, source: &str) -> Position {
    let Some(line) = source.lines().nth(position.line.saturating_sub(1)) else {
        return position;
    };
    let dropped = match line.len().checked_sub(excerpt.len()) {
        Some(dropped) if dropped > 0 => dropped,
        _ => return position,
    };
    // A caret past the excerpt (pest shows an empty line at the end of the source) is not in it.
    if position.column > excerpt.chars().count() + 1 {
        return position;
    }
    for cut in (0..=excerpt.len()).filter(|&cut| excerpt.is_char_boundary(cut)) {
        let rest = cut + dropped;
        if line.is_char_boundary(cut)
            && line.is_char_boundary(rest)
            && excerpt[..cut] == line[..cut]
            && excerpt[cut..] == line[rest..]
        {
            let mut position = position;
            if position.column > excerpt[..cut].chars().count() {
                position.column += line[cut..rest].chars().count();
            }
            return position;
        }
    }
    position
}

fn parse_marker(marker: &str) -> Option<Position> {
    let (line, column) = marker.split_once(':')?;
    Some(Position {
        line: line.trim().parse().ok()?,
        column: column.trim().parse().ok()?,
    })
}

/// Makes liquid's capitalized, period-terminated messages fit inside ours.
fn sentence(text: &str) -> String {
    let text = text.trim().trim_end_matches('.');
    // liquid's one two-sentence message.
    let text = text.replace("Unclosed block. ", "Unclosed block: ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Finds the first `| name` in `source` and returns the offset of `name`.
fn find_filter(source: &str, name: &str) -> Option<usize> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut from = 0;
    while let Some(found) = source[from..].find(name) {
        let start = from + found;
        let end = start + name.len();
        let before = source[..start].trim_end();
        let after_ok = !source[end..].starts_with(is_name_char);
        if before.ends_with('|') && after_ok {
            return Some(start);
        }
        from = end;
    }
    None
}

/// Returns the line and column (1-based, in characters) of a byte offset.
pub(crate) fn position_of(source: &str, offset: usize) -> Position {
    let before = &source[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let source = "ab\ncé{{ x }}";
        assert_eq!(position_of(source, 0), Position { line: 1, column: 1 });
        let x = source.find("{{").unwrap();
        assert_eq!(position_of(source, x), Position { line: 2, column: 3 });
    }

    #[test]
    fn filters_are_found_after_a_pipe_only() {
        let source = "frob {{ a | frobx }} {{ b |frob }}";
        assert_eq!(find_filter(source, "frob"), source.rfind("frob"));
    }
}
