//! Behaviour of whole templates, compiled and rendered through the public API.

mod arithmetic;
mod dates;
mod limits;
mod lookups;
mod output;
mod syntax;

use serde_json::{Value, json};

use crate::{TemplateError, Templates};

/// The time every render in these tests happens at: 2023-11-14 22:13:20 UTC.
const NOW: i64 = 1_700_000_000;

/// A person and an event shaped like the ones campaigns render with.
fn globals() -> Value {
    json!({
        "customer": {
            "id": "u1",
            "first_name": "Ana",
            "created_at": 1_709_632_800,
            "timezone": "America/New_York",
            "plan": {"name": "pro", "seats": 3},
            "tags": ["vip", "beta"],
            "orders": [{"sku": "A1", "qty": 2}, {"sku": "B2"}]
        },
        "event": {
            "name": "signed_up",
            "sign up date": "2024-03-05 10:00:00 +0000",
            "signed_up_at": "1709632800",
            "nested": {"key with space": {"x y": "deep"}}
        }
    })
}

fn render(source: &str) -> Result<String, TemplateError> {
    render_with(source, &globals())
}

fn render_with(source: &str, globals: &Value) -> Result<String, TemplateError> {
    Templates::new().compile(source)?.render(globals, NOW)
}
