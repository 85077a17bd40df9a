//! What reaches the output: escaping and the standard filters.

use super::render;

#[test]
fn html_is_not_escaped_unless_asked() {
    assert_eq!(
        render(r#"{{ "<b>Ana & co</b>" }}"#).unwrap(),
        "<b>Ana & co</b>"
    );
    assert_eq!(
        render(r#"{{ "<b>Ana & co</b>" | escape }}"#).unwrap(),
        "&lt;b&gt;Ana &amp; co&lt;/b&gt;"
    );
}

#[test]
fn standard_filters_and_tags_work() {
    assert_eq!(
        render(r#"{{ customer.tags | join: ", " | upcase }}"#).unwrap(),
        "VIP, BETA"
    );
    assert_eq!(
        render(r#"{{ customer.orders | map: "sku" | join: "+" }}"#).unwrap(),
        "A1+B2"
    );
    assert_eq!(
        render(r#"{{ "a-b-c" | replace: "-", "" }} {{ 7 | times: 3 | minus: 1 }}"#).unwrap(),
        "abc 20"
    );
    assert_eq!(
        render("{% capture x %}hi {{ customer.first_name }}{% endcapture %}{{ x | size }}")
            .unwrap(),
        "6"
    );
    assert_eq!(
        render("{% case customer.plan.name %}{% when 'pro' %}P{% else %}O{% endcase %}").unwrap(),
        "P"
    );
}

#[test]
fn loops_keep_liquid_semantics() {
    assert_eq!(
        render("{% for i in (1..5) limit: 2 offset: 1 %}{{ i }}{% endfor %}").unwrap(),
        "23"
    );
    assert_eq!(
        render("{% for i in (1..3) reversed %}{{ forloop.index }}{{ i }} {% endfor %}").unwrap(),
        "13 22 31 "
    );
    assert_eq!(
        render("{% for a in (1..2) %}{% for b in (1..2) %}{{ forloop.parentloop.index }}{{ b }} {% endfor %}{% endfor %}")
            .unwrap(),
        "11 12 21 22 "
    );
    assert_eq!(
        render("{% for i in (1..9) %}{% if i > 2 %}{% break %}{% endif %}{{ i }}{% endfor %}")
            .unwrap(),
        "12"
    );
    assert_eq!(
        render("{% tablerow i in (1..3) cols: 2 %}{{ i }}{% endtablerow %}").unwrap(),
        concat!(
            r#"<tr class="row1"><td class="col1">1</td><td class="col2">2</td></tr>"#,
            r#"<tr class="row2"><td class="col1">3</td></tr>"#
        )
    );
}

#[test]
fn a_limit_past_the_end_does_not_pad_the_loop() {
    // liquid-lib pads this loop with nils up to the limit.
    assert_eq!(
        render("{% for i in (1..3) limit: 5 offset: 1 %}[{{ i }}]{% endfor %}").unwrap(),
        "[2][3]"
    );
}

#[test]
fn a_compiled_template_is_shared_and_reused() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<crate::Template>();
    assert_send_sync::<crate::Templates>();

    let template = crate::Templates::new()
        .compile("{{ customer.first_name }}")
        .unwrap();
    let ana = template.render(&super::globals(), super::NOW).unwrap();
    let bo = template
        .render(
            &serde_json::json!({"customer": {"first_name": "Bo"}}),
            super::NOW,
        )
        .unwrap();
    assert_eq!((ana.as_str(), bo.as_str()), ("Ana", "Bo"));
}
