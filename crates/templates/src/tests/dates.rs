//! The `date` filter: epochs, the injected "now", strings and time zones.

use super::render;

#[test]
fn unix_seconds_are_formatted_in_utc() {
    assert_eq!(
        render(r#"{{ customer.created_at | date: "%Y-%m-%d %H:%M:%S %z" }}"#).unwrap(),
        "2024-03-05 10:00:00 +0000"
    );
    assert_eq!(
        render(r#"{{ event.signed_up_at | date: "%b %-d, %Y" }}"#).unwrap(),
        "Mar 5, 2024"
    );
    assert_eq!(
        render(r#"{{ 1709632800.9 | date: "%H:%M:%S" }}"#).unwrap(),
        "10:00:00"
    );
}

#[test]
fn this_date_filter_replaces_liquids() {
    // liquid-lib's `date` prints an integer unchanged, so a formatted epoch proves which one
    // is registered.
    assert_eq!(render(r#"{{ 0 | date: "%Y" }}"#).unwrap(), "1970");
}

#[test]
fn now_is_the_time_given_to_the_render() {
    assert_eq!(
        render(r#"{{ "now" | date: "%Y-%m-%d %H:%M:%S" }}"#).unwrap(),
        "2023-11-14 22:13:20"
    );
    assert_eq!(
        render(r#"{{ "today" | date: "%s" }}"#).unwrap(),
        super::NOW.to_string()
    );
    let later = crate::Templates::new()
        .compile(r#"{{ "now" | date: "%s" }}"#)
        .unwrap()
        .render(&super::globals(), 86_400)
        .unwrap();
    assert_eq!(later, "86400");
}

#[test]
fn date_strings_liquid_reads_still_work() {
    assert_eq!(
        render(r#"{{ event["sign up date"] | date: "%b %d, %Y" }}"#).unwrap(),
        "Mar 05, 2024"
    );
    assert_eq!(
        render(r#"{{ "2024-03-05T10:00:00+02:00" | date: "%H:%M %z" }}"#).unwrap(),
        "10:00 +0200"
    );
    assert_eq!(
        render(r#"{{ "2024-03-05" | date: "%d/%m/%Y %H:%M" }}"#).unwrap(),
        "05/03/2024 00:00"
    );
}

#[test]
fn what_is_not_a_date_passes_through() {
    assert_eq!(render(r#"{{ "soon" | date: "%Y" }}"#).unwrap(), "soon");
    assert_eq!(
        render(r#"[{{ customer.nope | date: "%Y" }}]"#).unwrap(),
        "[]"
    );
}

#[test]
fn a_time_zone_argument_converts_the_moment() {
    assert_eq!(
        render(r#"{{ customer.created_at | date: "%H:%M %z", customer.timezone }}"#).unwrap(),
        "05:00 -0500"
    );
    // The same zone in summer is on daylight saving time.
    assert_eq!(
        render(r#"{{ 1720000000 | date: "%H:%M %z", "America/New_York" }}"#).unwrap(),
        "05:46 -0400"
    );
    assert_eq!(
        render(r#"{{ customer.created_at | date: "%H:%M", "+05:30" }}"#).unwrap(),
        "15:30"
    );
    assert_eq!(
        render(r#"{{ customer.created_at | date: "%H:%M %z", customer.nope }}"#).unwrap(),
        "10:00 +0000"
    );
}

#[test]
fn an_unknown_time_zone_is_an_error() {
    let err = render(r#"{{ 0 | date: "%Y", "Mars/Olympus" }}"#).unwrap_err();
    assert!(
        err.to_string().contains("unknown time zone: Mars/Olympus"),
        "{err}"
    );
}

#[test]
fn huge_padding_is_refused() {
    let err = render(r#"{{ 0 | date: "%999999999Y" }}"#).unwrap_err();
    assert!(
        err.to_string().contains("padding is wider than 64"),
        "{err}"
    );
    assert_eq!(render(r#"{{ 0 | date: "%6Y" }}"#).unwrap(), "001970");
}

#[test]
fn moments_at_the_edge_of_the_supported_years_fail_instead_of_panicking() {
    // 9999-12-31 23:59:59 UTC is the last supported second; a later local time cannot exist.
    let last = 253_402_300_799_i64;
    assert_eq!(
        render(&format!("{{{{ {last} | date: '%Y' }}}}")).unwrap(),
        "9999"
    );
    assert!(render(&format!("{{{{ {last} | date: '%Y', '+01:00' }}}}")).is_err());
    // Beyond it, the number is not a date and passes through.
    let beyond = last + 1;
    assert_eq!(
        render(&format!("{{{{ {beyond} | date: '%Y' }}}}")).unwrap(),
        beyond.to_string()
    );
}
