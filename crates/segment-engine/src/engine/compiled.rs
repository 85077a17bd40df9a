//! Definitions compiled for the engine: event conditions point at shared predicates.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::events::EventIndex;
use crate::SegmentId;
use crate::definition::{Condition, Count, Definition, Filter, Window};
use crate::filter::holds;
use crate::history::EventKind;

/// Which events an event condition looks at: name, type and `where` filters. Conditions with
/// the same predicate share the per-person state.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Predicate {
    pub filters: Vec<Filter>,
    /// Whether a filter depends on the current time, so that each event's data must be looked
    /// at again whenever the predicate is evaluated.
    pub keeps_data: bool,
    /// The index table of this name and type.
    pub table: u32,
    /// For static filters, whether each distinct data object of the table passes them, by data
    /// id; `None` when there are no filters or they depend on time.
    pub accepts: Option<Vec<bool>>,
}

impl Predicate {
    /// Tells whether events with this data id pass the static filters (always, without any).
    pub fn accepts(&self, data: u32) -> bool {
        self.accepts
            .as_ref()
            .is_none_or(|accepts| accepts[data as usize])
    }
}

/// Every predicate of every segment, interned.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Predicates {
    list: Vec<Predicate>,
    index: HashMap<String, usize>,
    /// The predicates with static filters of each table, to extend their `accepts` when the
    /// table meets new data.
    filtered: HashMap<u32, Vec<usize>>,
}

fn key(name: &str, kind: EventKind, filters: &[Filter]) -> String {
    format!("{name}\u{0}{kind:?}\u{0}{filters:?}")
}

/// Whether static filters hold on a data object; their answer does not depend on the time.
fn passes(filters: &[Filter], data: &Map<String, Value>) -> bool {
    filters.iter().all(|f| holds(f, data, 0))
}

impl Predicates {
    /// Interns a predicate; a new one gets its table (created with `complete` if it is new too)
    /// and its answers for the table's data so far.
    fn intern(
        &mut self,
        name: &str,
        kind: EventKind,
        filters: &[Filter],
        events: &mut EventIndex,
        complete: bool,
    ) -> usize {
        let key = key(name, kind, filters);
        if let Some(id) = self.index.get(&key) {
            return *id;
        }
        let id = self.list.len();
        let table = events.table_or_insert(name, kind, complete);
        let keeps_data = filters.iter().any(|f| f.op.is_relative());
        let accepts = (!filters.is_empty() && !keeps_data).then(|| {
            let dict = &events.table(table).dict;
            dict.objects().iter().map(|d| passes(filters, d)).collect()
        });
        if accepts.is_some() {
            self.filtered.entry(table).or_default().push(id);
        }
        self.list.push(Predicate {
            filters: filters.to_vec(),
            keeps_data,
            table,
            accepts,
        });
        self.index.insert(key, id);
        id
    }

    /// Finds an interned predicate without creating it.
    pub fn find(&self, name: &str, kind: EventKind, filters: &[Filter]) -> Option<&Predicate> {
        self.index
            .get(&key(name, kind, filters))
            .map(|id| &self.list[*id])
    }

    /// Extends the static answers of a table's predicates to a data object the table just met.
    pub fn data_added(&mut self, table: u32, data: &Map<String, Value>) {
        for id in self.filtered.get(&table).into_iter().flatten() {
            let predicate = &mut self.list[*id];
            let pass = passes(&predicate.filters, data);
            if let Some(accepts) = &mut predicate.accepts {
                accepts.push(pass);
            }
        }
    }

    pub fn get(&self, id: usize) -> &Predicate {
        &self.list[id]
    }
}

/// A condition tree with event conditions resolved to predicates.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
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
    Relationship(crate::relationship::RelationshipCondition),
}

/// A segment as the engine holds it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Compiled {
    root: Option<Node>,
    /// The definition's conditions, which an index build evaluates.
    condition: Option<Condition>,
    events: BTreeSet<(String, EventKind)>,
    references: BTreeSet<SegmentId>,
    /// The definition as it was given, so that a restored engine can tell whether a stored
    /// segment changed since.
    #[serde(with = "crate::json_text")]
    source: Option<Value>,
}

/// Where compiling puts new predicates: the predicates, and the index that gets their tables.
pub(super) struct Interner<'a> {
    pub predicates: &'a mut Predicates,
    pub events: &'a mut EventIndex,
    /// Whether a table created now holds every event of its name (see `Table::complete`).
    pub complete: bool,
}

impl Compiled {
    /// Compiles a definition; `None` is a manual segment.
    pub fn new(definition: Option<Definition>, interner: &mut Interner<'_>) -> Self {
        let mut events = BTreeSet::new();
        let references = definition
            .as_ref()
            .map(Definition::references)
            .unwrap_or_default();
        let root = definition
            .as_ref()
            .map(|d| compile(&d.root, interner, &mut events));
        let source = definition.as_ref().map(|d| d.source.clone());
        Self {
            root,
            condition: definition.map(|d| d.root),
            events,
            references,
            source,
        }
    }

    pub fn source(&self) -> Option<&Value> {
        self.source.as_ref()
    }

    pub fn condition(&self) -> Option<&Condition> {
        self.condition.as_ref()
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
    interner: &mut Interner<'_>,
    events: &mut BTreeSet<(String, EventKind)>,
) -> Node {
    match condition {
        Condition::And(children) => Node::And(
            children
                .iter()
                .map(|c| compile(c, interner, events))
                .collect(),
        ),
        Condition::Or(children) => Node::Or(
            children
                .iter()
                .map(|c| compile(c, interner, events))
                .collect(),
        ),
        Condition::Not(child) => Node::Not(Box::new(compile(child, interner, events))),
        Condition::Attribute(filter) => Node::Attribute(filter.clone()),
        Condition::Relationship(condition) => Node::Relationship(condition.clone()),
        Condition::Segment(id) => Node::Segment(*id),
        Condition::Event(event) => {
            events.insert((event.name.clone(), event.kind));
            Node::Event {
                predicate: interner.predicates.intern(
                    &event.name,
                    event.kind,
                    &event.filters,
                    interner.events,
                    interner.complete,
                ),
                performed: event.performed,
                count: event.count,
                window: event.window,
                require_profile_age: event.require_profile_age,
            }
        }
    }
}
