//! A CSV row as a Track API v2 operation.
//!
//! People: `id` or `email` names the person (the id when a row has both, and the email is then
//! set as an attribute), every other column is an attribute. Events: the person is named the same way, `name`
//! is the event's name, `timestamp` its time (unix seconds or RFC 3339), `type` optionally
//! `event`, `page` or `screen`, and every other column is the event's data. An empty cell is
//! left out. A cell that reads exactly as a JSON number (`30`, `4.5`, not `007`) or as `true`
//! or `false` becomes that value, so that segment conditions compare numbers as numbers; any
//! other cell stays text.

use anyhow::bail;
use serde_json::{Map, Value, json};

/// What the rows of a CSV file are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CsvKind {
    People,
    Events,
}

/// Where each column goes, from the header.
#[derive(Debug)]
pub struct RowShape {
    kind: CsvKind,
    columns: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq)]
enum Column {
    Identifier(&'static str),
    Name,
    Timestamp,
    Type,
    Field(String),
}

impl RowShape {
    /// Reads the header. Without a kind given, a header with both `name` and `timestamp` is
    /// events, any other people.
    pub fn new(headers: &csv::StringRecord, kind: Option<CsvKind>) -> anyhow::Result<Self> {
        let names: Vec<String> = headers.iter().map(|name| name.trim().to_owned()).collect();
        let has = |wanted: &str| names.iter().any(|name| name == wanted);
        let kind = kind.unwrap_or(if has("name") && has("timestamp") {
            CsvKind::Events
        } else {
            CsvKind::People
        });
        if !has("id") && !has("email") {
            bail!("the CSV header needs an `id` or an `email` column to name each person");
        }
        if kind == CsvKind::Events && !has("name") {
            bail!("an events CSV needs a `name` column (and `timestamp`, else the import's time)");
        }
        let columns = names
            .into_iter()
            .map(|name| match (kind, name.as_str()) {
                (_, "id") => Column::Identifier("id"),
                (_, "email") => Column::Identifier("email"),
                (_, "cio_id") => Column::Identifier("cio_id"),
                (CsvKind::Events, "name") => Column::Name,
                (CsvKind::Events, "timestamp") => Column::Timestamp,
                (CsvKind::Events, "type") => Column::Type,
                _ => Column::Field(name),
            })
            .collect();
        Ok(Self { kind, columns })
    }

    /// The row's operation, or why it has none.
    pub fn operation(&self, record: &csv::StringRecord) -> Result<Value, String> {
        let mut identifiers = Map::new();
        let mut fields = Map::new();
        let mut name = None;
        let mut timestamp = None;
        let mut action = "event";
        for (column, cell) in self.columns.iter().zip(record.iter()) {
            if cell.is_empty() {
                continue;
            }
            match column {
                Column::Identifier(key) => {
                    identifiers.insert((*key).to_owned(), Value::String(cell.to_owned()));
                }
                Column::Name => name = Some(cell.to_owned()),
                Column::Timestamp => timestamp = Some(parse_timestamp(cell)?),
                Column::Type => {
                    action = match cell {
                        "event" => "event",
                        "page" => "page",
                        "screen" => "screen",
                        other => {
                            return Err(format!(
                                "type {other:?} is not one of event, page or screen"
                            ));
                        }
                    }
                }
                Column::Field(key) => {
                    fields.insert(key.clone(), cell_value(cell));
                }
            }
        }
        if !identifiers.contains_key("id") && !identifiers.contains_key("email") {
            return Err("the row has neither an id nor an email".to_owned());
        }
        // An operation names its person by one identifier: the id when there is one. The
        // email then rides along as an attribute, which sets it.
        if identifiers.contains_key("id") {
            identifiers.remove("cio_id");
            if let Some(email) = identifiers.remove("email")
                && self.kind == CsvKind::People
            {
                fields.insert("email".into(), email);
            }
        } else if identifiers.contains_key("email") {
            identifiers.remove("cio_id");
        }
        match self.kind {
            CsvKind::People => Ok(json!({
                "type": "person",
                "action": "identify",
                "identifiers": identifiers,
                "attributes": fields,
            })),
            CsvKind::Events => {
                let Some(name) = name else {
                    return Err("the row has no event name".to_owned());
                };
                let mut operation = json!({
                    "type": "person",
                    "action": action,
                    "identifiers": identifiers,
                    "name": name,
                    "attributes": fields,
                });
                if let Some(timestamp) = timestamp {
                    operation["timestamp"] = json!(timestamp);
                }
                Ok(operation)
            }
        }
    }
}

fn parse_timestamp(cell: &str) -> Result<i64, String> {
    if let Ok(seconds) = cell.parse::<i64>() {
        return Ok(seconds);
    }
    cell.parse::<jiff::Timestamp>()
        .map(|timestamp| timestamp.as_second())
        .map_err(|_| {
            format!(
                "timestamp {cell:?} is neither unix seconds nor RFC 3339 (2026-12-04T10:00:00Z)"
            )
        })
}

/// A cell's value: a number or boolean when the text is exactly one, else the text.
fn cell_value(cell: &str) -> Value {
    match cell {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(number) = serde_json::from_str::<serde_json::Number>(cell)
        && number.to_string() == cell
    {
        return Value::Number(number);
    }
    Value::String(cell.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cells: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(cells.to_vec())
    }

    #[test]
    fn people_rows_become_identifies_with_typed_cells() {
        let shape = RowShape::new(&record(&["id", "email", "plan", "seats", "zip"]), None).unwrap();
        let operation = shape
            .operation(&record(&["42", "ann@example.com", "pro", "30", "02139"]))
            .unwrap();
        assert_eq!(
            operation,
            json!({"type": "person", "action": "identify",
                   "identifiers": {"id": "42"},
                   "attributes": {"email": "ann@example.com", "plan": "pro", "seats": 30, "zip": "02139"}})
        );
        assert!(shape.operation(&record(&["", "", "pro"])).is_err());
    }

    #[test]
    fn event_rows_take_unix_or_rfc3339_times() {
        let shape = RowShape::new(&record(&["email", "name", "timestamp", "total"]), None).unwrap();
        let operation = shape
            .operation(&record(&[
                "a@b.co",
                "purchased",
                "2026-12-04T10:00:00Z",
                "4.5",
            ]))
            .unwrap();
        assert_eq!(operation["action"], "event");
        assert_eq!(operation["timestamp"], 1_796_378_400);
        assert_eq!(operation["attributes"]["total"], 4.5);
        let bad = shape.operation(&record(&["a@b.co", "purchased", "yesterday", ""]));
        assert!(bad.unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn a_header_without_a_person_column_is_refused() {
        let error = RowShape::new(&record(&["name", "plan"]), Some(CsvKind::People)).unwrap_err();
        assert!(error.to_string().contains("`id` or an `email`"));
    }
}
