//! People's attributes, one column per top-level key: the only place the engine keeps them.
//!
//! A person's attributes are a row across the columns at their ordinal; there is no map per
//! person. A per-person map of JSON values cost about a kilobyte for four attributes (the
//! benchmark's person: an id, a plan, a country and a creation time), most of the engine's
//! memory per person, and every build read the columns anyway.
//!
//! A column with few distinct values (a plan, a country) holds, per ordinal, the id of the
//! person's value in the column's dictionary (0: the key is absent), so that a filter is
//! evaluated once per distinct value and the column is read a word of people at a time; while
//! it has very few values it also keeps the set of people of each, so that a filter is a union
//! of a few sets. A column whose distinct values pass `MAX_DISTINCT` (ids, emails, timestamps)
//! holds each person's value itself instead (`plain.rs`), and a filter on it looks at each.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::bitset::Bitset;
use super::plain::Plain;
use crate::UnixSeconds;
use crate::definition::Filter;
use crate::filter::{holds_on, lookup_below};

/// Beyond this many distinct values a dictionary costs more than it saves.
const MAX_DISTINCT: usize = 65_536;
/// Up to this many distinct values a column keeps a set of people per value: a bit per person
/// and value, 4 MiB per million people at most.
const MAX_SETS: usize = 32;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum Column {
    Dictionary {
        /// Per ordinal; ordinals past the end have the key absent.
        values: Vec<u32>,
        /// Id `i > 0` is a value; id 0 stands for the key being absent and is never read.
        #[serde(with = "crate::json_text")]
        dictionary: Vec<Value>,
        /// Ids by the value's JSON text.
        ids: HashMap<Box<str>, u32>,
        /// The people of each value id (id 0 has none), while there are few values.
        sets: Option<Vec<Bitset>>,
    },
    Plain(Plain),
}

impl Column {
    fn new() -> Self {
        Self::Dictionary {
            values: Vec::new(),
            dictionary: vec![Value::Null],
            ids: HashMap::new(),
            sets: Some(vec![Bitset::new()]),
        }
    }

    fn get(&self, ordinal: u32) -> Option<Cow<'_, Value>> {
        match self {
            Self::Dictionary {
                values, dictionary, ..
            } => match values.get(ordinal as usize).copied().unwrap_or(0) {
                0 => None,
                id => dictionary.get(id as usize).map(Cow::Borrowed),
            },
            Self::Plain(plain) => plain.get(ordinal),
        }
    }

    /// Sets or clears one person's value; returns whether the key was present before.
    fn put(&mut self, ordinal: u32, value: Option<&Value>) -> bool {
        let index = ordinal as usize;
        if let Self::Plain(plain) = self {
            return plain.put(ordinal, value);
        }
        let id = match value {
            None => 0,
            Some(value) => match self.intern(value) {
                Some(id) => id,
                None => {
                    self.make_plain();
                    return self.put(ordinal, Some(value));
                }
            },
        };
        let Self::Dictionary { values, sets, .. } = self else {
            return false;
        };
        let old = values.get(index).copied().unwrap_or(0);
        if let Some(sets) = sets {
            sets[old as usize].remove(ordinal);
            if id != 0 {
                sets[id as usize].insert(ordinal);
            }
        }
        if values.len() <= index {
            if id == 0 {
                return false;
            }
            values.resize(index + 1, 0);
        }
        values[index] = id;
        old != 0
    }

    /// A value's id in the dictionary, added if new; `None` when the dictionary is full (or
    /// the column is plain).
    fn intern(&mut self, value: &Value) -> Option<u32> {
        let Self::Dictionary {
            dictionary,
            ids,
            sets,
            ..
        } = self
        else {
            return None;
        };
        let text = serde_json::to_string(value).unwrap_or_default();
        if let Some(id) = ids.get(text.as_str()) {
            return Some(*id);
        }
        if dictionary.len() > MAX_DISTINCT {
            return None;
        }
        let id = dictionary.len() as u32;
        dictionary.push(value.clone());
        ids.insert(text.into_boxed_str(), id);
        if dictionary.len() > MAX_SETS + 1 {
            *sets = None;
        } else if let Some(sets) = sets {
            sets.push(Bitset::new());
        }
        Some(id)
    }

    /// Turns a dictionary that grew too large into a plain column.
    fn make_plain(&mut self) {
        if let Self::Dictionary {
            values, dictionary, ..
        } = self
        {
            let plain = Plain::new(
                values
                    .iter()
                    .map(|id| (*id != 0).then(|| &dictionary[*id as usize])),
            );
            *self = Self::Plain(plain);
        }
    }

    /// The ordinals below `ordinals` whose value (`None`: absent) `accepts`.
    fn select(&self, ordinals: usize, accepts: impl Fn(Option<&Value>) -> bool) -> Bitset {
        match self {
            Self::Dictionary {
                values,
                dictionary,
                sets,
                ..
            } => {
                let accepted: Vec<u64> = dictionary
                    .iter()
                    .enumerate()
                    .map(|(id, value)| u64::from(accepts((id != 0).then_some(value))))
                    .collect();
                let Some(sets) = sets else {
                    return Bitset::from_column(values, &accepted, ordinals);
                };
                // The people of the accepted values; or, when people without the key pass,
                // everyone but the people of the rejected values.
                let absent_passes = accepted[0] == 1;
                let mut people = if absent_passes {
                    Bitset::full(ordinals)
                } else {
                    Bitset::new()
                };
                for (id, set) in sets.iter().enumerate().skip(1) {
                    match (absent_passes, accepted[id] == 1) {
                        (false, true) => people.union_with(set),
                        (true, false) => people.difference_with(set),
                        _ => {}
                    }
                }
                people
            }
            Self::Plain(plain) => plain.select(ordinals, accepts),
        }
    }
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct AttributeColumns {
    columns: HashMap<String, Column>,
    /// How many people have each top-level key (the data index's Attributes tab): a person
    /// who is gone has their values cleared, so this counts the living.
    people_with: HashMap<String, usize>,
}

