//! Definitions compiled for the engine: event conditions point at shared predicates.

use std::collections::{BTreeSet, HashMap};

use crate::SegmentId;
use crate::definition::{Condition, Count, Definition, Filter, Window};
use crate::history::{EventKind, EventRecord};

/// Which events an event condition looks at: name, type and `where` filters. Conditions with
/// the same predicate share the per-person state.
#[derive(Debug)]
pub(super) struct Predicate {
    pub name: String,
    pub kind: EventKind,
    pub filters: Vec<Filter>,
    /// Whether a filter depends on the current time, so that the event data must be kept to
    /// re-check it later.
    pub keeps_data: bool,
}

impl Predicate {
    /// Tells whether an event belongs to this predicate's name and type.
    pub fn names(&self, event: &EventRecord) -> bool {
        self.name == event.name && self.kind == event.kind
    }
}

/// Every predicate of every segment, interned.
#[derive(Debug, Default)]
pub(super) struct Predicates {
    list: Vec<Predicate>,
    index: HashMap<String, usize>,
}

impl Predicates {
    fn intern(&mut self, name: &str, kind: EventKind, filters: &[Filter]) -> usize {
        let key = format!("{name}\u{0}{kind:?}\u{0}{filters:?}");
        if let Some(id) = self.index.get(&key) {
            return *id;
        }
        let id = self.list.len();
        self.list.push(Predicate {
            name: name.to_owned(),
            kind,
            filters: filters.to_vec(),
            keeps_data: filters.iter().any(|f| f.op.is_relative()),
        });
        self.index.insert(key, id);
        id
    }

    pub fn get(&self, id: usize) -> &Predicate {
        &self.list[id]
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }
}

/// A condition tree with event conditions resolved to predicates.
#[derive(Debug)]
pub(super) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Event {
        predicate: usize,
        performed: bool,
        count: Count,
        window: Window,
        require_profile_age: bool,
    },
    Attribute(Filter),
    Segment(SegmentId),
}

/// A segment as the engine holds it.
#[derive(Debug)]
pub(super) struct Compiled {
    root: Option<Node>,
    events: BTreeSet<(String, EventKind)>,
    references: BTreeSet<SegmentId>,
}

impl Compiled {
    /// Compiles a definition; `None` is a manual segment.
    pub fn new(definition: Option<Definition>, predicates: &mut Predicates) -> Self {
        let mut events = BTreeSet::new();
        let references = definition
            .as_ref()
            .map(Definition::references)
            .unwrap_or_default();
        let root = definition.map(|d| compile(&d.root, predicates, &mut events));
        Self {
            root,
            events,
            references,
        }
    }

    pub fn is_manual(&self) -> bool {
        self.root.is_none()
    }

    pub fn root(&self) -> Option<&Node> {
        self.root.as_ref()
    }

    pub fn references(&self) -> BTreeSet<SegmentId> {
        self.references.clone()
    }

    /// Returns the event names and types that can change this segment directly.
    pub fn events(&self) -> &BTreeSet<(String, EventKind)> {
        &self.events
    }
}

fn compile(
    condition: &Condition,
    predicates: &mut Predicates,
    events: &mut BTreeSet<(String, EventKind)>,
) -> Node {
    match condition {
        Condition::And(children) => Node::And(
            children
                .iter()
                .map(|c| compile(c, predicates, events))
                .collect(),
        ),
        Condition::Or(children) => Node::Or(
            children
                .iter()
                .map(|c| compile(c, predicates, events))
                .collect(),
        ),
        Condition::Not(child) => Node::Not(Box::new(compile(child, predicates, events))),
        Condition::Attribute(filter) => Node::Attribute(filter.clone()),
        Condition::Segment(id) => Node::Segment(*id),
        Condition::Event(event) => {
            events.insert((event.name.clone(), event.kind));
            Node::Event {
                predicate: predicates.intern(&event.name, event.kind, &event.filters),
                performed: event.performed,
                count: event.count,
                window: event.window,
                require_profile_age: event.require_profile_age,
            }
        }
    }
}
