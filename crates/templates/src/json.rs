//! The JSON globals of a render, seen by Liquid without copying them.
//!
//! liquid's own values own their strings, so converting a person's attributes and an event's
//! data would copy every string on every render; these views borrow them instead.
//! Lookups are as strict as liquid's own; leniency about missing data is [`crate::lax`]'s job.

use std::collections::HashMap;
use std::fmt;

use liquid_core::model::{
    ArrayView, DisplayCow, KStringCow, Object, ObjectRender, ObjectSource, ObjectView, ScalarCow,
    State, Value, ValueView,
};

/// Liquid's nil, shared by every JSON `null` in the tree.
static NIL: Value = Value::Nil;

/// Objects with more keys than this get a hash index; smaller ones are scanned, which is faster.
const INDEX_FROM_KEYS: usize = 16;

/// One JSON value, seen by Liquid.
#[derive(Debug)]
pub(crate) enum Json<'a> {
    Nil,
    Scalar(ScalarCow<'a>),
    Array(JsonArray<'a>),
    Object(JsonObject<'a>),
}

impl<'a> Json<'a> {
    /// Wraps `value` without copying its strings.
    pub(crate) fn new(value: &'a serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Json::Nil,
            serde_json::Value::Bool(b) => Json::Scalar(ScalarCow::new(*b)),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Json::Scalar(ScalarCow::new(i)),
                // Integers beyond i64 and fractions become floats, as Liquid has no other number.
                None => Json::Scalar(ScalarCow::new(n.as_f64().unwrap_or(f64::NAN))),
            },
            serde_json::Value::String(s) => Json::Scalar(ScalarCow::new(s.as_str())),
            serde_json::Value::Array(items) => {
                Json::Array(JsonArray(items.iter().map(Json::new).collect()))
            }
            serde_json::Value::Object(map) => Json::Object(JsonObject::new(map)),
        }
    }

    fn view(&self) -> &dyn ValueView {
        match self {
            Json::Nil => &NIL,
            Json::Scalar(s) => s,
            Json::Array(a) => a,
            Json::Object(o) => o,
        }
    }
}

impl ValueView for Json<'_> {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        self.view().render()
    }
    fn source(&self) -> DisplayCow<'_> {
        self.view().source()
    }
    fn type_name(&self) -> &'static str {
        self.view().type_name()
    }
    fn query_state(&self, state: State) -> bool {
        self.view().query_state(state)
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        self.view().to_kstr()
    }
    fn to_value(&self) -> Value {
        self.view().to_value()
    }
    fn as_scalar(&self) -> Option<ScalarCow<'_>> {
        self.view().as_scalar()
    }
    fn as_array(&self) -> Option<&dyn ArrayView> {
        self.view().as_array()
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        self.view().as_object()
    }
    fn is_nil(&self) -> bool {
        matches!(self, Json::Nil)
    }
}

/// A JSON array.
#[derive(Debug)]
pub(crate) struct JsonArray<'a>(Vec<Json<'a>>);

impl ValueView for JsonArray<'_> {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    // Rendering delegates to liquid's own `Vec` view so that arrays print exactly as liquid's do.
    fn render(&self) -> DisplayCow<'_> {
        self.0.render()
    }
    fn source(&self) -> DisplayCow<'_> {
        self.0.source()
    }
    fn type_name(&self) -> &'static str {
        "array"
    }
    fn query_state(&self, state: State) -> bool {
        self.0.query_state(state)
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        self.0.to_kstr()
    }
    fn to_value(&self) -> Value {
        self.0.to_value()
    }
    fn as_array(&self) -> Option<&dyn ArrayView> {
        Some(self)
    }
}

impl ArrayView for JsonArray<'_> {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        i64::try_from(self.0.len()).unwrap_or(i64::MAX)
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(self.0.iter().map(|v| v as &dyn ValueView))
    }
    fn contains_key(&self, index: i64) -> bool {
        self.position(index).is_some()
    }
    fn get(&self, index: i64) -> Option<&dyn ValueView> {
        self.position(index).map(|i| &self.0[i] as &dyn ValueView)
    }
}

impl JsonArray<'_> {
    /// Resolves a Liquid index, where negative numbers count from the end.
    fn position(&self, index: i64) -> Option<usize> {
        let len = i64::try_from(self.0.len()).ok()?;
        let index = if index < 0 { len + index } else { index };
        if (0..len).contains(&index) {
            usize::try_from(index).ok()
        } else {
            None
        }
    }
}

/// A JSON object.
#[derive(Debug)]
pub(crate) struct JsonObject<'a> {
    /// Entries in the JSON's order, so loops over an object see its keys as they were sent.
    entries: Vec<(&'a str, Json<'a>)>,
    /// Positions in `entries` by key, built only for objects big enough to need it.
    index: Option<HashMap<&'a str, usize>>,
}

impl<'a> JsonObject<'a> {
    pub(crate) fn new(map: &'a serde_json::Map<String, serde_json::Value>) -> Self {
        let entries: Vec<_> = map
            .iter()
            .map(|(k, v)| (k.as_str(), Json::new(v)))
            .collect();
        let index = (entries.len() > INDEX_FROM_KEYS).then(|| {
            entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (*k, i))
                .collect()
        });
        Self { entries, index }
    }

    fn find(&self, key: &str) -> Option<&Json<'a>> {
        let position = match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| *k == key),
        };
        position.map(|i| &self.entries[i].1)
    }
}

impl ValueView for JsonObject<'_> {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(ObjectRender::new(self)))
    }
    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(ObjectSource::new(self)))
    }
    fn type_name(&self) -> &'static str {
        "object"
    }
    fn query_state(&self, state: State) -> bool {
        match state {
            State::Truthy => true,
            State::DefaultValue | State::Empty | State::Blank => self.entries.is_empty(),
        }
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_string(ObjectRender::new(self).to_string())
    }
    fn to_value(&self) -> Value {
        let mut object = Object::new();
        for (k, v) in &self.entries {
            object.insert((*k).to_owned().into(), v.to_value());
        }
        Value::Object(object)
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for JsonObject<'_> {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        i64::try_from(self.entries.len()).unwrap_or(i64::MAX)
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(self.entries.iter().map(|(k, _)| KStringCow::from_ref(k)))
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(self.entries.iter().map(|(_, v)| v as &dyn ValueView))
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(
            self.entries
                .iter()
                .map(|(k, v)| (KStringCow::from_ref(k), v as &dyn ValueView)),
        )
    }
    fn contains_key(&self, index: &str) -> bool {
        self.find(index).is_some()
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        self.find(index).map(|v| v as &dyn ValueView)
    }
}
