//! `plus`, `minus`, `times`, `divided_by`, `modulo`, `abs`, `round`, `ceil` and `floor`, with
//! checked integer arithmetic.
//!
//! liquid-lib computes on `i64` with the plain operators, so `divided_by` and `modulo` panic on
//! -9223372036854775808 and -1 in every build, and `plus`, `minus`, `times` and `abs` panic in
//! debug builds and wrap around in release builds; its `round`, `ceil` and `floor` cast floats
//! to `i64`, which silently clamps `1e300` to 9223372036854775807.
//! Template data comes from the people and events an app sends, so any of these is reachable
//! from outside; here each is a render error that names the filter instead.
//!
//! For every input that does not overflow these behave exactly as liquid-lib's: two integers
//! (or strings of integers, such as `"3"`) give an integer, anything else that reads as a number
//! gives a float, division by zero is an error, and the errors have liquid-lib's wording.
//! Two deliberate differences, both where liquid-lib's own arithmetic leaves its range:
//! `round`, `ceil` and `floor` return an integer input unchanged instead of passing it through
//! a float (which loses the low digits past 2^53 and turns 9223372036854775807 into 2^63), and
//! `round` to more decimal places than a float can scale to (`round: 400`) returns its input
//! unchanged, since rounding finer than a float's own precision changes nothing, where
//! liquid-lib gives NaN.
//! `at_least` and `at_most` only compare, so liquid-lib's versions stay.

use liquid_core::model::ScalarCow;
use liquid_core::{
    Display_filter, Error, Expression, Filter, FilterParameters, FilterReflection,
    FromFilterParameters, ParseFilter, Result, Runtime, Value, ValueView,
};

/// liquid-lib's error for an input that is not a number.
fn invalid_input(cause: &str) -> Error {
    Error::with_msg("Invalid input").context("cause", cause.to_owned())
}

/// liquid-lib's error for an argument that is not a number, or a zero divisor.
fn invalid_argument(argument: &str, cause: &str) -> Error {
    Error::with_msg("Invalid argument")
        .context("argument", argument.to_owned())
        .context("cause", cause.to_owned())
}

/// The error for a result outside `i64`: it names the filter, since the render error it becomes
/// is all a campaign's author sees of it.
fn overflow(filter: &str, what: String) -> Error {
    Error::with_msg(format!(
        "{filter} overflows: {what} is outside the integer range"
    ))
}

/// An arithmetic operation on the input and one operand.
#[derive(Debug, Clone, Copy)]
enum Operation {
    Plus,
    Minus,
    Times,
    DividedBy,
    Modulo,
}

impl Operation {
    fn filter(self) -> &'static str {
        match self {
            Self::Plus => "plus",
            Self::Minus => "minus",
            Self::Times => "times",
            Self::DividedBy => "divided_by",
            Self::Modulo => "modulo",
        }
    }

    fn on_integers(self, input: i64, operand: i64) -> Option<i64> {
        match self {
            Self::Plus => input.checked_add(operand),
            Self::Minus => input.checked_sub(operand),
            Self::Times => input.checked_mul(operand),
            Self::DividedBy => input.checked_div(operand),
            Self::Modulo => input.checked_rem(operand),
        }
    }

    fn on_floats(self, input: f64, operand: f64) -> f64 {
        match self {
            Self::Plus => input + operand,
            Self::Minus => input - operand,
            Self::Times => input * operand,
            Self::DividedBy => input / operand,
            Self::Modulo => input % operand,
        }
    }

    /// Describes the integer computation that overflowed.
    fn describe(self, input: i64, operand: i64) -> String {
        match self {
            Self::Plus => format!("{input} plus {operand}"),
            Self::Minus => format!("{input} minus {operand}"),
            Self::Times => format!("{input} times {operand}"),
            Self::DividedBy => format!("{input} divided by {operand}"),
            // The remainder itself is 0, but computing it divides, and the quotient is what does
            // not fit (Rust panics on `i64::MIN % -1` for that reason).
            Self::Modulo => format!("the quotient of {input} by {operand}"),
        }
    }

    /// Applies the operation as liquid-lib does, with checked integer arithmetic.
    fn apply(self, input: &dyn ValueView, operand: &dyn ValueView) -> Result<Value> {
        let input = input
            .as_scalar()
            .ok_or_else(|| invalid_input("Number expected"))?;
        let operand = operand
            .as_scalar()
            .ok_or_else(|| invalid_argument("operand", "Number expected"))?;

        if matches!(self, Self::DividedBy | Self::Modulo) && is_zero(&operand) {
            return Err(invalid_argument("operand", "Can't divide by zero"));
        }
        if let (Some(i), Some(o)) = (input.to_integer(), operand.to_integer()) {
            return self
                .on_integers(i, o)
                .map(Value::scalar)
                .ok_or_else(|| overflow(self.filter(), self.describe(i, o)));
        }
        match (input.to_float(), operand.to_float()) {
            (Some(i), Some(o)) => Ok(Value::scalar(self.on_floats(i, o))),
            _ => Err(invalid_argument("operand", "Number expected")),
        }
    }
}

