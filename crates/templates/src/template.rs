//! [`Templates`] compiles sources; [`Template`] renders them for one recipient.

use std::panic::{self, AssertUnwindSafe};

use liquid_core::runtime::{Renderable, RuntimeBuilder};
use liquid_core::{Language, Runtime};

use crate::error::{self, TemplateError};
use crate::filters::Now;
use crate::json::JsonObject;
use crate::language;
use crate::lax::LaxFrame;
use crate::limits::{
    Budget, CappedWriter, Limit, MAX_OUTPUT_BYTES, MAX_SOURCE_BYTES, allowed_iterations,
};
use crate::scan;

/// The template compiler: holds the Liquid dialect, built once and shared by every compile.
pub struct Templates {
    language: Language,
}

impl Templates {
    /// Returns a compiler for Herald's Liquid dialect.
    pub fn new() -> Self {
        Self {
            language: language::build(),
        }
    }

    /// Parses `source` once, so that it can be rendered many times.
    ///
    /// A syntax error names its line and column, so this is also how a template is validated
    /// when it is saved.
    pub fn compile(&self, source: &str) -> Result<Template, TemplateError> {
        if source.len() > MAX_SOURCE_BYTES {
            return Err(TemplateError::TooLong {
                bytes: source.len(),
            });
        }
        let shape = scan::scan(source)?;
        // liquid's parser has panicked on input its grammar accepts (an integer literal outside
        // i64's range, which the scan now refuses); a template is user input, so any such
        // panic is a syntax error too.
        let parsed = panic::catch_unwind(AssertUnwindSafe(|| {
            liquid_core::parser::parse(source, &self.language)
        }));
        let elements = match parsed {
            Ok(parsed) => parsed.map_err(|e| error::syntax(&e, source))?,
            Err(payload) => {
                return Err(error::parser_panic(&herald_domain::panic_message(
                    payload.as_ref(),
                )));
            }
        };
        Ok(Template {
            inner: liquid_core::Template::new(elements),
            allowed_iterations: allowed_iterations(shape.code_bytes),
        })
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

/// A compiled template; immutable, so one can be shared across threads and renders.
#[derive(Debug)]
pub struct Template {
    inner: liquid_core::Template,
    allowed_iterations: u64,
}

impl Template {
    /// Returns how many loop iterations one render of this template may run in total; see
    /// [`crate::limits::allowed_iterations`].
    pub fn allowed_iterations(&self) -> u64 {
        self.allowed_iterations
    }

    /// Renders the template with `globals` (a JSON object such as
    /// `{"customer": {...}, "event": {...}}`) at the time `now`, in unix seconds.
    ///
    /// `now` is what `"now"` means to the `date` filter; the wall clock is never read.
    /// A missing attribute renders as empty.
    /// Rendering stops with [`TemplateError::LimitExceeded`] when it runs into a limit of
    /// [`crate::limits`].
    /// A panic anywhere in the render (a bug in liquid or in this crate, met on some data) is
    /// returned as [`TemplateError::Render`], so that one bad value fails one message and not
    /// the request or the campaign run that rendered it.
    pub fn render(&self, globals: &serde_json::Value, now: i64) -> Result<String, TemplateError> {
        unpanicked(|| self.render_unguarded(globals, now))
    }

    fn render_unguarded(
        &self,
        globals: &serde_json::Value,
        now: i64,
    ) -> Result<String, TemplateError> {
        let serde_json::Value::Object(globals) = globals else {
            return Err(TemplateError::GlobalsNotObject);
        };
        let globals = JsonObject::new(globals);
        let runtime = LaxFrame(RuntimeBuilder::new().set_globals(&globals).build());
        runtime.registers().get_mut::<Now>().0 = Some(now);
        Budget::allow_iterations(&runtime, self.allowed_iterations);

        let mut output = CappedWriter::new(MAX_OUTPUT_BYTES);
        let rendered = self.inner.render_to(&mut output, &runtime);
        if output.overflowed() {
            return Err(TemplateError::LimitExceeded(Limit::Output));
        }
        if let Some(limit) = Budget::exceeded(&runtime) {
            return Err(TemplateError::LimitExceeded(limit));
        }
        rendered.map_err(|e| error::render(&e))?;
        // liquid writes only the UTF-8 of its inputs; a failure here would be a liquid bug.
        String::from_utf8(output.into_bytes()).map_err(|_| TemplateError::Render {
            message: "output is not UTF-8".to_owned(),
        })
    }
}

/// Runs a render, turning a panic into [`TemplateError::Render`].
fn unpanicked(
    render: impl FnOnce() -> Result<String, TemplateError>,
) -> Result<String, TemplateError> {
    // Unwind safety: a render only reads its template and globals, and everything it writes (the
    // runtime, the output) is its own and dropped with the panic.
    panic::catch_unwind(AssertUnwindSafe(render)).unwrap_or_else(|payload| {
        Err(TemplateError::Render {
            message: format!(
                "the template engine failed unexpectedly: {}",
                herald_domain::panic_message(payload.as_ref())
            ),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_render_is_a_render_error() {
        let failed = unpanicked(|| panic!("liquid bug"));
        assert_eq!(
            failed.unwrap_err().to_string(),
            "render failed: the template engine failed unexpectedly: liquid bug"
        );
        assert_eq!(unpanicked(|| Ok("fine".to_owned())), Ok("fine".to_owned()));
    }
}
