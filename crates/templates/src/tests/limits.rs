//! The bounds of a render: output, loop iterations and the values filters build.

use std::time::{Duration, Instant};

use super::render;
use crate::limits::{MAX_LOOP_ITERATIONS, MAX_OUTPUT_BYTES};
use crate::{Limit, TemplateError};

/// The loop budget of the small templates below.
const LOOPS: Limit = Limit::LoopIterations {
    allowed: MAX_LOOP_ITERATIONS,
};

fn limit(source: &str) -> Limit {
    match render(source) {
        Err(TemplateError::LimitExceeded(limit)) => limit,
        other => panic!("expected a limit error, got {other:?}"),
    }
}

/// Assigns `s`, a string of 2^doublings bytes, built within the limits.
fn string_of_doublings(doublings: u32) -> String {
    format!(
        "{{% assign s = 'x' %}}{{% for i in (1..{doublings}) %}}{{% assign s = s | append: s %}}{{% endfor %}}"
    )
}

#[test]
fn output_past_the_cap_is_an_error_not_a_truncation() {
    let fits = format!(
        "{{% for i in (1..{}) %}}x{{% endfor %}}",
        MAX_LOOP_ITERATIONS
    );
    assert_eq!(render(&fits).unwrap().len(), 10_000);

    let line = "y".repeat(100);
    let too_big = format!("{{% for i in (1..6000) %}}{line}{{% endfor %}}");
    assert!(6000 * line.len() > MAX_OUTPUT_BYTES);
    assert_eq!(limit(&too_big), Limit::Output);
    assert_eq!(
        render(&too_big).unwrap_err().to_string(),
        "render stopped: output is larger than 524288 bytes"
    );
}

#[test]
fn a_huge_loop_fails_before_its_first_iteration() {
    let started = Instant::now();
    assert_eq!(limit("{% for i in (1..100000000) %}x{% endfor %}"), LOOPS);
    // liquid-lib's `for` would build and walk 100 million items, taking seconds.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        limit("{% tablerow i in (1..100000000) %}x{% endtablerow %}"),
        LOOPS
    );
}

#[test]
fn nested_loops_share_one_budget() {
    assert_eq!(
        limit("{% for i in (1..200) %}{% for j in (1..100) %}x{% endfor %}{% endfor %}"),
        LOOPS
    );
    // Each render starts with a full budget.
    let template = crate::Templates::new()
        .compile("{% for i in (1..6000) %}{% endfor %}")
        .unwrap();
    for _ in 0..2 {
        template.render(&super::globals(), super::NOW).unwrap();
    }
}

#[test]
fn doubling_a_value_stops_at_the_value_cap() {
    // Forty doublings would be a terabyte.
    let appending =
        "{% assign s = 'x' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}";
    assert_eq!(limit(appending), Limit::ValueSize);
    let capturing = "{% assign s = 'x' %}{% for i in (1..40) %}{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}";
    assert_eq!(limit(capturing), Limit::ValueSize);
}

#[test]
fn multiplying_filters_are_refused_before_they_build() {
    // 2^18 replacements of 2^18 bytes each: 64 GiB if it were built.
    let replacing = format!(
        "{}{{{{ s | replace: 'x', s | size }}}}",
        string_of_doublings(18)
    );
    assert_eq!(limit(&replacing), Limit::ValueSize);
    let joining = format!(
        "{}{{% assign a = s | split: '' %}}{{{{ a | join: s | size }}}}",
        string_of_doublings(18)
    );
    assert_eq!(limit(&joining), Limit::ValueSize);
}

#[test]
fn filter_work_is_capped_per_render() {
    // Each `upcase` builds 256 KiB, under the value cap; 200 of them pass the work cap.
    let source = format!(
        "{}{{% for i in (1..200) %}}{{% assign t = s | upcase %}}{{% endfor %}}",
        string_of_doublings(18)
    );
    assert_eq!(limit(&source), Limit::Work);
}

#[test]
fn deep_nesting_is_rejected_instead_of_overflowing_the_stack() {
    let ifs = format!(
        "{}x{}",
        "{% if a %}".repeat(10_000),
        "{% endif %}".repeat(10_000)
    );
    let indexes = format!("{{{{ {}a{} }}}}", "a[".repeat(10_000), "]".repeat(10_000));
    let operators = format!("{{% if a{} %}}x{{% endif %}}", " or a".repeat(10_000));
    for source in [ifs, indexes, operators] {
        match crate::Templates::new().compile(&source) {
            Err(TemplateError::Syntax { message, .. }) => {
                assert_eq!(message, "nesting is deeper than 50 levels");
            }
            other => panic!("expected a nesting error, got {other:?}"),
        }
    }
}

#[test]
fn the_deepest_nesting_allowed_renders_on_a_small_stack() {
    use crate::limits::MAX_NESTING;
    let levels = MAX_NESTING / 2;
    let open = "{% for i in (1..1) %}{% if i %}".repeat(levels);
    let close = "{% endif %}{% endfor %}".repeat(levels);
    // `z[z[...z[0]...]]` with `z = [0]` is 0 at every level.
    let index = format!("{}0{}", "z[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
    let blocks = format!("{open}{{{{ {index} }}}}{close}");
    let elsifs = format!(
        "{{% if z[0] == 1 %}}{}{{% else %}}0{{% endif %}}",
        "{% elsif z[0] == 1 %}".repeat(MAX_NESTING - 1)
    );
    let operators = format!(
        "{{% if z[0] == 1{} %}}1{{% else %}}0{{% endif %}}",
        " or z[0] == 1".repeat(MAX_NESTING - 1)
    );
    for source in [blocks, elsifs, operators] {
        // Tokio's blocking threads get 2 MiB, like this one.
        let rendered = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || super::render_with(&source, &serde_json::json!({"z": [0]})))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(rendered.unwrap(), "0");
    }
}

#[test]
fn lookups_of_big_values_are_charged() {
    // Comparing two 256 KiB strings copies both; 9,000 comparisons would churn 4.5 GiB.
    let comparing = format!(
        "{}{{% assign t = s | append: '' %}}{{% for i in (1..9000) %}}{{% if s == t %}}{{% endif %}}{{% endfor %}}",
        string_of_doublings(18)
    );
    assert_eq!(limit(&comparing), Limit::Work);
    // An existence check cannot fail, so the loop reports the limit it recorded.
    let checking = format!(
        "{}{{% for i in (1..9000) %}}{{% if s %}}{{% endif %}}{{% endfor %}}",
        string_of_doublings(18)
    );
    assert_eq!(limit(&checking), Limit::Work);
}

#[test]
fn templates_with_more_code_may_loop_less() {
    let small = crate::Templates::new()
        .compile("{% for i in (1..3) %}{{ i }}{% endfor %}")
        .unwrap();
    assert_eq!(small.allowed_iterations(), MAX_LOOP_ITERATIONS);

    // About 10,000 bytes of code allow about 2,000 iterations.
    let code = "{{ customer.first_name }}".repeat(400);
    let looping = |n: u32| format!("{{% for i in (1..{n}) %}}{{% endfor %}}{code}");
    let code_bytes = (code.len() + "{% for i in (1..6000) %}{% endfor %}".len()) as u64;
    let allowed = crate::limits::MAX_LOOPED_CODE_BYTES / code_bytes;
    let template = crate::Templates::new().compile(&looping(6000)).unwrap();
    assert_eq!(template.allowed_iterations(), allowed);
    assert!(render(&looping(1500)).is_ok());
    assert_eq!(limit(&looping(6000)), Limit::LoopIterations { allowed });
}