/// Tells whether a divisor is zero the way liquid-lib does: as an integer if it reads as one,
/// otherwise as a float.
fn is_zero(operand: &ScalarCow<'_>) -> bool {
    match operand.to_integer() {
        Some(o) => o == 0,
        None => operand.to_float() == Some(0.0),
    }
}

#[derive(Debug, FilterParameters)]
struct PlusArgs {
    #[parameter(description = "The number to sum to the input.")]
    operand: Expression,
}

/// `plus`, with checked integer arithmetic.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "plus",
    description = "Sums a number with the given operand.",
    parameters(PlusArgs),
    parsed(PlusFilter)
)]
pub(crate) struct Plus;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "plus"]
struct PlusFilter {
    #[parameters]
    args: PlusArgs,
}

impl Filter for PlusFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        Operation::Plus.apply(input, args.operand.as_view())
    }
}

#[derive(Debug, FilterParameters)]
struct MinusArgs {
    #[parameter(description = "The number to subtract to the input.")]
    operand: Expression,
}

/// `minus`, with checked integer arithmetic.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "minus",
    description = "Subtracts the given operand from a number.",
    parameters(MinusArgs),
    parsed(MinusFilter)
)]
pub(crate) struct Minus;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "minus"]
struct MinusFilter {
    #[parameters]
    args: MinusArgs,
}

impl Filter for MinusFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        Operation::Minus.apply(input, args.operand.as_view())
    }
}

#[derive(Debug, FilterParameters)]
struct TimesArgs {
    #[parameter(description = "The number to multiply the input by.")]
    operand: Expression,
}

/// `times`, with checked integer arithmetic.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "times",
    description = "Multiplies a number by the given operand.",
    parameters(TimesArgs),
    parsed(TimesFilter)
)]
pub(crate) struct Times;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "times"]
struct TimesFilter {
    #[parameters]
    args: TimesArgs,
}

impl Filter for TimesFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        Operation::Times.apply(input, args.operand.as_view())
    }
}

#[derive(Debug, FilterParameters)]
struct DividedByArgs {
    #[parameter(description = "The number to divide the input by.")]
    operand: Expression,
}

/// `divided_by`, with checked integer arithmetic.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "divided_by",
    description = "Divides a number by the given operand.",
    parameters(DividedByArgs),
    parsed(DividedByFilter)
)]
pub(crate) struct DividedBy;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "divided_by"]
struct DividedByFilter {
    #[parameters]
    args: DividedByArgs,
}

impl Filter for DividedByFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        Operation::DividedBy.apply(input, args.operand.as_view())
    }
}

#[derive(Debug, FilterParameters)]
struct ModuloArgs {
    #[parameter(description = "The modulo of the input. Must be a number.")]
    operand: Expression,
}

/// `modulo`, with checked integer arithmetic.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "modulo",
    description = "The remainder of a division operation of a number by the given operand.",
    parameters(ModuloArgs),
    parsed(ModuloFilter)
)]
pub(crate) struct Modulo;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "modulo"]
struct ModuloFilter {
    #[parameters]
    args: ModuloArgs,
}

