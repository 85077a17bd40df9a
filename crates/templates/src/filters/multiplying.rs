//! `replace` and `join`, the stdlib filters whose output can be the product of their inputs'
//! sizes, checked against [`MAX_VALUE_BYTES`](crate::limits::MAX_VALUE_BYTES) before they build
//! anything.
//!
//! Replacing each character of a 500 KiB string with a 500 KiB string asks for 250 GB, which
//! no check after the fact can stop; otherwise these behave exactly as liquid-lib's.

use liquid_core::{
    Display_filter, Error, Expression, Filter, FilterParameters, FilterReflection,
    FromFilterParameters, ParseFilter, Result, Runtime, Value, ValueView,
};

use crate::limits::Budget;

#[derive(Debug, FilterParameters)]
struct ReplaceArgs {
    #[parameter(description = "The text to search.", arg_type = "str")]
    search: Expression,
    #[parameter(
        description = "The text to replace search results with. If not given, the filter will just delete search results.",
        arg_type = "str"
    )]
    replace: Option<Expression>,
}

/// `replace`: replaces every occurrence of `search` with `replace`.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "replace",
    description = "Replaces the occurrences of the `search` with `replace`. If `replace` is not given, just deletes occurrences of `search`.",
    parameters(ReplaceArgs),
    parsed(ReplaceFilter)
)]
pub(crate) struct Replace;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "replace"]
struct ReplaceFilter {
    #[parameters]
    args: ReplaceArgs,
}

impl Filter for ReplaceFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let input = input.to_kstr();
        let search = args.search.as_str();
        let replace = args.replace.unwrap_or_else(|| "".into());

        // An empty pattern matches before every character and at the end, as `str::replace`
        // counts it.
        let matches = if search.is_empty() {
            input.chars().count() + 1
        } else {
            input.matches(search).count()
        };
        let size = (input.len() - matches * search.len())
            .saturating_add(matches.saturating_mul(replace.len()));
        Budget::check_size(runtime, size)?;

        Ok(Value::scalar(input.replace(search, replace.as_str())))
    }
}

#[derive(Debug, FilterParameters)]
struct JoinArgs {
    #[parameter(
        description = "The separator between each element in the string.",
        arg_type = "str"
    )]
    separator: Option<Expression>,
}

/// `join`: concatenates an array's items with a separator.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "join",
    description = "Combines the items in an array into a single string using the argument as a separator.",
    parameters(JoinArgs),
    parsed(JoinFilter)
)]
pub(crate) struct Join;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "join"]
struct JoinFilter {
    #[parameters]
    args: JoinArgs,
}

impl Filter for JoinFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let separator = args.separator.unwrap_or_else(|| " ".into());
        let array = input.as_array().ok_or_else(|| {
            Error::with_msg("Invalid input").context("cause", "Array of strings expected")
        })?;

        let items: Vec<_> = array.values().map(|v| v.to_kstr()).collect();
        let size = items
            .iter()
            .map(|item| item.len())
            .fold(0, usize::saturating_add)
            .saturating_add(
                items
                    .len()
                    .saturating_sub(1)
                    .saturating_mul(separator.len()),
            );
        Budget::check_size(runtime, size)?;

        let mut joined = String::with_capacity(size);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                joined.push_str(separator.as_str());
            }
            joined.push_str(item.as_str());
        }
        Ok(Value::scalar(joined))
    }
}
