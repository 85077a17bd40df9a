//! The event index: every event the engine knows, kept twice in compact typed rows.
//!
//! Per (event name, type) a *table* holds rows of (timestamp, person ordinal, data id) in time
//! order, so a build reads exactly the rows of a window with two binary searches. Per person, a
//! list of (table, timestamp, data id) sorted by table then time answers one person's conditions
//! when an event arrives. Event data is never kept per event: each table interns the distinct
//! data objects it has seen, and a `where` filter is evaluated once per distinct object rather
//! than once per event. That is compact when data repeats (a price, a plan, a product), and
//! degrades to one object per event when every event's data is unique.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::bitset::Bitset;
use crate::UnixSeconds;
use crate::history::EventKind;

/// One event in a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Row {
    pub timestamp: UnixSeconds,
    pub ordinal: u32,
    pub data: u32,
}

/// The distinct data objects of one table.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
#[serde(into = "DictObjects", from = "DictObjects")]
pub(super) struct DataDict {
    objects: Vec<Map<String, Value>>,
    /// Ids by serialized object: comparing one contiguous key costs a cache miss or two, where
    /// comparing against a stored map would chase a pointer per key and value.
    ids: HashMap<Key, u32>,
    /// Reused for serializing, so that interning allocates nothing for data already seen.
    buffer: Vec<u8>,
}

impl DataDict {
    /// Returns the id of `data` and whether it is new. Equal objects whose keys come in another
    /// order get two ids, which costs memory, not exactness.
    fn intern(&mut self, data: &Map<String, Value>) -> (u32, bool) {
        self.buffer.clear();
        // Serializing a map of JSON values into memory cannot fail.
        let _ = serde_json::to_writer(&mut self.buffer, data);
        if let Some(id) = self.ids.get(self.buffer.as_slice()) {
            return (*id, false);
        }
        let id = u32::try_from(self.objects.len()).unwrap_or(u32::MAX);
        self.objects.push(data.clone());
        self.ids.insert(Key::new(&self.buffer), id);
        (id, true)
    }

    pub fn get(&self, id: u32) -> &Map<String, Value> {
        &self.objects[id as usize]
    }

    pub fn objects(&self) -> &[Map<String, Value>] {
        &self.objects
    }
}

/// What an image keeps of a `DataDict`: the objects; the ids are found again from them.
#[derive(serde::Serialize, serde::Deserialize)]
struct DictObjects(#[serde(with = "crate::json_text")] Vec<Map<String, Value>>);

impl From<DataDict> for DictObjects {
    fn from(dict: DataDict) -> Self {
        Self(dict.objects)
    }
}

impl From<DictObjects> for DataDict {
    fn from(DictObjects(objects): DictObjects) -> Self {
        let mut dict = Self::default();
        for object in &objects {
            dict.intern(object);
        }
        dict
    }
}

/// A serialized data object. Most are short (`{"price":12.05}` is 16 bytes) and live in the hash
/// table's own slot, so that finding one costs no second cache miss; measured, that second miss
/// was a quarter of loading 20M events.
#[derive(Debug, Clone)]
enum Key {
    Inline { bytes: [u8; 23], len: u8 },
    Heap(Box<[u8]>),
}

impl Key {
    fn new(bytes: &[u8]) -> Self {
        let mut inline = [0; 23];
        match inline.get_mut(..bytes.len()) {
            Some(prefix) => {
                prefix.copy_from_slice(bytes);
                Self::Inline {
                    bytes: inline,
                    len: bytes.len() as u8,
                }
            }
            None => Self::Heap(bytes.into()),
        }
    }
}

impl std::borrow::Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        match self {
            Self::Inline { bytes, len } => &bytes[..usize::from(*len)],
            Self::Heap(bytes) => bytes,
        }
    }
}

// Hash and equality are those of the bytes, as `Borrow` requires.
impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::borrow::Borrow::<[u8]>::borrow(self).hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        std::borrow::Borrow::<[u8]>::borrow(self) == std::borrow::Borrow::<[u8]>::borrow(other)
    }
}

impl Eq for Key {}

/// The events of one (name, type).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Table {
    /// `rows[..sorted]` is in time order; later rows arrived out of order and wait for `settle`.
    rows: Vec<Row>,
    sorted: usize,
    /// Rows of people deleted or merged away since the last compaction.
    dead: usize,
    pub dict: DataDict,
    /// Whether the table holds every event of its name of every person the engine knows. It
    /// does not when people were loaded from histories that left this name out (at start, the
    /// server reads only the names its segments look at); a build then reads it from history.
    pub complete: bool,
}

