//! A wrapper around every filter: it charges the values the filter builds to the render's
//! budget, and turns the filter's failure on nil into nil.
//!
//! Most filters build at most a constant multiple of their input, so checking the result after
//! the fact is enough to stop a template that grows a value on every loop iteration.
//! Most of liquid-lib's filters also reject nil (`plus`, `round`, `join`, `first`, `map`, …),
//! and a missing attribute is nil, so `{{ customer.nope | plus: 1 }}` would fail the whole
//! render; Customer.io renders missing data as empty, so such a filter yields nil instead.

use std::fmt;

use liquid_core::parser::FilterArguments;
use liquid_core::{Filter, FilterReflection, ParseFilter, Result, Runtime, Value, ValueView};

use crate::limits::{Budget, value_size};

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
        Ok(Box::new(GuardedFilter(self.0.parse(arguments)?)))
    }

    fn reflection(&self) -> &dyn FilterReflection {
        self.0.reflection()
    }
}

#[derive(Debug)]
struct GuardedFilter(Box<dyn Filter>);

// Traces of render errors print filters through `Display`, so the wrapper must not show.
impl fmt::Display for GuardedFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Filter for GuardedFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let value = match self.0.evaluate(input, runtime) {
            Ok(value) => value,
            // A limit is never excused, whatever the input.
            Err(_) if input.is_nil() && Budget::exceeded(runtime).is_none() => Value::Nil,
            Err(error) => return Err(error),
        };
        Budget::charge(runtime, value_size(&value))?;
        Ok(value)
    }
}
