//! The segment builder: a definition as a tree of editable nodes, which may be incomplete while a
//! person edits it (an event condition without a name yet).
//!
//! The tree travels in the builder's form, one field per value, named by the node's path (`0` is
//! the root, `0.2` its third condition, `0.2~1` that condition's second data filter), so the
//! page needs no script to hold it: every change posts the form and the server answers with the
//! tree rebuilt (`form.rs`), changed (`ops.rs`) and laid out for the template (`layout.rs`).
//! `json.rs` turns the tree into the definition format and back; the definition's own checks
//! (`Segments::check_definition`) stay the judge of what is valid.

pub mod form;
pub mod json;
pub mod layout;
pub mod ops;

/// How a group joins its conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// `and`: all of them.
    All,
    /// `or`: any of them.
    Any,
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Group {
        join: Join,
        children: Vec<Node>,
    },
    /// Holds when its one condition does not.
    Not(Box<Node>),
    Event(EventNode),
    Attribute(FilterNode),
    /// Membership of another segment; `None` until one is chosen.
    Segment(Option<i64>),
}

/// An event condition, each value as typed.
#[derive(Debug, Clone, PartialEq)]
pub struct EventNode {
    pub name: String,
    /// `event`, `page` or `screen`.
    pub kind: String,
    pub performed: bool,
    /// `at_least`, `at_most` or `exactly`.
    pub count_op: String,
    pub count: String,
    /// `ever`, `within` or `between`.
    pub when: String,
    pub within: String,
    /// `minutes`, `hours`, `days` or `weeks`.
    pub within_unit: String,
    /// Dates as `<input type="datetime-local">` gives them, in UTC.
    pub from: String,
    pub to: String,
    pub filters: Vec<FilterNode>,
    /// The profile-age rule: for "not performed", count only people whose profile is as old as
    /// the timeframe.
    pub profile_age: bool,
}

impl Default for EventNode {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: "event".into(),
            performed: true,
            count_op: "at_least".into(),
            count: "1".into(),
            when: "ever".into(),
            within: "30".into(),
            within_unit: "days".into(),
            from: String::new(),
            to: String::new(),
            filters: Vec::new(),
            profile_age: false,
        }
    }
}

/// A filter on an attribute or on event data, each value as typed.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterNode {
    pub field: String,
    pub op: String,
    /// The value of ops that compare with one (text, JSON where it is not a plain string).
    pub value: String,
    /// `before_ago` / `after_ago`: an amount and a unit.
    pub ago: String,
    pub ago_unit: String,
    /// `before` / `after`: a date, in UTC.
    pub at: String,
}

impl Default for FilterNode {
    fn default() -> Self {
        Self {
            field: String::new(),
            op: "eq".into(),
            value: String::new(),
            ago: "30".into(),
            ago_unit: "days".into(),
            at: String::new(),
        }
    }
}

/// The operators, their wire names and what the builder calls them.
pub const OPS: [(&str, &str); 16] = [
    ("eq", "is"),
    ("neq", "is not"),
    ("exists", "exists"),
    ("not_exists", "does not exist"),
    ("contains", "contains"),
    ("not_contains", "does not contain"),
    ("starts_with", "starts with"),
    ("in", "is one of"),
    ("gt", "is greater than"),
    ("gte", "is at least"),
    ("lt", "is less than"),
    ("lte", "is at most"),
    ("before", "is before"),
    ("after", "is after"),
    ("before_ago", "is more than … ago"),
    ("after_ago", "is less than … ago"),
];

/// The units of windows and relative dates.
pub const UNITS: [&str; 4] = ["minutes", "hours", "days", "weeks"];

impl Node {
    /// A new, empty condition of a kind the builder offers: `event`, `attribute`, `segment` or
    /// `group`.
    pub fn empty(kind: &str) -> Option<Self> {
        Some(match kind {
            "event" => Self::Event(EventNode::default()),
            "attribute" => Self::Attribute(FilterNode::default()),
            "segment" => Self::Segment(None),
            "group" => Self::Group {
                join: Join::Any,
                children: vec![Self::Event(EventNode::default())],
            },
            _ => return None,
        })
    }

    /// The tree a new segment starts from: all of one event condition, to be named.
    pub fn starting() -> Self {
        Self::Group {
            join: Join::All,
            children: vec![Self::Event(EventNode::default())],
        }
    }
}
