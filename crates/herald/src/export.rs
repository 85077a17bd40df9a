//! `herald export people|events|segment ID`: streams a workspace's people, their events, or a
//! segment's members out of the store as NDJSON (Track API v2 operations, one a line, which
//! `herald import` takes back) or CSV (the columns `herald import` reads). It reads the store
//! directly, so it works whether or not a server runs on it, a page of people at a time.

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use herald_domain::{PersonSeq, SegmentId, WorkspaceId};
use herald_store::{PartitionSet, Person, StoreError, StoreHandle, StoredEvent};
use serde_json::{Map, Value, json};

use crate::store_location::StoreLocation;

/// People read from the store at once.
const PAGE: usize = 1_000;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum What {
    /// Every person, as identify operations (NDJSON) or one row each (CSV).
    People,
    /// Every event, page view and screen view of every person, as event operations (NDJSON) or
    /// one row each (CSV). Anonymous events not attached to a person are not exported.
    Events,
    /// The people in the segment ID now, as `people` exports them.
    Segment,
}

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Ndjson,
    Csv,
}

pub struct ExportOptions {
    pub what: What,
    /// The segment's id, for `segment`.
    pub segment: Option<i64>,
    pub workspace: Option<String>,
    pub format: Option<ExportFormat>,
    pub output: Option<PathBuf>,
}

type Out = BufWriter<Box<dyn Write + Send>>;

