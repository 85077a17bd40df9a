//! A pre-parse scan of a source: how deeply it nests, and how much Liquid code it has.
//!
//! liquid parses and renders by recursion: nested blocks, each `elsif` of an `if`, each `and` or
//! `or` of a condition, and nested `[...]` indexes add a level.
//! A deep enough template overflows the stack and aborts the process (600 nested `{% if %}`
//! blocks do, on a 2 MiB thread stack in a debug build), so the scan rejects it before liquid
//! sees it.
//!
//! It also measures the template's code (the bytes inside `{{ }}` and `{% %}`), which bounds
//! what one loop iteration can execute and so sets the template's loop budget
//! (see [`crate::limits::allowed_iterations`]).
//!
//! The scan only approximates liquid's grammar (it skips `raw` blocks and quoted strings, and
//! counts every other block tag), which is enough to bound what liquid will do.

use crate::error::{TemplateError, position_of};
use crate::limits::MAX_NESTING;

/// The tags that open a block closed by `end<name>`.
const BLOCKS: &[&str] = &[
    "capture",
    "case",
    "comment",
    "for",
    "if",
    "ifchanged",
    "tablerow",
    "unless",
];

/// What the scan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Bytes of Liquid code, delimiters included.
    pub(crate) code_bytes: u64,
}

/// Scans `source`, failing with a syntax error at the first block or bracket nested deeper than
/// [`MAX_NESTING`].
pub(crate) fn scan(source: &str) -> Result<Shape, TemplateError> {
    let too_deep = |offset: usize| TemplateError::Syntax {
        position: Some(position_of(source, offset)),
        message: format!("nesting is deeper than {MAX_NESTING} levels"),
    };
    let mut shape = Shape { code_bytes: 0 };
    // The levels each open block adds: one, plus one per `elsif`.
    let mut open: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut in_raw = false;
    let mut from = 0;
    while let Some(found) = source[from..].find('{') {
        let start = from + found;
        let (close, is_tag) = match source.as_bytes().get(start + 1) {
            Some(b'%') => ("%}", true),
            Some(b'{') => ("}}", false),
            _ => {
                from = start + 1;
                continue;
            }
        };
        let inner_start = start + 2;
        let inner_end = source[inner_start..]
            .find(close)
            .map_or(source.len(), |i| inner_start + i);
        let inner = &source[inner_start..inner_end];
        from = (inner_end + close.len()).min(source.len());

        let name = tag_name(inner);
        let code_bytes = u64::try_from(from - start).unwrap_or(u64::MAX);
        if in_raw {
            if is_tag && name == "endraw" {
                in_raw = false;
                shape.code_bytes += code_bytes;
            }
            continue;
        }
        shape.code_bytes += code_bytes;
        if bracket_depth(inner) > MAX_NESTING {
            return Err(too_deep(start));
        }
        // liquid's parser panics on an integer literal that does not fit in 64 bits.
        // A `-` right after the opening delimiter is whitespace control, never a sign.
        let (code, code_start) = match inner.strip_prefix('-') {
            Some(code) => (code, inner_start + 1),
            None => (inner, inner_start),
        };
        if let Some((offset, literal)) = out_of_range_integer(code) {
            return Err(TemplateError::Syntax {
                position: Some(position_of(source, code_start + offset)),
                message: format!(
                    "the number {literal} is outside the integer range {} to {}",
                    i64::MIN,
                    i64::MAX
                ),
            });
        }
        if !is_tag {
            continue;
        }
        if name == "raw" {
            in_raw = true;
        } else if BLOCKS.contains(&name) {
            open.push(1);
            depth += 1;
        } else if name == "elsif" {
            if let Some(levels) = open.last_mut() {
                *levels += 1;
                depth += 1;
            }
        } else if name
            .strip_prefix("end")
            .is_some_and(|n| BLOCKS.contains(&n))
        {
            depth = depth.saturating_sub(open.pop().unwrap_or(0));
        }
        if depth + condition_operators(name, inner) > MAX_NESTING {
            return Err(too_deep(start));
        }
    }
    Ok(shape)
}

/// Returns the name a tag's inside starts with, after whitespace control and spaces.
fn tag_name(inner: &str) -> &str {
    let inner = inner.trim_start_matches('-').trim_start();
    let end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    &inner[..end]
}

/// Returns how many `and` and `or` a condition tag has; liquid nests one level per operator.
fn condition_operators(name: &str, inner: &str) -> usize {
    if !matches!(name, "if" | "elsif" | "unless") {
        return 0;
    }
    inner
        .split_whitespace()
        .filter(|word| matches!(*word, "and" | "or"))
        .count()
}

