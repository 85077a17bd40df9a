//! The arithmetic filters: what liquid-lib computes stays, and an integer overflow (which made
//! liquid-lib panic or wrap around) is a render error naming the filter.

use serde_json::json;

use super::{render, render_with};
use crate::TemplateError;

/// Renders `source` and returns the render error's message.
fn failure(source: &str) -> String {
    match render(source) {
        Err(error @ TemplateError::Render { .. }) => error.to_string(),
        other => panic!("expected a render error from {source:?}, got {other:?}"),
    }
}

#[test]
fn dividing_the_smallest_integer_by_minus_one_is_an_error_naming_the_filter() {
    let message = failure("{{ -9223372036854775808 | divided_by: -1 }}");
    assert!(
        message.starts_with(
            "render failed: divided_by overflows: -9223372036854775808 divided by -1 is outside the integer range"
        ),
        "{message}"
    );
}

#[test]
fn every_integer_overflow_is_an_error_naming_its_filter() {
    let cases = [
        ("{{ 9223372036854775807 | plus: 1 }}", "plus overflows"),
        ("{{ -9223372036854775808 | plus: -1 }}", "plus overflows"),
        ("{{ -9223372036854775808 | minus: 1 }}", "minus overflows"),
        ("{{ 9223372036854775807 | minus: -1 }}", "minus overflows"),
        ("{{ 9223372036854775807 | times: 2 }}", "times overflows"),
        ("{{ -9223372036854775808 | times: -1 }}", "times overflows"),
        (
            "{{ -9223372036854775808 | divided_by: -1 }}",
            "divided_by overflows",
        ),
        (
            "{{ -9223372036854775808 | modulo: -1 }}",
            "modulo overflows",
        ),
        ("{{ -9223372036854775808 | abs }}", "abs overflows"),
        // Strings of integers are integers too.
        (
            "{{ \"9223372036854775807\" | plus: \"1\" }}",
            "plus overflows",
        ),
        // Floats past the integer range have no integer to round to.
        ("{{ \"1e300\" | round }}", "round overflows: 1e300 rounded"),
        ("{{ \"-1e19\" | ceil }}", "ceil overflows: -1e19 rounded up"),
        (
            "{{ \"1e19\" | floor }}",
            "floor overflows: 1e19 rounded down",
        ),
        ("{{ \"inf\" | round }}", "round overflows: inf rounded"),
        ("{{ \"NaN\" | floor }}", "floor overflows: NaN rounded down"),
    ];
    for (source, expected) in cases {
        let message = failure(source);
        assert!(
            message.starts_with(&format!("render failed: {expected}")),
            "{source}: {message}"
        );
        assert!(message.contains("outside the integer range"), "{message}");
    }
}

#[test]
fn an_overflow_from_event_data_is_an_error_too() {
    let globals = json!({"event": {"n": i64::MIN, "max": i64::MAX, "big": 1e300}});
    for (source, filter) in [
        ("{{ event.n | divided_by: -1 }}", "divided_by"),
        ("{{ event.n | modulo: -1 }}", "modulo"),
        ("{{ event.max | plus: 1 }}", "plus"),
        ("{{ event.n | abs }}", "abs"),
        ("{{ event.big | round }}", "round"),
    ] {
        let message = render_with(source, &globals).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("render failed: {filter} overflows")),
            "{source}: {message}"
        );
    }
}

#[test]
fn results_at_the_edge_of_the_integer_range_still_render() {
    let cases = [
        ("{{ 9223372036854775806 | plus: 1 }}", "9223372036854775807"),
        (
            "{{ -9223372036854775807 | minus: 1 }}",
            "-9223372036854775808",
        ),
        (
            "{{ -9223372036854775808 | divided_by: 1 }}",
            "-9223372036854775808",
        ),
        ("{{ -9223372036854775808 | modulo: 2 }}", "0"),
        ("{{ -9223372036854775807 | abs }}", "9223372036854775807"),
        // liquid-lib went through a float here, which is 2^63 and does not fit.
        ("{{ 9223372036854775807 | ceil }}", "9223372036854775807"),
        ("{{ -9223372036854775808 | floor }}", "-9223372036854775808"),
        // Float arithmetic is liquid-lib's: it does not overflow into an error.
        (
            "{{ -9223372036854775808 | divided_by: -1.0 }}",
            "9223372036854776000",
        ),
    ];
    for (source, expected) in cases {
        assert_eq!(render(source).unwrap(), expected, "{source}");
    }
}

