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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Row {
    pub timestamp: UnixSeconds,
    pub ordinal: u32,
    pub data: u32,
}

/// A table's rows kept as three columns rather than as 16-byte rows, so that a scan reads only
/// what it needs: "performed `created_project` in 30 days" reads the people's ordinals, 4 bytes
/// a row, where the rows made it read 16; a filter adds the data ids; the binary searches of a
/// window read the times alone. Scanning a window is bound by the memory it reads.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Columns {
    timestamps: Vec<UnixSeconds>,
    ordinals: Vec<u32>,
    data: Vec<u32>,
}

impl Columns {
    pub fn push(&mut self, row: Row) {
        self.timestamps.push(row.timestamp);
        self.ordinals.push(row.ordinal);
        self.data.push(row.data);
    }

    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    pub fn rows(&self) -> Rows<'_> {
        Rows {
            timestamps: &self.timestamps,
            ordinals: &self.ordinals,
            data: &self.data,
        }
    }

    fn with_capacity(capacity: usize) -> Self {
        Self {
            timestamps: Vec::with_capacity(capacity),
            ordinals: Vec::with_capacity(capacity),
            data: Vec::with_capacity(capacity),
        }
    }

    /// Keeps the rows whose person `keep` accepts, in their order; returns how many of the
    /// first `prefix` rows were kept.
    fn retain(&mut self, prefix: usize, keep: impl Fn(u32) -> bool) -> usize {
        let mut kept = 0;
        let mut kept_in_prefix = 0;
        for at in 0..self.len() {
            if keep(self.ordinals[at]) {
                self.timestamps[kept] = self.timestamps[at];
                self.ordinals[kept] = self.ordinals[at];
                self.data[kept] = self.data[at];
                kept += 1;
                kept_in_prefix += usize::from(at < prefix);
            }
        }
        self.timestamps.truncate(kept);
        self.ordinals.truncate(kept);
        self.data.truncate(kept);
        kept_in_prefix
    }

    fn clear(&mut self) {
        self.timestamps.clear();
        self.ordinals.clear();
        self.data.clear();
    }
}

/// Rows borrowed from `Columns`: the same range of each column.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Rows<'a> {
    pub timestamps: &'a [UnixSeconds],
    pub ordinals: &'a [u32],
    pub data: &'a [u32],
}

impl<'a> Rows<'a> {
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    pub fn slice(&self, range: std::ops::Range<usize>) -> Rows<'a> {
        Rows {
            timestamps: &self.timestamps[range.clone()],
            ordinals: &self.ordinals[range.clone()],
            data: &self.data[range],
        }
    }

    pub fn get(&self, at: usize) -> Row {
        Row {
            timestamp: self.timestamps[at],
            ordinal: self.ordinals[at],
            data: self.data[at],
        }
    }

    /// Calls `visit` with each row's person and whether `accepts` takes its data id (every row
    /// passes when it is `None`). Without a filter only the ordinals are read.
    #[inline]
    pub fn for_each_passing(&self, accepts: Option<&[bool]>, mut visit: impl FnMut(u32, bool)) {
        match accepts {
            None => self.ordinals.iter().for_each(|o| visit(*o, true)),
            Some(a) => self
                .ordinals
                .iter()
                .zip(self.data)
                .for_each(|(o, d)| visit(*o, a[*d as usize])),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Row> + 'a {
        let Rows {
            timestamps,
            ordinals,
            data,
        } = *self;
        timestamps
            .iter()
            .zip(ordinals)
            .zip(data)
            .map(|((timestamp, ordinal), data)| Row {
                timestamp: *timestamp,
                ordinal: *ordinal,
                data: *data,
            })
    }
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
    rows: Columns,
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
            rows: Columns::default(),
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
                .timestamps
                .last()
                .is_none_or(|last| *last <= row.timestamp);
        self.rows.push(row);
        if in_order {
            self.sorted += 1;
        }
    }

    /// The rows in time order. Only complete after `settle`.
    pub fn sorted(&self) -> Rows<'_> {
        self.rows.rows().slice(0..self.sorted)
    }

    /// The rows that arrived out of time order since the last `settle`.
    pub fn unsorted(&self) -> Rows<'_> {
        self.rows.rows().slice(self.sorted..self.rows.len())
    }

    /// Puts every row in time order and drops the rows of people who are gone once they are a
    /// quarter of the table.
    fn settle(&mut self, alive: &Bitset) {
        if self.dead * 4 > self.rows.len() {
            self.sorted = self
                .rows
                .retain(self.sorted, |ordinal| alive.contains(ordinal));
            self.dead = 0;
        }
        if self.sorted < self.rows.len() {
            let mut tail: Vec<Row> = self.unsorted().iter().collect();
            tail.sort_by_key(|row| row.timestamp);
            // The sorted rows and the tail, merged into columns of exactly their size: a load
            // leaves up to half of a table's capacity unused, and settling is rare enough to
            // give it back.
            let sorted = self.sorted();
            let mut merged = Columns::with_capacity(self.rows.len());
            let mut tail = tail.into_iter().peekable();
            for row in sorted.iter() {
                while let Some(next) = tail.next_if(|next| next.timestamp < row.timestamp) {
                    merged.push(next);
                }
                merged.push(row);
            }
            tail.for_each(|row| merged.push(row));
            self.rows = merged;
            self.sorted = self.rows.len();
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
        assert_eq!(index.table(table).unsorted().len(), 0);
    }

    #[test]
    fn settling_merges_late_rows_after_equal_times_and_keeps_the_order_of_the_dead_free() {
        let mut index = EventIndex::default();
        let table = index.table_or_insert("a", EventKind::Event, true);
        let none = data(json!({}));
        let price = data(json!({"price": 3}));
        // In order: (10, 0) (20, 1) (20, 2) (40, 3); late: (20, 4) (5, 5) (50, 6) (30, 7).
        for (timestamp, ordinal) in [(10, 0), (20, 1), (20, 2), (40, 3)] {
            index.add(table, timestamp, ordinal, &none);
        }
        for (timestamp, ordinal) in [(20, 4), (5, 5), (50, 6), (30, 7)] {
            index.add(table, timestamp, ordinal, &price);
        }
        let mut alive = Bitset::new();
        for ordinal in [0, 2, 3, 4, 5, 6, 7] {
            alive.insert(ordinal);
        }
        index.settle_all(&alive);
        let rows = |index: &EventIndex| -> Vec<(i64, u32, u32)> {
            let table = index.table(table);
            assert_eq!(table.unsorted().len(), 0);
            table
                .sorted()
                .iter()
                .map(|r| (r.timestamp, r.ordinal, r.data))
                .collect()
        };
        let (plain, priced) = (0, 1);
        assert_eq!(
            rows(&index),
            vec![
                (5, 5, priced),
                (10, 0, plain),
                (20, 1, plain),
                (20, 2, plain),
                (20, 4, priced),
                (30, 7, priced),
                (40, 3, plain),
                (50, 6, priced),
            ]
        );
        // Person 1 is gone and their row is a quarter of the table or more once two others
        // die: the compaction keeps the order, and later rows still land in time order.
        alive.remove(1);
        alive.remove(6);
        index.note_dead(table, 3);
        index.add(table, 60, 0, &none);
        index.add(table, 15, 2, &none);
        index.settle_all(&alive);
        assert_eq!(
            rows(&index),
            vec![
                (5, 5, priced),
                (10, 0, plain),
                (15, 2, plain),
                (20, 2, plain),
                (20, 4, priced),
                (30, 7, priced),
                (40, 3, plain),
                (60, 0, plain),
            ]
        );
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