impl Filter for ModuloFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        Operation::Modulo.apply(input, args.operand.as_view())
    }
}

/// `abs`: the absolute value of a number.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "abs",
    description = "Returns the absolute value of a number.",
    parsed(AbsFilter)
)]
pub(crate) struct Abs;

#[derive(Debug, Default, Display_filter)]
#[name = "abs"]
struct AbsFilter;

impl Filter for AbsFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        let input = input
            .as_scalar()
            .ok_or_else(|| invalid_input("Number expected"))?;
        if let Some(i) = input.to_integer() {
            return i
                .checked_abs()
                .map(Value::scalar)
                .ok_or_else(|| overflow("abs", format!("the absolute value of {i}")));
        }
        input
            .to_float()
            .map(|f| Value::scalar(f.abs()))
            .ok_or_else(|| invalid_input("Number expected"))
    }
}

/// The smallest float that is not an `i64`: 2^63, exactly representable.
const INTEGER_END: f64 = -(i64::MIN as f64);

/// Converts an already rounded float to an integer, or fails (for NaN, infinities and anything
/// past `i64`) where liquid-lib's `as i64` would clamp.
fn to_integer(filter: &str, rounded: f64, what: &str) -> Result<Value> {
    if (-INTEGER_END..INTEGER_END).contains(&rounded) {
        // In range and integral, so the cast is exact.
        Ok(Value::scalar(rounded as i64))
    } else {
        // `Debug` writes large floats with an exponent (`1e300`), where `Display` writes them out
        // in full.
        Err(overflow(filter, format!("{rounded:?} {what}")))
    }
}

/// Rounds a number with `rounding`, as liquid-lib's `ceil`, `floor` and `round` without decimal
/// places do: the input is read as a float and the result is an integer.
fn round_to_integer(
    filter: &str,
    input: &dyn ValueView,
    rounding: fn(f64) -> f64,
    what: &str,
) -> Result<Value> {
    let input = input
        .as_scalar()
        .ok_or_else(|| invalid_input("Number expected"))?;
    // An integer is already rounded; going through a float would lose its low digits.
    if let Some(i) = input.to_integer() {
        return Ok(Value::scalar(i));
    }
    let float = input
        .to_float()
        .ok_or_else(|| invalid_input("Number expected"))?;
    to_integer(filter, rounding(float), what)
}

#[derive(Debug, FilterParameters)]
struct RoundArgs {
    #[parameter(
        description = "Number of decimal places. Defaults to 0 (nearest integer).",
        arg_type = "integer"
    )]
    decimal_places: Option<Expression>,
}

/// `round`: to the nearest integer, or to a number of decimal places.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "round",
    description = "Rounds an input number to the nearest integer or, if a number is specified as an argument, to that number of decimal places.",
    parameters(RoundArgs),
    parsed(RoundFilter)
)]
pub(crate) struct Round;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "round"]
struct RoundFilter {
    #[parameters]
    args: RoundArgs,
}

impl Filter for RoundFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let places = args.decimal_places.unwrap_or(0);
        if places <= 0 {
            return round_to_integer("round", input, f64::round, "rounded");
        }
        let input = input
            .as_scalar()
            .and_then(|s| s.to_float())
            .ok_or_else(|| invalid_input("Number expected"))?;
        let places: i32 = places
            .try_into()
            .map_err(|_| invalid_input("decimal-places was too large"))?;
        let multiplier = 10.0_f64.powi(places);
        let scaled = input * multiplier;
        if input.is_finite() && !scaled.is_finite() {
            // The scale is finer than the float's own precision, so rounding changes nothing.
            return Ok(Value::scalar(input));
        }
        Ok(Value::scalar(scaled.round() / multiplier))
    }
}

/// `ceil`: rounds up to an integer.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "ceil",
    description = "Rounds the input up to the nearest whole number.",
    parsed(CeilFilter)
)]
pub(crate) struct Ceil;

#[derive(Debug, Default, Display_filter)]
#[name = "ceil"]
struct CeilFilter;

