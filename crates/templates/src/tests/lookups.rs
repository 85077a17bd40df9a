//! Customer.io's data access: attributes, names with spaces, nesting, and missing data.

use super::{render, render_with};

#[test]
fn attributes_of_the_customer_and_the_event_render() {
    assert_eq!(
        render("Hi {{ customer.first_name }}, you did {{ event.name }}").unwrap(),
        "Hi Ana, you did signed_up"
    );
}

#[test]
fn a_missing_attribute_renders_empty() {
    assert_eq!(render("[{{ customer.nope }}]").unwrap(), "[]");
    assert_eq!(render("[{{ nope }}]").unwrap(), "[]");
    assert_eq!(render("[{{ nope.deeper.still }}]").unwrap(), "[]");
    assert_eq!(render("[{{ customer.tags[5] }}]").unwrap(), "[]");
}

#[test]
fn default_replaces_a_missing_attribute() {
    assert_eq!(
        render(r#"Hi {{ customer.nope | default: "friend" }}"#).unwrap(),
        "Hi friend"
    );
    assert_eq!(
        render(r#"Hi {{ customer.first_name | default: "friend" }}"#).unwrap(),
        "Hi Ana"
    );
}

#[test]
fn filters_that_reject_nil_leave_a_missing_attribute_empty() {
    // liquid-lib's `plus`, `join` and `map` fail on nil, which would fail the whole message.
    assert_eq!(render("[{{ customer.nope | plus: 1 }}]").unwrap(), "[]");
    assert_eq!(render("[{{ customer.nope | join: ', ' }}]").unwrap(), "[]");
    assert_eq!(
        render("[{{ customer.nope | map: 'sku' | first }}]").unwrap(),
        "[]"
    );
    assert_eq!(
        render("{{ customer.nope | default: 0 | plus: 1 }}").unwrap(),
        "1"
    );
    // Data that is there but of the wrong kind is still an error.
    assert!(render("{{ customer.first_name | plus: 1 }}").is_err());
}

#[test]
fn names_with_spaces_are_reached_with_brackets() {
    assert_eq!(
        render(r#"{{ event["sign up date"] }}"#).unwrap(),
        "2024-03-05 10:00:00 +0000"
    );
    assert_eq!(
        render(r#"{{ event.nested['key with space']["x y"] }}"#).unwrap(),
        "deep"
    );
}

#[test]
fn nested_attributes_arrays_and_sizes_resolve() {
    assert_eq!(
        render("{{ customer.plan.name }}/{{ customer.plan.seats }}").unwrap(),
        "pro/3"
    );
    assert_eq!(
        render("{{ customer.tags[1] }} {{ customer.tags.first }} {{ customer.tags[-1] }} {{ customer.tags.size }}")
            .unwrap(),
        "beta vip beta 2"
    );
}

#[test]
fn objects_with_many_keys_resolve_as_small_ones_do() {
    let many: serde_json::Map<String, serde_json::Value> = (0..40)
        .map(|i| (format!("k{i}"), serde_json::json!(i)))
        .collect();
    let globals = serde_json::json!({ "c": many });
    assert_eq!(
        render_with(
            "{{ c.k0 }}-{{ c.k39 }}-[{{ c.k40 }}]-{{ c.size }}",
            &globals
        )
        .unwrap(),
        "0-39-[]-40"
    );
}

#[test]
fn a_missing_attribute_is_false_in_conditions() {
    assert_eq!(
        render("{% if customer.nope %}yes{% else %}no{% endif %}").unwrap(),
        "no"
    );
    assert_eq!(
        render("{% if customer.nope == nil %}nil{% endif %}").unwrap(),
        "nil"
    );
    assert_eq!(
        render("{% if customer.nope.deeper > 3 %}yes{% else %}no{% endif %}").unwrap(),
        "no"
    );
    assert_eq!(
        render("{% unless customer.nope %}yes{% endunless %}").unwrap(),
        "yes"
    );
}

#[test]
fn missing_keys_of_loop_items_and_copies_are_empty_too() {
    assert_eq!(
        render("{% for o in customer.orders %}{{ o.sku }}x{{ o.qty | default: 1 }}[{{ o.nope }}] {% endfor %}")
            .unwrap(),
        "A1x2[] B2x1[] "
    );
    assert_eq!(
        render("{% assign c = customer %}{{ c.first_name }}[{{ c.nope }}]").unwrap(),
        "Ana[]"
    );
    assert_eq!(render("[{{ customer.first_name.nope }}]").unwrap(), "[]");
}

#[test]
fn loops_over_missing_collections_take_the_else_branch() {
    assert_eq!(
        render("{% for x in customer.nope %}{{ x }}{% else %}none{% endfor %}").unwrap(),
        "none"
    );
}

#[test]
fn counters_and_assignments_are_visible_despite_lax_lookups() {
    assert_eq!(
        render("{% increment n %}{% increment n %}[{{ n }}]").unwrap(),
        "01[2]"
    );
    assert_eq!(
        render("{% assign who = customer.first_name | upcase %}{{ who }}").unwrap(),
        "ANA"
    );
}

#[test]
fn globals_must_be_an_object() {
    let err = render_with("x", &serde_json::json!([1])).unwrap_err();
    assert_eq!(err, crate::TemplateError::GlobalsNotObject);
}