impl AttributeColumns {
    /// Replaces a person's attributes.
    pub fn set(&mut self, ordinal: u32, attributes: &Map<String, Value>) {
        for (key, column) in &mut self.columns {
            if !attributes.contains_key(key) && column.put(ordinal, None) {
                decrement(&mut self.people_with, key);
            }
        }
        for (key, value) in attributes {
            let column = match self.columns.get_mut(key) {
                Some(column) => column,
                None => self.columns.entry(key.clone()).or_insert_with(Column::new),
            };
            if !column.put(ordinal, Some(value)) {
                match self.people_with.get_mut(key) {
                    Some(count) => *count += 1,
                    None => {
                        self.people_with.insert(key.clone(), 1);
                    }
                }
            }
        }
    }

    /// Clears the attributes of a person who is gone (deleted, merged away, or reloaded under
    /// a new ordinal).
    pub fn forget(&mut self, ordinal: u32) {
        for (key, column) in &mut self.columns {
            if column.put(ordinal, None) {
                decrement(&mut self.people_with, key);
            }
        }
    }

    /// A person's value of a top-level key.
    pub fn get(&self, ordinal: u32, key: &str) -> Option<Cow<'_, Value>> {
        self.columns.get(key)?.get(ordinal)
    }

    /// A person's value at a dotted path.
    pub fn lookup(&self, ordinal: u32, path: &[String]) -> Option<Cow<'_, Value>> {
        let (first, rest) = path.split_first()?;
        match self.get(ordinal, first)? {
            Cow::Borrowed(value) => lookup_below(value, rest).map(Cow::Borrowed),
            Cow::Owned(value) => lookup_below(&value, rest).cloned().map(Cow::Owned),
        }
    }

    /// A person's attributes as one map, keys in order.
    pub fn person(&self, ordinal: u32) -> Map<String, Value> {
        let mut keys: Vec<&String> = self.columns.keys().collect();
        keys.sort();
        keys.into_iter()
            .filter_map(|key| Some((key.clone(), self.get(ordinal, key)?.into_owned())))
            .collect()
    }

    /// How many living people have each top-level key.
    pub fn people_with(&self) -> &HashMap<String, usize> {
        &self.people_with
    }

    /// The ordinals below `ordinals` whose value of `key` (`None`: absent) `accepts`; not
    /// limited to the living.
    pub fn select(
        &self,
        key: &str,
        ordinals: usize,
        accepts: impl Fn(Option<&Value>) -> bool,
    ) -> Bitset {
        match self.columns.get(key) {
            Some(column) => column.select(ordinals, accepts),
            // Nobody ever had the key: everyone has it absent.
            None if accepts(None) => Bitset::full(ordinals),
            None => Bitset::new(),
        }
    }

    /// The ordinals below `ordinals` for whom a filter holds; not limited to the living.
    pub fn evaluate(&self, filter: &Filter, ordinals: usize, now: UnixSeconds) -> Bitset {
        let Some((key, rest)) = filter.path.split_first() else {
            return Bitset::new();
        };
        // A filter on `plan.tier` looks only below `plan`.
        self.select(key, ordinals, |value| {
            holds_on(
                filter,
                value.and_then(|value| lookup_below(value, rest)),
                now,
            )
        })
    }
}

