//! An attribute column that holds each person's value itself, for a key with too many distinct
//! values for a dictionary (ids, emails, timestamps). Integers are kept as `i64` and strings as
//! boxed text, 8 and 16 bytes a person where a JSON value takes 32; a column that meets any
//! other value keeps JSON values from then on.

use std::borrow::Cow;

use serde_json::Value;

use super::bitset::Bitset;

/// An integer column's mark for an absent key; the integer itself goes to a column of values.
const ABSENT: i64 = i64::MIN;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) enum Plain {
    /// Per ordinal; `ABSENT` where the key is absent.
    Integers(Vec<i64>),
    Texts(Vec<Option<Box<str>>>),
    Values(#[serde(with = "values_image")] Vec<Option<Value>>),
}

/// The value as a column of integers keeps it, if it can: exactly, so that the value read back
/// equals the one stored (a float stays a float).
fn integer(value: &Value) -> Option<i64> {
    value.as_i64().filter(|integer| *integer != ABSENT)
}

impl Plain {
    /// A column of the given values by ordinal (`None`: absent), of the narrowest kind that
    /// holds them all.
    pub fn new<'v>(values: impl Iterator<Item = Option<&'v Value>>) -> Self {
        let values: Vec<Option<&Value>> = values.collect();
        let present = || values.iter().flatten();
        if present().all(|value| integer(value).is_some()) {
            return Self::Integers(
                values
                    .iter()
                    .map(|value| value.and_then(integer).unwrap_or(ABSENT))
                    .collect(),
            );
        }
        if present().all(|value| value.is_string()) {
            return Self::Texts(
                values
                    .iter()
                    .map(|value| value.and_then(Value::as_str).map(Box::from))
                    .collect(),
            );
        }
        Self::Values(values.into_iter().map(|value| value.cloned()).collect())
    }

    pub fn get(&self, ordinal: u32) -> Option<Cow<'_, Value>> {
        let index = ordinal as usize;
        match self {
            Self::Integers(values) => {
                let value = *values.get(index)?;
                (value != ABSENT).then(|| Cow::Owned(Value::from(value)))
            }
            Self::Texts(values) => values
                .get(index)?
                .as_deref()
                .map(|text| Cow::Owned(Value::from(text))),
            Self::Values(values) => values.get(index)?.as_ref().map(Cow::Borrowed),
        }
    }

    /// Sets or clears one person's value; returns whether the key was present before.
    pub fn put(&mut self, ordinal: u32, value: Option<&Value>) -> bool {
        let index = ordinal as usize;
        match self {
            Self::Integers(values) => match value.map(integer) {
                Some(None) => {
                    self.widen();
                    self.put(ordinal, value)
                }
                value => set(values, index, value.flatten().unwrap_or(ABSENT), ABSENT) != ABSENT,
            },
            Self::Texts(values) => match value.map(Value::as_str) {
                Some(None) => {
                    self.widen();
                    self.put(ordinal, value)
                }
                value => set(values, index, value.flatten().map(Box::from), None).is_some(),
            },
            Self::Values(values) => set(values, index, value.cloned(), None).is_some(),
        }
    }

    /// Turns the column into one of JSON values, which holds any value.
    fn widen(&mut self) {
        let values = (0..self.len())
            .map(|ordinal| self.get(ordinal as u32).map(Cow::into_owned))
            .collect();
        *self = Self::Values(values);
    }

    fn len(&self) -> usize {
        match self {
            Self::Integers(values) => values.len(),
            Self::Texts(values) => values.len(),
            Self::Values(values) => values.len(),
        }
    }

    /// The ordinals below `ordinals` whose value (`None`: absent) `accepts`.
    pub fn select(&self, ordinals: usize, accepts: impl Fn(Option<&Value>) -> bool) -> Bitset {
        let absent_passes = accepts(None);
        let mut people = Bitset::with_capacity(ordinals);
        for ordinal in 0..ordinals {
            let passes = match self {
                Self::Integers(values) => match values.get(ordinal) {
                    Some(value) if *value != ABSENT => accepts(Some(&Value::from(*value))),
                    _ => absent_passes,
                },
                Self::Texts(values) => match values.get(ordinal).and_then(Option::as_deref) {
                    Some(text) => accepts(Some(&Value::from(text))),
                    None => absent_passes,
                },
                Self::Values(values) => match values.get(ordinal) {
                    Some(value) => accepts(value.as_ref()),
                    None => absent_passes,
                },
            };
            if passes {
                people.insert(ordinal as u32);
            }
        }
        people
    }
}