/// Finds the first integer literal in a tag's code (digits, maybe after a `-`, outside quoted
/// strings, not part of a name or a float) that does not fit in an i64, with its offset.
fn out_of_range_integer(inner: &str) -> Option<(usize, &str)> {
    let bytes = inner.as_bytes();
    let mut quote = None;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        match quote {
            Some(open) if byte == open => quote = None,
            Some(_) => {}
            None if matches!(byte, b'"' | b'\'') => quote = Some(byte),
            None if byte.is_ascii_digit() => {
                let mut start = index;
                while index < bytes.len() && bytes[index].is_ascii_digit() {
                    index += 1;
                }
                let previous = start.checked_sub(1).map(|at| bytes[at]);
                // After a letter it is part of a name; after `<digit>.` the fraction of a float
                // (but after `..` the end of a range).
                let fraction =
                    previous == Some(b'.') && start >= 2 && bytes[start - 2].is_ascii_digit();
                let in_name =
                    previous.is_some_and(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
                let float = bytes.get(index) == Some(&b'.')
                    && bytes.get(index + 1).is_some_and(u8::is_ascii_digit);
                if in_name || fraction || float {
                    continue;
                }
                if previous == Some(b'-') {
                    start -= 1;
                }
                let literal = &inner[start..index];
                if literal.parse::<i64>().is_err() {
                    return Some((start, literal));
                }
                continue;
            }
            None => {}
        }
        index += 1;
    }
    None
}

/// Returns the deepest nesting of `[` in `inner`, outside quoted strings.
fn bracket_depth(inner: &str) -> usize {
    let mut quote = None;
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in inner.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ']') => depth = depth.saturating_sub(1),
            (None, _) => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Position;

    fn nested_ifs(depth: usize) -> String {
        format!(
            "{}x{}",
            "{% if a %}".repeat(depth),
            "{% endif %}".repeat(depth)
        )
    }

    #[test]
    fn nesting_up_to_the_limit_is_accepted() {
        assert!(scan(&nested_ifs(MAX_NESTING)).is_ok());
        // Siblings do not add up.
        assert!(scan(&nested_ifs(MAX_NESTING).repeat(3)).is_ok());
    }

    #[test]
    fn deeper_blocks_are_rejected_where_the_limit_is_crossed() {
        let source = format!("\n{}", nested_ifs(MAX_NESTING + 1));
        let column = MAX_NESTING * "{% if a %}".len() + 1;
        assert_eq!(
            scan(&source),
            Err(TemplateError::Syntax {
                position: Some(Position { line: 2, column }),
                message: format!("nesting is deeper than {MAX_NESTING} levels"),
            })
        );
    }

    #[test]
    fn deep_brackets_are_rejected_but_quoted_ones_are_not() {
        let deep = format!(
            "{{{{ {}a{} }}}}",
            "a[".repeat(MAX_NESTING + 1),
            "]".repeat(MAX_NESTING + 1)
        );
        assert!(scan(&deep).is_err());
        let quoted = format!("{{{{ a | append: '{}' }}}}", "[".repeat(MAX_NESTING + 1));
        assert!(scan(&quoted).is_ok());
    }

    #[test]
    fn elsif_chains_and_condition_operators_count_as_nesting() {
        let elsifs = format!(
            "{{% if a %}}{}{{% endif %}}",
            "{% elsif a %}".repeat(MAX_NESTING)
        );
        assert!(scan(&elsifs).is_err());
        // The levels of an `if` end with it.
        let siblings = format!(
            "{{% if a %}}{}{{% endif %}}",
            "{% elsif a %}".repeat(MAX_NESTING - 1)
        )
        .repeat(2);
        assert!(scan(&siblings).is_ok());

        let operators = format!("{{% if a{} %}}x{{% endif %}}", " or a".repeat(MAX_NESTING));
        assert!(scan(&operators).is_err());
        let fewer = format!(
            "{{% if a{} %}}x{{% endif %}}",
            " or a".repeat(MAX_NESTING - 1)
        );
        assert!(scan(&fewer).is_ok());
    }

    #[test]
    fn code_is_what_is_inside_delimiters_outside_raw_blocks() {
        let source =
            "<p>Hi {{ name }}</p>{% if a %}x{% endif %}{% raw %}{{ not code }}{% endraw %}";
        let code = "{{ name }}{% if a %}{% endif %}{% raw %}{% endraw %}".len();
        assert_eq!(scan(source).unwrap().code_bytes, code as u64);
    }

    #[test]
    fn raw_blocks_are_not_counted() {
        let raw = format!(
            "{{% raw %}}{}{{% endraw %}}",
            "{% if a %}".repeat(MAX_NESTING + 1)
        );
        assert!(scan(&raw).is_ok());
    }
}
