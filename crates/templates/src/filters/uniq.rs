//! `uniq`, with liquid-lib's results in a time that does not grow with the square of the list.
//!
//! liquid-lib compares each item with every item kept before it, so a list of 30,000 strings
//! (a `split` of a 170 KB value) took 20 seconds of CPU. Liquid's equality is not an ordinary
//! one (a boolean equals every value of the same truthiness, a whole number equals the same
//! fractional one), so a set serves only lists of one kind where it is plain: all strings, or
//! all whole numbers. Other lists keep the item-by-item comparison, up to a length where it
//! stays quick.

use std::collections::HashSet;

use liquid_core::model::ValueViewCmp;
use liquid_core::{
    Display_filter, Error, Filter, FilterReflection, ParseFilter, Result, Runtime, Value, ValueView,
};

/// The longest list of mixed kinds `uniq` takes: 2,000 items are 2 million comparisons at most.
const MAX_MIXED_ITEMS: usize = 2_000;

/// `uniq`: the list without repeated items, each kept where it first appears.
#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "uniq",
    description = "Removes any duplicate instances of elements in an array.",
    parsed(UniqFilter)
)]
pub(crate) struct Uniq;

#[derive(Debug, Default, Display_filter)]
#[name = "uniq"]
struct UniqFilter;

impl Filter for UniqFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        let array = input
            .as_array()
            .ok_or_else(|| Error::with_msg("Invalid input").context("cause", "Array expected"))?;
        let items: Vec<&dyn ValueView> = array.values().collect();
        let kind = |name: &str| items.iter().all(|item| item.type_name() == name);
        if kind("string") {
            let mut seen = HashSet::with_capacity(items.len());
            return Ok(Value::array(
                items
                    .into_iter()
                    .filter(|item| seen.insert(item.to_kstr().into_owned()))
                    .map(|item| item.to_value()),
            ));
        }
        if kind("whole number") {
            let mut seen = HashSet::with_capacity(items.len());
            return Ok(Value::array(
                items
                    .into_iter()
                    .filter(|item| {
                        seen.insert(item.as_scalar().and_then(|scalar| scalar.to_integer()))
                    })
                    .map(|item| item.to_value()),
            ));
        }
        if items.len() > MAX_MIXED_ITEMS {
            return Err(Error::with_msg(format!(
                "uniq takes at most {MAX_MIXED_ITEMS} items unless they are all strings or all whole numbers; this list has {}",
                items.len()
            )));
        }
        let mut kept: Vec<&dyn ValueView> = Vec::with_capacity(items.len());
        for item in items {
            if !kept
                .iter()
                .any(|other| ValueViewCmp::new(*other) == ValueViewCmp::new(item))
            {
                kept.push(item);
            }
        }
        Ok(Value::array(kept.into_iter().map(|item| item.to_value())))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::Templates;

    fn render(source: &str, globals: &Value) -> Result<String, String> {
        let templates = Templates::default();
        let template = templates
            .compile(source)
            .map_err(|error| error.to_string())?;
        template
            .render(globals, 0)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn uniq_keeps_each_first_occurrence_as_liquid_compares() {
        let none = json!({});
        assert_eq!(
            render("{{ 'b,a,b,c,a' | split: ',' | uniq | join: ',' }}", &none).unwrap(),
            "b,a,c"
        );
        let numbers = json!({"list": [3, 1, 3, 2, 1]});
        assert_eq!(
            render("{{ list | uniq | join: ',' }}", &numbers).unwrap(),
            "3,1,2"
        );
        // A whole number equals the same fractional one (not the string), `true` every value
        // but false and nil, and nil equals false: the first of each stays, as liquid-lib
        // keeps it.
        let mixed = json!({"list": [1, 1.0, "1", 2, true, "x", false, null]});
        assert_eq!(
            render("{{ list | uniq | join: ',' }}", &mixed).unwrap(),
            "1,1,2,x,false"
        );
    }

    /// 30,000 different strings took 20 seconds through liquid-lib's `uniq`; a set answers in
    /// a blink, and a long list of mixed kinds is refused instead of compared pair by pair.
    #[test]
    fn long_lists_are_deduplicated_by_a_set_or_refused() {
        let strings: Vec<String> = (0..30_000).map(|n| n.to_string()).collect();
        let globals = json!({"strings": strings});
        assert_eq!(
            render("{{ strings | uniq | size }}", &globals).unwrap(),
            "30000"
        );
        let numbers: Vec<i64> = (0..30_000).map(|n| n % 7_000).collect();
        let globals = json!({"numbers": numbers});
        assert_eq!(
            render("{{ numbers | uniq | size }}", &globals).unwrap(),
            "7000"
        );
        let mut mixed: Vec<Value> = (0..2_500).map(|n| json!(n)).collect();
        mixed.push(json!("text"));
        let error = render("{{ mixed | uniq | size }}", &json!({"mixed": mixed})).unwrap_err();
        assert!(
            error.contains("uniq takes at most 2000 items"),
            "{}",
            &error[..200.min(error.len())]
        );
    }
}
