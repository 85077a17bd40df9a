//! `date`: formats a moment with a strftime-style format, in UTC or a given time zone.
//!
//! Customer.io stores timestamps as unix seconds, which liquid-lib's `date` prints unchanged.
//! This filter replaces it and reads unix seconds, `"now"` (the render's injected time, never
//! the wall clock) and date strings: see [`super::moment`].
//! Anything else, nil included, passes through unchanged, as in liquid-lib.
//!
//! The optional second argument is an IANA time zone (`America/New_York`) or a UTC offset
//! (`+05:30`, `-0800`); an empty one (a missing attribute) means UTC.
//! Without it, numbers and `"now"` are shown in UTC and strings in their own offset.
//! Time zones come from the tz database compiled into the binary, so rendering reads no files.
//!
//! Formatting is liquid's own strftime, so the output matches liquid-lib's `date` wherever both
//! accept the input; padding wider than [`MAX_DATE_PADDING`] is refused, since `%999999999Y`
//! would otherwise allocate gigabytes.

use std::sync::LazyLock;

use jiff::tz::TimeZoneDatabase;
use liquid_core::model::DateTime;
use liquid_core::{
    Display_filter, Error, Expression, Filter, FilterParameters, FilterReflection,
    FromFilterParameters, ParseFilter, Result, Runtime, Value, ValueView,
};
use time::{OffsetDateTime, UtcOffset};

use super::moment::{Now, moment};
use crate::limits::MAX_DATE_PADDING;

/// The tz database embedded in the binary, loaded once.
static ZONES: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);

#[derive(Debug, FilterParameters)]
struct DateArgs {
    #[parameter(description = "The strftime-style format.", arg_type = "str")]
    format: Expression,
    #[parameter(
        description = "An IANA time zone name or a UTC offset such as +05:30; UTC when not given or empty.",
        arg_type = "str"
    )]
    timezone: Option<Expression>,
}

/// The `date` filter.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "date",
    description = "Formats unix seconds, \"now\" or a date string with a strftime-style format, in UTC or the given time zone.",
    parameters(DateArgs),
    parsed(DateFilter)
)]
pub(crate) struct Date;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "date"]
struct DateFilter {
    #[parameters]
    args: DateArgs,
}

impl Filter for DateFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let format = args.format.as_str();
        let Some(scalar) = input.as_scalar() else {
            return Ok(input.to_value());
        };
        if format.is_empty() {
            return Ok(input.to_value());
        }
        let now = runtime.registers().get_mut::<Now>().0;
        let Some(moment) = moment(&scalar, now)? else {
            return Ok(input.to_value());
        };
        let moment = match args.timezone.as_deref().map(str::trim) {
            // Shifting a moment at the edge of the supported years may leave them.
            Some(zone) if !zone.is_empty() => moment
                .checked_to_offset(offset_at(zone, moment)?)
                .ok_or_else(|| Error::with_msg("Date out of range"))?,
            _ => moment,
        };
        check_padding(format)?;

        let mut formatted = DateTime::default();
        *formatted = moment;
        let text = formatted
            .format(format)
            .map_err(|e| Error::with_msg(format!("Invalid date-format string: {format}: {e}")))?;
        Ok(Value::scalar(text))
    }
}

/// Returns the UTC offset that `zone` has at `moment`.
fn offset_at(zone: &str, moment: OffsetDateTime) -> Result<UtcOffset> {
    let seconds = match fixed_offset(zone) {
        Some(seconds) => seconds,
        None => {
            let tz = ZONES
                .get(zone)
                .map_err(|_| Error::with_msg(format!("Unknown time zone: {zone}")))?;
            let instant = jiff::Timestamp::from_second(moment.unix_timestamp())
                .map_err(|e| Error::with_msg(format!("Date out of range: {e}")))?;
            tz.to_offset(instant).seconds()
        }
    };
    UtcOffset::from_whole_seconds(seconds)
        .map_err(|_| Error::with_msg(format!("Unknown time zone: {zone}")))
}

/// Reads `+HH`, `+HHMM` or `+HH:MM` (or with `-`) as seconds east of UTC.
fn fixed_offset(zone: &str) -> Option<i32> {
    let (sign, rest) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    (hours <= 23 && minutes <= 59).then_some(sign * (hours * 3600 + minutes * 60))
}

/// Refuses padding widths (the digits after `%` and its flags) above [`MAX_DATE_PADDING`].
fn check_padding(format: &str) -> Result<()> {
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        while chars
            .next_if(|c| matches!(c, '-' | '_' | '0' | '^' | '#'))
            .is_some()
        {}
        let mut width: usize = 0;
        while let Some(digit) = chars.next_if(char::is_ascii_digit) {
            let digit = digit.to_digit(10).map_or(0, |d| d as usize);
            width = width.saturating_mul(10).saturating_add(digit);
            if width > MAX_DATE_PADDING {
                return Err(Error::with_msg(format!(
                    "Invalid date-format string: padding is wider than {MAX_DATE_PADDING}"
                )));
            }
        }
        // The specifier itself, `%` included, cannot start another directive.
        chars.next();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_offsets_are_read_with_or_without_a_colon() {
        assert_eq!(fixed_offset("+05:30"), Some(5 * 3600 + 30 * 60));
        assert_eq!(fixed_offset("-0800"), Some(-8 * 3600));
        assert_eq!(fixed_offset("+02"), Some(2 * 3600));
        assert_eq!(fixed_offset("+5"), None);
        assert_eq!(fixed_offset("+24:00"), None);
        assert_eq!(fixed_offset("Europe/Paris"), None);
    }

    #[test]
    fn padding_is_capped() {
        assert!(check_padding("%Y-%m-%d %-d %_10H %%").is_ok());
        assert!(check_padding("%064Y").is_ok());
        assert!(check_padding("%065Y").is_err());
        assert!(check_padding("%999999999999999999999Y").is_err());
    }
}
