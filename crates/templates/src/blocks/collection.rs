//! What a loop iterates over, sized before it is built.
//!
//! liquid-lib's loops collect the whole range into a vector before the first iteration, so
//! `(1..100000000)` allocates and runs for seconds.
//! Here the number of iterations is computed from the range bounds, `limit` and `offset` first,
//! and taken from the render's [`Budget`]; only then are the items built.

use liquid_core::model::{ValueCow, ValueView};
use liquid_core::parser::TryMatchToken;
use liquid_core::{Error, Expression, Result, Runtime, TagTokenIter, Value};
use liquid_lib::stdlib::RangeExpression;

use crate::limits::Budget;

/// Parses the `item in collection` part of a loop tag and returns the item's name and the
/// collection.
pub(crate) fn parse_head<'a>(
    arguments: &mut TagTokenIter<'a>,
) -> Result<(&'a str, RangeExpression)> {
    let var_name = arguments
        .expect_next("Identifier expected.")?
        .expect_identifier()
        .into_result()?;
    arguments
        .expect_next("\"in\" expected.")?
        .expect_str("in")
        .into_result_custom_msg("\"in\" expected.")?;
    let range = arguments.expect_next("Array or range expected.")?;
    let range = match range.expect_value() {
        TryMatchToken::Matches(array) => RangeExpression::Array(array),
        TryMatchToken::Fails(range) => match range.expect_range() {
            TryMatchToken::Matches((start, stop)) => RangeExpression::Counted(start, stop),
            TryMatchToken::Fails(range) => return range.raise_error().into_err(),
        },
    };
    Ok((var_name, range))
}

/// Parses the value after a `limit:`, `offset:` or `cols:` parameter name.
pub(crate) fn parse_parameter(arguments: &mut TagTokenIter<'_>) -> Result<Expression> {
    arguments
        .expect_next("\":\" expected.")?
        .expect_str(":")
        .into_result_custom_msg("\":\" expected.")?;
    arguments
        .expect_next("Value expected.")?
        .expect_value()
        .into_result()
}

/// Evaluates an optional whole-number parameter.
pub(crate) fn evaluate_count(
    parameter: Option<&Expression>,
    runtime: &dyn Runtime,
) -> Result<Option<u64>> {
    let Some(expression) = parameter else {
        return Ok(None);
    };
    let value = expression.evaluate(runtime)?;
    let number = value
        .as_scalar()
        .and_then(|s| s.to_integer())
        .ok_or_else(|| expected("whole number", value.type_name()))?;
    // A negative limit or offset means none, as in liquid-lib.
    Ok(Some(u64::try_from(number).unwrap_or(0)))
}

/// Slicing and order of a loop.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) limit: Option<u64>,
    pub(crate) offset: u64,
    pub(crate) reversed: bool,
}

/// Evaluates `range`, takes its iterations from the budget, and returns the items.
///
/// Fails before building anything when the loop alone would exceed what is left of the budget.
pub(crate) fn items<'r>(
    range: &'r RangeExpression,
    window: Window,
    runtime: &'r dyn Runtime,
) -> Result<Vec<ValueCow<'r>>> {
    let source = Source::evaluate(range, runtime)?;
    let len = source.len()?;
    let offset = window.offset.min(len);
    let count = window.limit.unwrap_or(u64::MAX).min(len - offset);
    Budget::start_loop(runtime, count)?;

    // Both numbers are within the budget now, so they fit in a usize.
    let skip = usize::try_from(offset).unwrap_or(usize::MAX);
    let take = usize::try_from(count).unwrap_or(0);
    let mut items: Vec<ValueCow<'r>> = match source {
        // The item is at most `stop`, so adding in two's complement cannot go wrong even
        // when the distance from `start` does not fit in an i64.
        Source::Counted(start, _) => (0..count)
            .map(|i| ValueCow::Owned(Value::scalar(start.wrapping_add((offset + i) as i64))))
            .collect(),
        Source::Values(ValueCow::Borrowed(v)) => borrowed_items(v, skip, take),
        Source::Values(ValueCow::Owned(v)) => {
            let borrowed = borrowed_items(&v, skip, take);
            borrowed
                .into_iter()
                .map(|item| ValueCow::Owned(item.into_owned()))
                .collect()
        }
    };
    if window.reversed {
        items.reverse();
    }
    Ok(items)
}

/// A collection as evaluated, before any item is built.
enum Source<'r> {
    /// An inclusive integer range.
    Counted(i64, i64),
    /// An array, an object (iterated as `[key, value]` pairs) or nothing.
    Values(ValueCow<'r>),
}

impl<'r> Source<'r> {
    fn evaluate(range: &'r RangeExpression, runtime: &'r dyn Runtime) -> Result<Self> {
        match range {
            RangeExpression::Array(expression) => {
                // `try_evaluate` borrows the collection from the globals where `evaluate` would
                // copy all of it; a collection that does not resolve is nil, so no loop.
                let value = match expression.try_evaluate(runtime) {
                    Some(value) => value,
                    None => expression.evaluate(runtime)?,
                };
                Ok(Source::Values(value))
            }
            RangeExpression::Counted(start, stop) => Ok(Source::Counted(
                integer(start, runtime, "start")?,
                integer(stop, runtime, "end")?,
            )),
        }
    }

    fn len(&self) -> Result<u64> {
        match self {
            Source::Counted(start, stop) => Ok(if stop < start {
                0
            } else {
                // The difference of two i64 always fits in a u64.
                stop.abs_diff(*start).saturating_add(1)
            }),
            Source::Values(value) => {
                let value = value.as_view();
                if let Some(array) = value.as_array() {
                    Ok(u64::try_from(array.size()).unwrap_or(0))
                } else if let Some(object) = value.as_object() {
                    Ok(u64::try_from(object.size()).unwrap_or(0))
                } else if value.is_state() || value.is_nil() {
                    Ok(0)
                } else {
                    Err(expected("array", value.type_name()))
                }
            }
        }
    }
}

fn borrowed_items(value: &dyn ValueView, skip: usize, take: usize) -> Vec<ValueCow<'_>> {
    if let Some(array) = value.as_array() {
        array
            .values()
            .skip(skip)
            .take(take)
            .map(ValueCow::Borrowed)
            .collect()
    } else if let Some(object) = value.as_object() {
        object
            .iter()
            .skip(skip)
            .take(take)
            .map(|(k, v)| {
                let pair = vec![Value::scalar(k.into_owned()), v.to_value()];
                ValueCow::Owned(Value::Array(pair))
            })
            .collect()
    } else {
        Vec::new()
    }
}

fn integer(expression: &Expression, runtime: &dyn Runtime, name: &str) -> Result<i64> {
    let value = expression.evaluate(runtime)?;
    value
        .as_scalar()
        .and_then(|s| s.to_integer())
        .ok_or_else(|| {
            expected("whole number", value.type_name()).context("range", name.to_owned())
        })
}

fn expected(what: &str, found: &str) -> Error {
    Error::with_msg(format!("Expected {what}, found `{found}`"))
}