pub fn run(location: StoreLocation, options: ExportOptions) -> anyhow::Result<()> {
    let store = location.open()?;
    let workspaces = store
        .read_blocking(|reader| reader.workspaces())
        .context("cannot list workspaces")?;
    let workspace = crate::workspace::choose(workspaces, options.workspace.as_deref())?;
    let format = options
        .format
        .or_else(|| options.output.as_deref().map(format_of))
        .unwrap_or(ExportFormat::Ndjson);
    let sink: Box<dyn Write + Send> = match &options.output {
        Some(path) => Box::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let mut out: Out = BufWriter::with_capacity(1 << 16, sink);
    let rows = match options.what {
        What::People => export_people(&store, workspace.id, None, format, &mut out)?,
        What::Segment => {
            let id = options
                .segment
                .context("name the segment: `herald export segment ID`")?;
            let members = segment_members(&store, workspace.id, SegmentId::new(id))?;
            export_people(&store, workspace.id, Some(&members), format, &mut out)?
        }
        What::Events => export_events(&store, workspace.id, format, out)?,
    };
    eprintln!(
        "exported {rows} rows from the workspace {:?}",
        workspace.name
    );
    Ok(())
}

fn format_of(path: &Path) -> ExportFormat {
    let csv = path
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"));
    if csv {
        ExportFormat::Csv
    } else {
        ExportFormat::Ndjson
    }
}

fn segment_members(
    store: &StoreHandle,
    workspace_id: WorkspaceId,
    segment: SegmentId,
) -> anyhow::Result<HashSet<PersonSeq>> {
    let (exists, members) = store
        .read_blocking(move |reader| {
            let exists = reader.segment(workspace_id, segment)?.is_some();
            let members: HashSet<PersonSeq> = reader
                .segment_members(workspace_id)?
                .into_iter()
                .filter(|(id, _)| *id == segment)
                .map(|(_, person)| person)
                .collect();
            Ok::<_, StoreError>((exists, members))
        })
        .context("cannot read the segment")?;
    anyhow::ensure!(exists, "the workspace has no segment {segment}");
    Ok(members)
}

/// Calls `each` with every live person of the workspace, oldest first, a page at a time.
fn for_each_person(
    store: &StoreHandle,
    workspace_id: WorkspaceId,
    each: &mut dyn FnMut(&Person) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut after = None;
    loop {
        let page = store
            .read_blocking(move |reader| reader.people_after(workspace_id, after, PAGE))
            .context("cannot read people")?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(last.seq);
        for person in &page {
            each(person)?;
        }
    }
}

/// The one identifier an operation names the person by: the id when there is one, else the
/// email, else the cio_id.
fn identifiers(person: &Person) -> Value {
    match (&person.id, &person.email) {
        (Some(id), _) => json!({"id": id}),
        (None, Some(email)) => json!({"email": email}),
        (None, None) => json!({"cio_id": person.cio_id}),
    }
}

/// A person's attributes as an identify sets them: with the email, when the id names them.
fn identify_attributes(person: &Person) -> Map<String, Value> {
    let mut attributes = person.attributes.clone();
    if person.id.is_some()
        && let Some(email) = &person.email
    {
        attributes.insert("email".into(), json!(email));
    }
    attributes
}

fn export_people(
    store: &StoreHandle,
    workspace_id: WorkspaceId,
    only: Option<&HashSet<PersonSeq>>,
    format: ExportFormat,
    out: &mut Out,
) -> anyhow::Result<u64> {
    let wanted = |person: &Person| only.is_none_or(|members| members.contains(&person.seq));
    let mut rows = 0_u64;
    match format {
        ExportFormat::Ndjson => {
            for_each_person(store, workspace_id, &mut |person| {
                if wanted(person) {
                    let operation = json!({
                        "type": "person",
                        "action": "identify",
                        "identifiers": identifiers(person),
                        "attributes": identify_attributes(person),
                    });
                    serde_json::to_writer(&mut *out, &operation)?;
                    out.write_all(b"\n")?;
                    rows += 1;
                }
                Ok(())
            })?;
        }
        ExportFormat::Csv => {
            // A CSV's columns come first: one pass finds every attribute's name.
            let mut keys = BTreeSet::new();
            for_each_person(store, workspace_id, &mut |person| {
                if wanted(person) {
                    keys.extend(person.attributes.keys().cloned());
                }
                Ok(())
            })?;
            keys.remove("id");
            keys.remove("email");
            let mut writer = csv::Writer::from_writer(&mut *out);
            let header: Vec<&str> = ["id", "email"]
                .into_iter()
                .chain(keys.iter().map(String::as_str))
                .collect();
            writer.write_record(&header)?;
            for_each_person(store, workspace_id, &mut |person| {
                if wanted(person) {
                    let mut row = vec![
                        person.id.clone().unwrap_or_default(),
                        person.email.clone().unwrap_or_default(),
                    ];
                    row.extend(keys.iter().map(|key| cell(person.attributes.get(key))));
                    writer.write_record(&row)?;
                    rows += 1;
                }
                Ok(())
            })?;
            writer.flush()?;
        }
    }
    out.flush()?;
    Ok(rows)
}

/// A value as a CSV cell: text as it is, other values as JSON, nothing as an empty cell.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

fn event_operation(person: &Person, event: &StoredEvent) -> Value {
    json!({
        "type": "person",
        "action": event.kind,
        "identifiers": identifiers(person),
        "name": event.name,
        "timestamp": event.timestamp,
        "attributes": if event.data.is_object() { event.data.clone() } else { json!({}) },
    })
}

/// Streams every person's events in one read of the store's history (a person at a time);
/// a CSV reads it twice, first for the data's column names.
fn export_events(
    store: &StoreHandle,
    workspace_id: WorkspaceId,
    format: ExportFormat,
    mut out: Out,
) -> anyhow::Result<u64> {
    let keys = match format {
        ExportFormat::Ndjson => None,
        ExportFormat::Csv => Some(
            store
                .read_blocking(move |reader| {
                    let mut keys = BTreeSet::new();
                    reader.for_each_history(
                        workspace_id,
                        &PartitionSet::all(),
                        &mut |_, events| {
                            for event in &events {
                                if let Some(data) = event.data.as_object() {
                                    keys.extend(data.keys().cloned());
                                }
                            }
                            true
                        },
                    )?;
                    Ok::<_, StoreError>(keys)
                })
                .context("cannot read events")?,
        ),
    };
    let (rows, failed, mut out) = store
        .read_blocking(move |reader| {
            let mut rows = 0_u64;
            let mut failed: Option<anyhow::Error> = None;
            if let Some(keys) = &keys {
                let header: Vec<&str> = ["id", "email", "type", "name", "timestamp"]
                    .into_iter()
                    .chain(keys.iter().map(String::as_str))
                    .collect();
                let mut writer = csv::Writer::from_writer(&mut out);
                if let Err(error) = writer
                    .write_record(&header)
                    .and_then(|()| Ok(writer.flush()?))
                {
                    failed = Some(error.into());
                }
            }
            let mut write_events =
                |person: Person, events: Vec<StoredEvent>| -> anyhow::Result<()> {
                    match &keys {
                        Some(keys) => {
                            // A writer a person: it borrows the output only while it writes.
                            let mut writer = csv::WriterBuilder::new()
                                .has_headers(false)
                                .from_writer(&mut out);
                            for event in &events {
                                let mut row = vec![
                                    person.id.clone().unwrap_or_default(),
                                    person.email.clone().unwrap_or_default(),
                                    event.kind.clone(),
                                    event.name.clone(),
                                    event.timestamp.to_string(),
                                ];
                                row.extend(keys.iter().map(|key| cell(event.data.get(key))));
                                writer.write_record(&row)?;
                            }
                            writer.flush()?;
                        }
                        None => {
                            for event in &events {
                                serde_json::to_writer(&mut out, &event_operation(&person, event))?;
                                out.write_all(b"\n")?;
                            }
                        }
                    }
                    rows += events.len() as u64;
                    Ok(())
                };
            reader.for_each_history(
                workspace_id,
                &PartitionSet::all(),
                &mut |person, events| match write_events(person, events) {
                    Ok(()) => true,
                    Err(error) => {
                        failed = Some(error);
                        false
                    }
                },
            )?;
            Ok::<_, StoreError>((rows, failed, out))
        })
        .context("cannot read events")?;
    if let Some(error) = failed {
        return Err(error.context("cannot write the export"));
    }
    out.flush()?;
    Ok(rows)
}