impl Table {
    fn new(complete: bool) -> Self {
        Self {
            rows: Vec::new(),
            sorted: 0,
            dead: 0,
            dict: DataDict::default(),
            complete,
        }
    }

    fn push(&mut self, row: Row) {
        let in_order = self.sorted == self.rows.len()
            && self
                .rows
                .last()
                .is_none_or(|last| last.timestamp <= row.timestamp);
        self.rows.push(row);
        if in_order {
            self.sorted += 1;
        }
    }

    /// The rows in time order. Only complete after `settle`.
    pub fn sorted(&self) -> &[Row] {
        &self.rows[..self.sorted]
    }

    /// The rows that arrived out of time order since the last `settle`.
    pub fn unsorted(&self) -> &[Row] {
        &self.rows[self.sorted..]
    }

    /// Puts every row in time order and drops the rows of people who are gone once they are a
    /// quarter of the table.
    fn settle(&mut self, alive: &Bitset) {
        if self.dead * 4 > self.rows.len() {
            self.rows.retain(|row| alive.contains(row.ordinal));
            self.dead = 0;
            self.sorted = 0;
        }
        if self.sorted < self.rows.len() {
            self.rows[self.sorted..].sort_unstable_by_key(|row| row.timestamp);
            // Two sorted runs: the stable sort detects them and merges them in one pass.
            self.rows.sort_by_key(|row| row.timestamp);
            self.sorted = self.rows.len();
            // A load leaves up to half of a table's capacity unused; settling is rare enough to
            // give it back.
            self.rows.shrink_to_fit();
        }
    }

    fn clear(&mut self) {
        self.rows.clear();
        self.sorted = 0;
        self.dead = 0;
    }
}

/// Every table, by (name, type).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct EventIndex {
    tables: Vec<Table>,
    by_key: HashMap<(String, EventKind), u32>,
}

impl EventIndex {
    pub fn table_of(&self, name: &str, kind: EventKind) -> Option<u32> {
        self.by_key.get(&(name.to_owned(), kind)).copied()
    }

    /// Returns the table of (name, type), creating it with `complete` if it is new.
    pub fn table_or_insert(&mut self, name: &str, kind: EventKind, complete: bool) -> u32 {
        if let Some(id) = self.by_key.get(&(name.to_owned(), kind)) {
            return *id;
        }
        let id = u32::try_from(self.tables.len()).unwrap_or(u32::MAX);
        self.tables.push(Table::new(complete));
        self.by_key.insert((name.to_owned(), kind), id);
        id
    }

    /// The (name, type) of each table, by table id.
    pub fn keys(&self) -> Vec<(String, EventKind)> {
        let mut keys = vec![(String::new(), EventKind::Event); self.tables.len()];
        for (key, id) in &self.by_key {
            keys[*id as usize] = key.clone();
        }
        keys
    }

    pub fn table(&self, id: u32) -> &Table {
        &self.tables[id as usize]
    }

    pub fn table_mut(&mut self, id: u32) -> &mut Table {
        &mut self.tables[id as usize]
    }

    pub fn tables_mut(&mut self) -> impl Iterator<Item = (u32, &mut Table)> {
        self.tables
            .iter_mut()
            .enumerate()
            .map(|(id, table)| (id as u32, table))
    }

    /// Adds an event's row; returns its data id and whether that data is new to the table.
    pub fn add(
        &mut self,
        table: u32,
        timestamp: UnixSeconds,
        ordinal: u32,
        data: &Map<String, Value>,
    ) -> (u32, bool) {
        let table = &mut self.tables[table as usize];
        let (data, new) = table.dict.intern(data);
        table.push(Row {
            timestamp,
            ordinal,
            data,
        });
        (data, new)
    }

    /// Counts rows that belong to a person who is gone, so that `settle` knows when to compact.
    pub fn note_dead(&mut self, table: u32, rows: usize) {
        self.tables[table as usize].dead += rows;
    }

    pub fn settle_all(&mut self, alive: &Bitset) {
        for table in &mut self.tables {
            table.settle(alive);
        }
    }

    pub fn clear(&mut self, table: u32) {
        self.tables[table as usize].clear();
    }

    pub fn rows(&self) -> usize {
        self.tables.iter().map(|t| t.rows.len()).sum()
    }

    /// Rows that arrived out of time order: what `settle_all` would put in place.
    pub fn unsettled(&self) -> usize {
        self.tables.iter().map(|t| t.rows.len() - t.sorted).sum()
    }
}