#[test]
fn ordinary_arithmetic_is_unchanged() {
    let cases = [
        // Two integers give an integer, with liquid-lib's truncating division.
        ("{{ 1 | plus: 2 }}", "3"),
        ("{{ 5 | minus: 7 }}", "-2"),
        ("{{ 6 | times: 7 }}", "42"),
        ("{{ 7 | divided_by: 2 }}", "3"),
        ("{{ -7 | divided_by: 2 }}", "-3"),
        ("{{ 7 | modulo: 3 }}", "1"),
        ("{{ -7 | modulo: 3 }}", "-1"),
        ("{{ -5 | abs }}", "5"),
        // A float on either side gives a float.
        ("{{ 1.5 | plus: 1 }}", "2.5"),
        ("{{ 7 | divided_by: 2.0 }}", "3.5"),
        ("{{ 8.5 | times: 0.5 }}", "4.25"),
        ("{{ 7.5 | modulo: 2 }}", "1.5"),
        ("{{ -2.25 | abs }}", "2.25"),
        // Strings of numbers are numbers.
        ("{{ \"3\" | plus: 2 }}", "5"),
        ("{{ 2 | times: \"3\" }}", "6"),
        ("{{ \"2.5\" | times: 2 }}", "5"),
        ("{{ \"-19.86\" | abs }}", "19.86"),
        // Rounding gives integers, except to decimal places.
        ("{{ 1.5 | round }}", "2"),
        ("{{ 2.4 | round }}", "2"),
        ("{{ 1.2345 | round: 2 }}", "1.23"),
        ("{{ 1.1 | ceil }}", "2"),
        ("{{ 1.9 | floor }}", "1"),
        ("{{ \"3.7\" | floor }}", "3"),
        ("{{ 5 | round }}", "5"),
        // More places than a float has: rounding changes nothing (liquid-lib gave NaN).
        ("{{ 1.5 | round: 400 }}", "1.5"),
        ("{{ 5 | at_least: 7 }}", "7"),
        ("{{ 5 | at_most: 3 }}", "3"),
        ("{{ 2.5 | at_least: 1 }}", "2.5"),
        // Chains stay in integers as long as both sides are.
        (
            "{{ 10 | plus: 5 | divided_by: 4 | times: 3 | minus: 1 }}",
            "8",
        ),
    ];
    for (source, expected) in cases {
        assert_eq!(render(source).unwrap(), expected, "{source}");
    }
}

#[test]
fn a_nil_input_renders_empty() {
    for filter in [
        "plus: 1",
        "minus: 1",
        "times: 2",
        "divided_by: 2",
        "modulo: 2",
        "abs",
        "round",
        "round: 2",
        "ceil",
        "floor",
        "at_least: 1",
        "at_most: 1",
    ] {
        let source = format!("[{{{{ customer.nope | {filter} }}}}]");
        assert_eq!(render(&source).unwrap(), "[]", "{source}");
    }
}

#[test]
fn division_by_zero_is_still_an_error() {
    for source in [
        "{{ 1 | divided_by: 0 }}",
        "{{ 1 | modulo: 0 }}",
        "{{ 1.5 | divided_by: 0.0 }}",
        "{{ 1 | divided_by: \"0\" }}",
        "{{ -9223372036854775808 | divided_by: 0 }}",
    ] {
        let message = failure(source);
        assert!(
            message.starts_with(
                "render failed: invalid argument (argument=operand, cause=Can't divide by zero,"
            ),
            "{source}: {message}"
        );
    }
}

#[test]
fn what_is_not_a_number_is_still_an_error() {
    for source in ["{{ \"abc\" | plus: 1 }}", "{{ 1 | plus: customer.nope }}"] {
        let message = failure(source);
        assert!(
            message.starts_with(
                "render failed: invalid argument (argument=operand, cause=Number expected,"
            ),
            "{source}: {message}"
        );
    }
    let message = failure("{{ customer.tags | abs }}");
    assert!(
        message.starts_with("render failed: invalid input (cause=Number expected,"),
        "{message}"
    );
}

/// liquid-lib's `slice` adds its offset and length unchecked, which panics in builds with
/// overflow checks; the guard around every filter turns that into a render error naming it.
#[cfg(debug_assertions)]
#[test]
fn a_filter_that_panics_fails_the_render_with_an_error_naming_it() {
    let message = failure("{{ \"abc\" | slice: 1, 9223372036854775807 }}");
    assert!(
        message
            .starts_with("render failed: slice failed unexpectedly: attempt to add with overflow"),
        "{message}"
    );
    // The next render is unaffected.
    assert_eq!(render("{{ 1 | plus: 1 }}").unwrap(), "2");
}
