//! A wrapper around every filter: it charges the values the filter builds to the render's
//! budget, turns the filter's failure on nil into nil, and turns a panic into an error.
//!
//! Most filters build at most a constant multiple of their input, so checking the result after
//! the fact is enough to stop a template that grows a value on every loop iteration.
//! Most of liquid-lib's filters also reject nil (`plus`, `round`, `join`, `first`, `map`, …),
//! and a missing attribute is nil, so `{{ customer.nope | plus: 1 }}` would fail the whole
//! render; Customer.io renders missing data as empty, so such a filter yields nil instead.
//! A filter's inputs come from the people and events an app sends, so a filter that panics on
//! some input (liquid-lib's `divided_by` did on `i64::MIN / -1`) must fail that one render, not
//! the request or the campaign run that asked for it.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use liquid_core::parser::FilterArguments;
use liquid_core::{
    Error, Filter, FilterReflection, ParseFilter, Result, Runtime, Value, ValueView,
};

use crate::limits::{Budget, value_size};
use herald_domain::panic_message;

/// Wraps a filter's parser so that the filters it parses are guarded.
#[derive(Clone)]
pub(crate) struct Guarded(Box<dyn ParseFilter>);

impl Guarded {
    pub(crate) fn new(inner: Box<dyn ParseFilter>) -> Self {
        Self(inner)
    }
}

impl ParseFilter for Guarded {
    fn parse(&self, arguments: FilterArguments<'_>) -> Result<Box<dyn Filter>> {
        Ok(Box::new(GuardedFilter {
            name: self.0.reflection().name().to_owned(),
            inner: self.0.parse(arguments)?,
        }))
    }

    fn reflection(&self) -> &dyn FilterReflection {
        self.0.reflection()
    }
}

#[derive(Debug)]
struct GuardedFilter {
    /// The filter's name, for the error a panic becomes.
    name: String,
    inner: Box<dyn Filter>,
}

// Traces of render errors print filters through `Display`, so the wrapper must not show.
impl fmt::Display for GuardedFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Filter for GuardedFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        // Unwind safety: a panic ends this render with an error, and the render's runtime (the
        // only state the filter could leave half-updated) is dropped with it; `Template::render`
        // builds a fresh one for every render.
        let evaluated =
            match panic::catch_unwind(AssertUnwindSafe(|| self.inner.evaluate(input, runtime))) {
                Ok(evaluated) => evaluated,
                // A panic is a bug met on this input, never excused as nil is.
                Err(payload) => {
                    return Err(Error::with_msg(format!(
                        "{} failed unexpectedly: {}",
                        self.name,
                        panic_message(payload.as_ref())
                    )));
                }
            };
        let value = match evaluated {
            Ok(value) => value,
            // A limit is never excused, whatever the input.
            Err(_) if input.is_nil() && Budget::exceeded(runtime).is_none() => Value::Nil,
            Err(error) => return Err(error),
        };
        Budget::charge(runtime, value_size(&value))?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use liquid_core::runtime::RuntimeBuilder;
    use liquid_core::{Display_filter, FilterReflection, ParseFilter};

    use super::*;

    /// A filter that panics on every input, standing for a bug met on some data.
    #[derive(Clone, ParseFilter, FilterReflection)]
    #[filter(name = "explode", description = "Panics.", parsed(ExplodeFilter))]
    struct Explode;

    #[derive(Debug, Default, Display_filter)]
    #[name = "explode"]
    struct ExplodeFilter;

    impl Filter for ExplodeFilter {
        fn evaluate(&self, _input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
            panic!("boom at {}", 42)
        }
    }

    fn evaluate(input: &Value) -> Result<Value> {
        let arguments = FilterArguments {
            positional: Box::new(Vec::new().into_iter()),
            keyword: Box::new(Vec::new().into_iter()),
        };
        let filter = Guarded::new(Box::new(Explode)).parse(arguments)?;
        filter.evaluate(input, &RuntimeBuilder::new().build())
    }

    #[test]
    fn a_panic_is_an_error_naming_the_filter_even_on_nil() {
        for input in [Value::scalar(1), Value::Nil] {
            let error = evaluate(&input).unwrap_err().to_string();
            assert!(
                error.contains("explode failed unexpectedly: boom at 42"),
                "{error}"
            );
        }
    }
}
