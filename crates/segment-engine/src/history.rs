//! What the engine knows of a person: attributes, when they were first seen, and their events.

use serde_json::{Map, Value};

use crate::UnixSeconds;

/// The type of an event.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum EventKind {
    Event,
    Page,
    Screen,
}

impl EventKind {
    /// Parses `event`, `page` or `screen`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "event" => Some(Self::Event),
            "page" => Some(Self::Page),
            "screen" => Some(Self::Screen),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::Page => "page",
            Self::Screen => "screen",
        }
    }
}

/// One event of a person.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EventRecord {
    pub name: String,
    pub kind: EventKind,
    pub timestamp: UnixSeconds,
    #[serde(with = "crate::json_text")]
    pub data: Map<String, Value>,
}

impl EventRecord {
    /// Builds an event from stored parts: an unknown type reads as `event`, and data that is
    /// not an object as no data.
    pub fn from_parts(name: String, kind: &str, timestamp: UnixSeconds, data: Value) -> Self {
        Self {
            name,
            kind: EventKind::parse(kind).unwrap_or(EventKind::Event),
            timestamp,
            data: match data {
                Value::Object(map) => map,
                _ => Map::new(),
            },
        }
    }
}

/// Everything about a person that segment definitions can look at.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PersonHistory {
    pub attributes: Map<String, Value>,
    /// When the profile was created in Herald.
    pub first_seen: UnixSeconds,
    pub events: Vec<EventRecord>,
    /// The earliest timestamp of all the person's events, when `events` leaves out events no
    /// segment reads (the profile age still counts them). `None` means `events` is complete.
    pub earliest_event: Option<UnixSeconds>,
}

impl PersonHistory {
    /// Returns the earliest timestamp of any of the person's events.
    pub fn earliest_event(&self) -> Option<UnixSeconds> {
        let listed = self.events.iter().map(|e| e.timestamp).min();
        match (listed, self.earliest_event) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, None) => a,
            (None, b) => b,
        }
    }
}

/// Reads a unix-seconds timestamp from a JSON number or numeric string.
pub fn timestamp_of(value: &Value) -> Option<UnixSeconds> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.floor() as i64)
        }),
        Value::String(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// When a person's profile age starts: the `created_at` attribute if it is a timestamp, else
/// the earlier of first seen and the earliest event.
pub fn profile_start(
    attributes: &Map<String, Value>,
    first_seen: UnixSeconds,
    earliest_event: Option<UnixSeconds>,
) -> UnixSeconds {
    profile_start_at(attributes.get("created_at"), first_seen, earliest_event)
}

/// `profile_start`, given the person's `created_at` attribute.
pub fn profile_start_at(
    created_at: Option<&Value>,
    first_seen: UnixSeconds,
    earliest_event: Option<UnixSeconds>,
) -> UnixSeconds {
    if let Some(created_at) = created_at.and_then(timestamp_of) {
        return created_at;
    }
    match earliest_event {
        Some(earliest) => earliest.min(first_seen),
        None => first_seen,
    }
}
