//! The per-person attribute table, one column per top-level attribute key.
//!
//! A column holds, per person ordinal, the id of the person's value in the column's dictionary of
//! distinct values (0: the key is absent). An attribute filter is then evaluated once per
//! distinct value and the column is read sequentially, instead of looking into every person's
//! attribute map. A column with few distinct values (a plan, a country) also keeps the set of
//! people of each value, so that a filter is a union of a few sets and reads no column at all.
//! A column whose distinct values pass `MAX_DISTINCT` (ids, emails, timestamps) is dropped, and
//! filters on it read every person's map instead: exact, but at the speed of a scan.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::bitset::Bitset;
use crate::UnixSeconds;
use crate::definition::Filter;
use crate::filter::holds;

/// Beyond this many distinct values a column costs more than the scan it saves.
const MAX_DISTINCT: usize = 65_536;
/// Up to this many distinct values a column keeps a set of people per value: a bit per person
/// and value, 4 MiB per million people at most.
const MAX_SETS: usize = 32;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum Column {
    Values {
        /// Per ordinal; ordinals past the end have the key absent.
        values: Vec<u32>,
        /// Id `i` is the one-key object `{key: value}`; id 0 is the empty object.
        #[serde(with = "crate::json_text")]
        objects: Vec<Map<String, Value>>,
        ids: HashMap<Box<str>, u32>,
        /// The people of each value id (id 0 has none), while there are few values.
        sets: Option<Vec<Bitset>>,
    },
    TooManyValues,
}