fn decrement(counts: &mut HashMap<String, usize>, key: &str) {
    if let Some(count) = counts.get_mut(key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::definition::parse_filter;

    fn attributes(value: serde_json::Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn people(columns: &AttributeColumns, filter: serde_json::Value, ordinals: usize) -> Vec<u32> {
        let filter = parse_filter(&filter, "f").unwrap();
        columns.evaluate(&filter, ordinals, 0).iter().collect()
    }

    #[test]
    fn columns_answer_like_the_maps() {
        let mut columns = AttributeColumns::default();
        columns.set(0, &attributes(json!({"plan": "pro", "n": 3})));
        columns.set(1, &attributes(json!({"plan": {"tier": "pro"}})));
        columns.set(2, &attributes(json!({"plan": "free"})));
        columns.set(2, &attributes(json!({"n": "4"})));
        assert_eq!(
            people(
                &columns,
                json!({"field": "plan", "op": "eq", "value": "pro"}),
                4
            ),
            vec![0]
        );
        assert_eq!(
            people(
                &columns,
                json!({"field": "plan.tier", "op": "eq", "value": "pro"}),
                4
            ),
            vec![1]
        );
        assert_eq!(
            people(&columns, json!({"field": "plan", "op": "not_exists"}), 4),
            vec![2, 3]
        );
        assert_eq!(
            people(&columns, json!({"field": "n", "op": "gt", "value": 3}), 4),
            vec![2]
        );
        assert_eq!(
            people(
                &columns,
                json!({"field": "never", "op": "neq", "value": 1}),
                3
            ),
            vec![0, 1, 2]
        );
        assert_eq!(columns.person(2), attributes(json!({"n": "4"})));
        assert_eq!(
            columns.lookup(1, &["plan".into(), "tier".into()]),
            Some(Cow::Borrowed(&json!("pro")))
        );
        assert_eq!(columns.people_with().get("plan"), Some(&2));
        assert_eq!(columns.people_with().get("n"), Some(&2));
    }

    #[test]
    fn columns_with_many_values_answer_without_sets() {
        let mut columns = AttributeColumns::default();
        for ordinal in 0..100_u32 {
            columns.set(ordinal, &attributes(json!({"n": ordinal})));
        }
        columns.set(7, &attributes(json!({"n": 3})));
        assert_eq!(
            people(&columns, json!({"field": "n", "op": "eq", "value": 3}), 101),
            vec![3, 7]
        );
        assert_eq!(
            people(&columns, json!({"field": "n", "op": "not_exists"}), 101),
            vec![100]
        );
    }

    /// Past `MAX_DISTINCT` values a column holds each person's value; it answers as before,
    /// forgets the gone, and keeps an explicit null apart from an absent key through an image.
    #[test]
    fn a_column_with_too_many_values_holds_them_plainly() {
        let mut columns = AttributeColumns::default();
        let people_count = MAX_DISTINCT as u32 + 10;
        for ordinal in 0..people_count {
            columns.set(ordinal, &attributes(json!({"id": ordinal, "plan": "pro"})));
        }
        assert!(matches!(columns.columns["id"], Column::Plain(_)));
        columns.set(5, &attributes(json!({"id": null})));
        columns.forget(6);
        let ordinals = people_count as usize + 1;
        assert_eq!(
            people(
                &columns,
                json!({"field": "id", "op": "eq", "value": 1}),
                ordinals
            ),
            vec![1]
        );
        assert_eq!(
            people(
                &columns,
                json!({"field": "id", "op": "gt", "value": 65_540}),
                ordinals
            ),
            (65_541..people_count).collect::<Vec<_>>()
        );
        assert_eq!(
            people(
                &columns,
                json!({"field": "id", "op": "not_exists"}),
                ordinals
            ),
            vec![5, 6, people_count]
        );
        assert_eq!(
            columns.people_with().get("id"),
            Some(&(people_count as usize - 1))
        );
        assert_eq!(
            columns.people_with().get("plan"),
            Some(&(people_count as usize - 2))
        );
        let image = postcard::to_allocvec(&columns).unwrap();
        let read: AttributeColumns = postcard::from_bytes(&image).unwrap();
        assert_eq!(read.get(5, "id").as_deref(), Some(&Value::Null));
        assert_eq!(read.get(6, "id"), None);
        assert_eq!(read.get(65_541, "id").as_deref(), Some(&json!(65_541)));
        assert_eq!(read.people_with(), columns.people_with());
    }
}
