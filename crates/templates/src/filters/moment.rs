//! Reading a value as a moment in time, for the `date` filter.
//!
//! Accepted, in order:
//! whole numbers and numeric strings as unix seconds (fractions are truncated);
//! `"now"` and `"today"` as the render's injected time (never the wall clock);
//! RFC 3339 strings (`2024-03-05T10:00:00Z`);
//! the strings liquid-lib's `date` reads (`2024-03-05 10:00:00 +0000`, `5 March 2024 10:00:00`, …),
//! in UTC when they carry no offset;
//! and plain dates (`2024-03-05`, `5 March 2024`) as midnight UTC.
//!
//! liquid's own string parser compiles a regex on every call (about 40 µs), so its formats are
//! repeated here.

use liquid_core::model::{DateTime, ScalarCow};
use liquid_core::{Error, Result, ValueView};
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The render's current time in unix seconds, put into the runtime's registers by the renderer.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Now(pub(crate) Option<i64>);

/// The date-time formats of liquid-core 0.26's `DateTime::from_str`, offset included.
const LIQUID_DATE_TIMES: &[&[BorrowedFormatItem<'static>]] = &[
    format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
    ),
    format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond] [offset_hour sign:mandatory][offset_minute]"
    ),
    format_description!(
        "[day] [month repr:long] [year] [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
    ),
    format_description!(
        "[day] [month repr:short] [year] [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
    ),
    format_description!(
        "[month]/[day]/[year] [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
    ),
    format_description!(
        "[weekday repr:short] [month repr:short] [day padding:none] [hour]:[minute]:[second] [year] [offset_hour sign:mandatory][offset_minute]"
    ),
];

/// Reads a scalar as a moment, or `None` when it is not one.
pub(crate) fn moment(scalar: &ScalarCow<'_>, now: Option<i64>) -> Result<Option<OffsetDateTime>> {
    let seconds = match scalar.type_name() {
        "whole number" => scalar.to_integer(),
        "fractional number" => scalar.to_float().map(|f| f.trunc() as i64),
        "date time" => return Ok(scalar.to_date_time().map(|dt| *dt)),
        "date" => {
            return Ok(scalar.to_date().map(|d| *DateTime::default().with_date(d)));
        }
        "string" => return from_string(&scalar.to_kstr(), now),
        _ => None,
    };
    Ok(seconds.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()))
}

fn from_string(text: &str, now: Option<i64>) -> Result<Option<OffsetDateTime>> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") || text.eq_ignore_ascii_case("today") {
        // liquid-lib would read the wall clock here; a render must only know the time it is given.
        let now = now.ok_or_else(|| Error::with_msg("no current time was given to the render"))?;
        return Ok(OffsetDateTime::from_unix_timestamp(now).ok());
    }
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(OffsetDateTime::from_unix_timestamp(seconds).ok());
    }
    if let Ok(moment) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(Some(moment));
    }
    let with_offset = if has_offset(text) {
        text.to_owned()
    } else {
        format!("{text} +0000")
    };
    if let Some(moment) = LIQUID_DATE_TIMES
        .iter()
        .find_map(|format| OffsetDateTime::parse(&with_offset, format).ok())
    {
        return Ok(Some(moment));
    }
    Ok(liquid_core::model::Date::from_str(text)
        .map(|d| PrimitiveDateTime::new(*d, time::Time::MIDNIGHT).assume_utc()))
}

/// Whether `text` ends with a `+HHMM` or `-HHMM` offset, as liquid checks it.
fn has_offset(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some(tail) = bytes.len().checked_sub(5).map(|start| &bytes[start..]) else {
        return false;
    };
    matches!(tail[0], b'+' | b'-')
        && matches!(tail[1], b'0' | b'1')
        && tail[2..].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Option<i64> {
        moment(&ScalarCow::new(text), Some(42))
            .unwrap()
            .map(OffsetDateTime::unix_timestamp)
    }

    #[test]
    fn liquids_formats_are_read_with_and_without_an_offset() {
        let expected = Some(1_709_632_800);
        assert_eq!(read("2024-03-05 10:00:00 +0000"), expected);
        assert_eq!(read("2024-03-05 12:00:00 +0200"), expected);
        assert_eq!(read("2024-03-05 10:00:00"), expected);
        assert_eq!(read("05 March 2024 10:00:00"), expected);
        assert_eq!(read("05 Mar 2024 10:00:00 +0000"), expected);
        assert_eq!(read("03/05/2024 10:00:00"), expected);
        assert_eq!(read("Tue Mar 5 10:00:00 2024 +0000"), expected);
        assert_eq!(read("2024-03-05T10:00:00Z"), expected);
        assert_eq!(read("1709632800"), expected);
        assert_eq!(read(" now "), Some(42));
        assert_eq!(read("05 March 2024"), Some(1_709_596_800));
        assert_eq!(read("tomorrow"), None);
    }
}
