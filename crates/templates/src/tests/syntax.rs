//! Compile errors: every syntax error names a line and a column.

use crate::{Position, TemplateError, Templates};

/// Compiles `source` and returns its syntax error's position and message.
fn syntax_error(source: &str) -> (Option<Position>, String) {
    match Templates::new().compile(source) {
        Err(TemplateError::Syntax { position, message }) => (position, message),
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

fn at(line: usize, column: usize) -> Option<Position> {
    Some(Position { line, column })
}

#[test]
fn grammar_errors_report_line_and_column() {
    let (position, message) = syntax_error("Hi\n  {{ customer.first_name | }}");
    assert_eq!(position, at(2, 28));
    assert_eq!(message, "expected Identifier");

    // A missing operand is reported right after the operator that needs it.
    let (position, message) = syntax_error("Hi\n{% if customer.plan == %}x{% endif %}");
    assert_eq!(position, at(2, 23));
    assert_eq!(message, "value expected");
}

#[test]
fn columns_count_characters_on_lines_with_accents() {
    // liquid itself reports column 22 here, one short for the two-byte `é`.
    let (position, _) = syntax_error("ok\nhéllo {{ x | upcase | }}");
    assert_eq!(position, at(2, 23));
    let (position, _) = syntax_error("ok\n× {% if a == %}x{% endif %}");
    assert_eq!(position, at(2, 13));
}

#[test]
fn the_error_message_reads_as_one_sentence() {
    let err = Templates::new().compile("a\nb {% frob %}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "syntax error at line 2, column 6: unknown tag `frob`"
    );
}

#[test]
fn an_unclosed_block_is_reported_where_the_source_ends() {
    let (position, message) = syntax_error("a\n{% if x %}\nb");
    assert_eq!(position, at(3, 2));
    assert_eq!(message, "unclosed block: {% endif %} tag expected");
}

#[test]
fn unknown_filters_are_located_although_liquid_does_not_say_where() {
    let (position, message) = syntax_error("{{ a | upcase }}\n{{ b | upcase | shout }}");
    assert_eq!(position, at(2, 17));
    assert_eq!(message, "unknown filter `shout`");
}

#[test]
fn bad_filter_arguments_are_located() {
    let (position, message) = syntax_error("x\n  {{ 'a' | truncate: 1, '…', 3 }}");
    assert_eq!(position, at(2, 12));
    assert!(
        message.contains("expected at most 2 positional arguments"),
        "{message}"
    );
    assert!(message.contains("in `truncate: 1, '…', 3`"), "{message}");
}

#[test]
fn partials_are_rejected_when_compiling() {
    let (position, message) = syntax_error("{% include 'footer' %}");
    assert_eq!(position, at(1, 4));
    assert_eq!(message, "unknown tag `include`");
}

#[test]
fn oversized_sources_are_rejected() {
    let source = "x".repeat(crate::limits::MAX_SOURCE_BYTES + 1);
    assert_eq!(
        Templates::new().compile(&source).unwrap_err(),
        TemplateError::TooLong {
            bytes: crate::limits::MAX_SOURCE_BYTES + 1
        }
    );
}

#[test]
fn integers_too_large_for_64_bits_are_syntax_errors_not_panics() {
    // Found by fuzzing: liquid's parser panicked on these instead of reporting them.
    let (position, message) = syntax_error("Total:\n{{ -9223372036857745808 | divided_by: -1 }}");
    assert_eq!(position, at(2, 4));
    assert_eq!(
        message,
        "the number -9223372036857745808 is outside the integer range -9223372036854775808 to 9223372036854775807"
    );
    // Found by fuzzing too: the `-` of `{{-` trims whitespace, it is not the number's sign.
    let (position, _) = syntax_error("{{-9223372036854775808 }}");
    assert_eq!(position, at(1, 4));
    let (position, _) = syntax_error("{% for i in (1..99999999999999999999) %}{% endfor %}");
    assert_eq!(position, at(1, 17));
    // At the edge of the range, and names and floats with long digit runs, are fine.
    let templates = Templates::new();
    for fine in [
        "{{ -9223372036854775808 }}",
        "{{ 9223372036854775807 }}",
        "{{ 99999999999999999999.5 }}",
        "{{ customer.a99999999999999999999 }}",
        "{{ \"99999999999999999999\" }}",
        "Order 99999999999999999999 shipped",
    ] {
        assert!(templates.compile(fine).is_ok(), "{fine}");
    }
}