impl Filter for CeilFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        round_to_integer("ceil", input, f64::ceil, "rounded up")
    }
}

/// `floor`: rounds down to an integer.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "floor",
    description = "Rounds a number down to the nearest whole number.",
    parsed(FloorFilter)
)]
pub(crate) struct Floor;

#[derive(Debug, Default, Display_filter)]
#[name = "floor"]
struct FloorFilter;

impl Filter for FloorFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        round_to_integer("floor", input, f64::floor, "rounded down")
    }
}

#[cfg(test)]
mod tests {
    use liquid_core::parser::FilterArguments;
    use liquid_core::runtime::RuntimeBuilder;
    use liquid_core::{Expression, ParseFilter, Value};
    use liquid_lib::stdlib;

    use super::*;

    /// Applies a filter to `input` with literal arguments, and describes the outcome precisely:
    /// `Debug` tells an integer 3 from a float 3.0, which `Value`'s equality does not.
    fn outcome(filter: &dyn ParseFilter, input: &Value, args: &[Value]) -> String {
        let positional: Vec<Expression> = args.iter().cloned().map(Expression::Literal).collect();
        let arguments = FilterArguments {
            positional: Box::new(positional.into_iter()),
            keyword: Box::new(Vec::new().into_iter()),
        };
        let runtime = RuntimeBuilder::new().build();
        match filter
            .parse(arguments)
            .and_then(|parsed| parsed.evaluate(input, &runtime))
        {
            Ok(value) => format!("ok {value:?}"),
            Err(error) => format!("error {error}"),
        }
    }

    /// Numbers, strings of numbers and non-numbers; none of them overflows with another.
    fn values() -> Vec<Value> {
        let mut values: Vec<Value> = [0_i64, 1, -1, 2, 3, 7, -7, 1000]
            .into_iter()
            .map(Value::scalar)
            .collect();
        values.extend([0.0, -0.0, 0.1, 1.5, -2.25, 7.0, 2.5].map(Value::scalar));
        values.extend(["3", "-4", "2.5", "-19.86", "0", "abc", ""].map(Value::scalar));
        values.extend([
            Value::Nil,
            Value::scalar(true),
            Value::array([Value::scalar(1)]),
        ]);
        values
    }

    #[test]
    fn binary_filters_behave_as_liquid_libs_wherever_it_does_not_overflow() {
        let pairs: [(&dyn ParseFilter, &dyn ParseFilter); 5] = [
            (&Plus, &stdlib::Plus),
            (&Minus, &stdlib::Minus),
            (&Times, &stdlib::Times),
            (&DividedBy, &stdlib::DividedBy),
            (&Modulo, &stdlib::Modulo),
        ];
        for (ours, theirs) in pairs {
            for input in values() {
                for operand in values() {
                    let args = [operand.clone()];
                    assert_eq!(
                        outcome(ours, &input, &args),
                        outcome(theirs, &input, &args),
                        "{} of {input:?} and {operand:?}",
                        ours.reflection().name()
                    );
                }
                // Without its operand, the argument parser refuses the filter.
                assert_eq!(outcome(ours, &input, &[]), outcome(theirs, &input, &[]));
            }
        }
    }

    #[test]
    fn unary_filters_behave_as_liquid_libs_wherever_it_does_not_overflow() {
        let pairs: [(&dyn ParseFilter, &dyn ParseFilter); 4] = [
            (&Abs, &stdlib::Abs),
            (&Ceil, &stdlib::Ceil),
            (&Floor, &stdlib::Floor),
            (&Round, &stdlib::Round),
        ];
        for (ours, theirs) in pairs {
            for input in values() {
                assert_eq!(
                    outcome(ours, &input, &[]),
                    outcome(theirs, &input, &[]),
                    "{} of {input:?}",
                    ours.reflection().name()
                );
            }
        }
        for input in values() {
            for places in [-1_i64, 0, 1, 2, 5] {
                let args = [Value::scalar(places)];
                assert_eq!(
                    outcome(&Round, &input, &args),
                    outcome(&stdlib::Round, &input, &args),
                    "round of {input:?} to {places} places"
                );
            }
        }
    }
}