/// One event in a person's own list.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub(super) struct PersonEvent {
    pub table: u32,
    pub timestamp: UnixSeconds,
    pub data: u32,
}

/// A person's events, sorted by table, then time.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct PersonEvents(Vec<PersonEvent>);

impl PersonEvents {
    pub fn insert(&mut self, event: PersonEvent) {
        let key = (event.table, event.timestamp);
        let position = self.0.partition_point(|e| (e.table, e.timestamp) <= key);
        self.0.insert(position, event);
    }

    /// Adds many events at once, sorting once at the end (a load).
    pub fn extend(&mut self, events: impl IntoIterator<Item = PersonEvent>) {
        self.0.extend(events);
        self.0.sort_by_key(|e| (e.table, e.timestamp));
    }

    /// The events of one table, in time order.
    pub fn of_table(&self, table: u32) -> &[PersonEvent] {
        let start = self.0.partition_point(|e| e.table < table);
        let end = start + self.0[start..].partition_point(|e| e.table == table);
        &self.0[start..end]
    }

    /// Removes the events of one table.
    pub fn remove_table(&mut self, table: u32) {
        self.0.retain(|e| e.table != table);
    }

    /// Every event, by table then time.
    pub fn all(&self) -> &[PersonEvent] {
        &self.0
    }

    /// How many events each table holds, for counting rows that die with the person.
    pub fn per_table(&self) -> impl Iterator<Item = (u32, usize)> + '_ {
        self.0
            .chunk_by(|a, b| a.table == b.table)
            .map(|chunk| (chunk[0].table, chunk.len()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data(value: serde_json::Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn tables_settle_into_time_order_and_drop_the_dead() {
        let mut index = EventIndex::default();
        let table = index.table_or_insert("a", EventKind::Event, true);
        let price = data(json!({"price": 1}));
        for (timestamp, ordinal) in [(10, 0), (20, 1), (15, 2), (5, 0), (30, 1)] {
            index.add(table, timestamp, ordinal, &price);
        }
        assert_eq!(index.table(table).sorted().len(), 2);
        assert_eq!(index.table(table).unsorted().len(), 3);
        let mut alive = Bitset::new();
        alive.insert(1);
        alive.insert(2);
        index.note_dead(table, 2);
        index.settle_all(&alive);
        let rows: Vec<(i64, u32)> = index
            .table(table)
            .sorted()
            .iter()
            .map(|r| (r.timestamp, r.ordinal))
            .collect();
        assert_eq!(rows, vec![(15, 2), (20, 1), (30, 1)]);
        assert!(index.table(table).unsorted().is_empty());
    }

    #[test]
    fn data_is_interned_per_table() {
        let mut index = EventIndex::default();
        let table = index.table_or_insert("a", EventKind::Page, false);
        let (first, new) = index.add(table, 1, 0, &data(json!({"price": 1})));
        assert!(new);
        let (again, new) = index.add(table, 2, 1, &data(json!({"price": 1})));
        assert!(!new && again == first);
        let (other, new) = index.add(table, 3, 1, &data(json!({"price": 2})));
        assert!(new && other != first);
        assert_eq!(index.table(table).dict.get(other)["price"], json!(2));
        let long = data(json!({"product": "a long product name that does not fit inline"}));
        let (long_id, new) = index.add(table, 4, 1, &long);
        assert!(new);
        assert_eq!(index.add(table, 5, 2, &long), (long_id, false));
        assert_eq!(
            index.add(table, 6, 2, &data(json!({"price": 2}))),
            (other, false)
        );
        assert!(!index.table(table).complete);
    }

    #[test]
    fn person_events_group_by_table_in_time_order() {
        let mut events = PersonEvents::default();
        for (table, timestamp) in [(1, 5), (0, 9), (1, 2), (0, 1), (2, 7)] {
            events.insert(PersonEvent {
                table,
                timestamp,
                data: 0,
            });
        }
        let times =
            |t: u32| -> Vec<i64> { events.of_table(t).iter().map(|e| e.timestamp).collect() };
        assert_eq!(times(0), vec![1, 9]);
        assert_eq!(times(1), vec![2, 5]);
        assert_eq!(times(3), Vec::<i64>::new());
        assert_eq!(
            events.per_table().collect::<Vec<_>>(),
            vec![(0, 2), (1, 2), (2, 1)]
        );
        events.remove_table(1);
        assert!(events.of_table(1).is_empty());
    }
}