/// Stores `value` at `index`, growing the column with `absent` only for a present value;
/// returns what was there.
fn set<T: Clone + PartialEq>(values: &mut Vec<T>, index: usize, value: T, absent: T) -> T {
    if values.len() <= index {
        if value == absent {
            return absent;
        }
        values.resize(index + 1, absent);
    }
    std::mem::replace(&mut values[index], value)
}

/// What an image keeps of a column of JSON values: its length and the present values by
/// ordinal, as JSON text, since a present null and an absent key must stay apart.
mod values_image {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::Value;

    #[derive(Serialize, Deserialize)]
    struct Image {
        len: usize,
        #[serde(with = "crate::json_text")]
        present: Vec<(usize, Value)>,
    }

    pub fn serialize<S: Serializer>(
        values: &[Option<Value>],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let present = values
            .iter()
            .enumerate()
            .filter_map(|(ordinal, value)| Some((ordinal, value.clone()?)))
            .collect();
        Image {
            len: values.len(),
            present,
        }
        .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Option<Value>>, D::Error> {
        let image = Image::deserialize(deserializer)?;
        let mut values = vec![None; image.len];
        for (ordinal, value) in image.present {
            let slot = values
                .get_mut(ordinal)
                .ok_or_else(|| serde::de::Error::custom("a value past the column's end"))?;
            *slot = Some(value);
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(plain: &Plain, ordinals: u32) -> Vec<Option<Value>> {
        (0..ordinals)
            .map(|ordinal| plain.get(ordinal).map(Cow::into_owned))
            .collect()
    }

    /// Each kind gives back exactly what was stored, and widens when a value it cannot hold
    /// arrives, keeping what it held.
    #[test]
    fn columns_give_back_what_they_hold_and_widen() {
        let stored = [json!(5), json!(-3), json!("u1"), json!(2.0), json!(null)];
        let mut integers = Plain::new([Some(&stored[0]), None, Some(&stored[1])].into_iter());
        assert!(matches!(integers, Plain::Integers(_)));
        assert!(!integers.put(4, Some(&stored[0])));
        assert!(integers.put(4, None));
        assert_eq!(
            read(&integers, 5),
            vec![Some(json!(5)), None, Some(json!(-3)), None, None]
        );
        for (ordinal, value) in stored.iter().enumerate().skip(2) {
            integers.put(ordinal as u32 + 3, Some(value));
        }
        assert!(matches!(integers, Plain::Values(_)));
        assert_eq!(
            read(&integers, 8),
            vec![
                Some(json!(5)),
                None,
                Some(json!(-3)),
                None,
                None,
                Some(json!("u1")),
                Some(json!(2.0)),
                Some(json!(null))
            ]
        );
        let mut texts = Plain::new([Some(&stored[2]), None].into_iter());
        assert!(matches!(texts, Plain::Texts(_)));
        assert!(texts.put(0, Some(&json!("u2"))));
        texts.put(1, Some(&json!(7)));
        assert!(matches!(texts, Plain::Values(_)));
        assert_eq!(read(&texts, 2), vec![Some(json!("u2")), Some(json!(7))]);
        assert_eq!(
            Plain::new([Some(&json!(i64::MIN))].into_iter()).get(0),
            Some(Cow::Owned(json!(i64::MIN)))
        );
    }
}
