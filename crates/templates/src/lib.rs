//! Herald's message templates: Liquid, as Customer.io's messages use it.
//!
//! This crate owns the Liquid dialect of campaign messages (subjects, bodies, webhook payloads,
//! push fields): compiling a source once when it is saved, with syntax errors that name a line
//! and a column, and rendering it for one person and one event.
//!
//! It is built on liquid-core and liquid-lib (the parts of the `liquid` crate), with:
//! - lax lookups: `{{ customer.nope }}`, `{{ nope.deeper.still }}`,
//!   `{{ customer.nope | default: "friend" }}` and `{{ customer.nope | plus: 1 }}` render as
//!   Customer.io's do (empty, or the default) instead of failing the render;
//! - an epoch-aware `date` filter with time zones, whose `"now"` is the time given to the render;
//! - bounds on output, loop iterations and the values filters build ([`limits`]), so that no
//!   template can stall a worker or exhaust memory.
//!
//! Output is not HTML-escaped: Liquid has no auto-escaping, so HTML bodies use `| escape`.
//!
//! ```
//! use herald_templates::Templates;
//!
//! // Build one `Templates` and keep it; compile each template once, when it is saved.
//! let templates = Templates::new();
//! let subject = templates.compile(r#"Welcome, {{ customer.first_name | default: "friend" }}"#)?;
//! let globals = serde_json::json!({"customer": {}, "event": {"name": "signed_up"}});
//! assert_eq!(subject.render(&globals, 1_700_000_000)?, "Welcome, friend");
//! # Ok::<(), herald_templates::TemplateError>(())
//! ```
//!
//! **Invariant:** pure. No IO, no wall clock (the caller passes `now`), no network; time zones
//! come from the tz database compiled into the binary.

mod blocks;
mod error;
mod filters;
mod json;
mod language;
mod lax;
pub mod limits;
mod scan;
mod template;

pub use error::{Position, TemplateError};
pub use limits::Limit;
pub use template::{Template, Templates};

#[cfg(test)]
mod tests;