impl Column {
    fn new() -> Self {
        Self::Values {
            values: Vec::new(),
            objects: vec![Map::new()],
            ids: HashMap::new(),
            sets: Some(vec![Bitset::new()]),
        }
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

/// What an attribute column says about a filter.
pub(super) enum Answer {
    /// The people for whom it holds, among the ordinals handed out (not limited to the living).
    People(Bitset),
    /// No column: the caller must look at every person.
    Unknown,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct AttributeColumns {
    columns: HashMap<String, Column>,
    /// How many living people have each top-level key (the data index's Attributes tab). Not
    /// in an image: counted again from the people on first use after one is read, so that
    /// images written before it existed still load.
    #[serde(skip)]
    people_with: Option<HashMap<String, usize>>,
}

impl AttributeColumns {
    /// Records a person's attributes: `old` is what the column held for them before, if anything.
    pub fn set(
        &mut self,
        ordinal: u32,
        old: Option<&Map<String, Value>>,
        new: &Map<String, Value>,
    ) {
        if let Some(counts) = &mut self.people_with {
            for key in old.into_iter().flat_map(Map::keys) {
                if !new.contains_key(key) {
                    decrement(counts, key);
                }
            }
            for key in new.keys() {
                if !old.is_some_and(|old| old.contains_key(key)) {
                    *counts.entry(key.clone()).or_insert(0) += 1;
                }
            }
        }
        for key in old.into_iter().flat_map(Map::keys) {
            if !new.contains_key(key) {
                self.put(key, ordinal, None);
            }
        }
        for (key, value) in new {
            self.put(key, ordinal, Some(value));
        }
    }

    /// Stops counting a person who is gone (deleted, merged away, or reloaded under a new
    /// ordinal); their column values die with their ordinal.
    pub fn forget(&mut self, attributes: &Map<String, Value>) {
        if let Some(counts) = &mut self.people_with {
            for key in attributes.keys() {
                decrement(counts, key);
            }
        }
    }

    /// How many living people have each top-level key. `everyone` lists the living people's
    /// attributes; it is read only the first time after an image was loaded.
    pub fn people_with<'a>(
        &mut self,
        everyone: impl Iterator<Item = &'a Map<String, Value>>,
    ) -> &HashMap<String, usize> {
        self.people_with.get_or_insert_with(|| {
            let mut counts = HashMap::new();
            for attributes in everyone {
                for key in attributes.keys() {
                    *counts.entry(key.clone()).or_insert(0) += 1;
                }
            }
            counts
        })
    }

    fn put(&mut self, key: &str, ordinal: u32, value: Option<&Value>) {
        if value.is_none() && !self.columns.contains_key(key) {
            return;
        }
        let column = self
            .columns
            .entry(key.to_owned())
            .or_insert_with(Column::new);
        let Column::Values {
            values,
            objects,
            ids,
            sets,
        } = column
        else {
            return;
        };
        let id = match value {
            None => 0,
            Some(value) => {
                let text = serde_json::to_string(value).unwrap_or_default();
                match ids.get(text.as_str()) {
                    Some(id) => *id,
                    None => {
                        if objects.len() >= MAX_DISTINCT {
                            *column = Column::TooManyValues;
                            return;
                        }
                        let id = objects.len() as u32;
                        let mut object = Map::new();
                        object.insert(key.to_owned(), value.clone());
                        objects.push(object);
                        ids.insert(text.into_boxed_str(), id);
                        if objects.len() > MAX_SETS {
                            *sets = None;
                        } else if let Some(sets) = sets {
                            sets.push(Bitset::new());
                        }
                        id
                    }
                }
            }
        };
        let index = ordinal as usize;
        let old = values.get(index).copied().unwrap_or(0);
        if let Some(sets) = sets {
            sets[old as usize].remove(ordinal);
            if id != 0 {
                sets[id as usize].insert(ordinal);
            }
        }
        if values.len() <= index {
            if id == 0 {
                return;
            }
            values.resize(index + 1, 0);
        }
        values[index] = id;
    }

    /// Evaluates a filter for every ordinal below `ordinals` from the columns, if they can.
    pub fn evaluate(&self, filter: &Filter, ordinals: usize, now: UnixSeconds) -> Answer {
        let Some(key) = filter.path.first() else {
            return Answer::Unknown;
        };
        let absent = holds(filter, &Map::new(), now);
        match self.columns.get(key) {
            // Nobody ever had the key: the filter sees it missing for everyone.
            None => Answer::People(if absent {
                Bitset::full(ordinals)
            } else {
                Bitset::new()
            }),
            Some(Column::TooManyValues) => Answer::Unknown,
            Some(Column::Values {
                values,
                objects,
                sets,
                ..
            }) => {
                // A filter on `plan.tier` looks only below `plan`, so the one-key object answers
                // it exactly as the person's whole map would.
                let accepts: Vec<u64> = objects
                    .iter()
                    .map(|o| u64::from(holds(filter, o, now)))
                    .collect();
                let Some(sets) = sets else {
                    return Answer::People(Bitset::from_column(values, &accepts, ordinals));
                };
                // The people of the accepted values; or, when people without the key pass,
                // everyone but the people of the rejected values.
                let absent_passes = accepts[0] == 1;
                let mut people = if absent_passes {
                    Bitset::full(ordinals)
                } else {
                    Bitset::new()
                };
                for (id, set) in sets.iter().enumerate().skip(1) {
                    match (absent_passes, accepts[id] == 1) {
                        (false, true) => people.union_with(set),
                        (true, false) => people.difference_with(set),
                        _ => {}
                    }
                }
                Answer::People(people)
            }
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
        match columns.evaluate(&filter, ordinals, 0) {
            Answer::People(set) => set.iter().collect(),
            Answer::Unknown => panic!("no column"),
        }
    }

    #[test]
    fn columns_answer_like_the_maps() {
        let mut columns = AttributeColumns::default();
        columns.set(0, None, &attributes(json!({"plan": "pro", "n": 3})));
        columns.set(1, None, &attributes(json!({"plan": {"tier": "pro"}})));
        columns.set(2, None, &attributes(json!({"plan": "free"})));
        let old = attributes(json!({"plan": "free"}));
        columns.set(2, Some(&old), &attributes(json!({"n": "4"})));
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
    }

    #[test]
    fn columns_with_many_values_answer_without_sets() {
        let mut columns = AttributeColumns::default();
        for ordinal in 0..100_u32 {
            columns.set(ordinal, None, &attributes(json!({"n": ordinal})));
        }
        let old = attributes(json!({"n": 7}));
        columns.set(7, Some(&old), &attributes(json!({"n": 3})));
        assert_eq!(
            people(&columns, json!({"field": "n", "op": "eq", "value": 3}), 101),
            vec![3, 7]
        );
        assert_eq!(
            people(&columns, json!({"field": "n", "op": "not_exists"}), 101),
            vec![100]
        );
    }

    #[test]
    fn a_column_with_too_many_values_gives_up() {
        let mut columns = AttributeColumns::default();
        for ordinal in 0..=MAX_DISTINCT as u32 {
            columns.set(ordinal, None, &attributes(json!({"id": ordinal})));
        }
        let filter = parse_filter(&json!({"field": "id", "op": "eq", "value": 1}), "f").unwrap();
        assert!(matches!(columns.evaluate(&filter, 10, 0), Answer::Unknown));
    }
}
