//! Reading an import file into steps: runs of lines, each line one Track API v2 operation.
//!
//! NDJSON files hold one operation a line. CSV files hold people (an `id` and/or `email`
//! column, every other column an attribute) or events (a person column, `name`, `timestamp`,
//! and every other column the event's data); `csv_rows.rs` turns a row into the operation.
//! A "line" is what the import counts and resumes by: a physical line of NDJSON, a record of
//! CSV (the header is line 0).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::Context;

use super::csv_rows::{CsvKind, RowShape};

/// Lines at most in one step: one step is one job of the server's writer, and larger jobs
/// measured faster (see `mod.rs`).
pub const STEP_LINES: usize = 8_000;
/// Operation bytes at most in one step, well under the server's 4 MiB body limit.
const STEP_BYTES: usize = 2 * 1024 * 1024;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Csv(Option<CsvKind>),
}

impl Format {
    /// The format a file's name says (`.csv`, else NDJSON), with the CSV kind if given.
    pub fn of(path: &Path, csv_kind: Option<CsvKind>) -> Self {
        let csv = path
            .extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"));
        if csv {
            Self::Csv(csv_kind)
        } else {
            Self::Ndjson
        }
    }
}

/// A line the importer itself could not read (not JSON, a CSV row without a person).
#[derive(Debug, Clone)]
pub struct BadLine {
    /// 1-based, as an editor shows it.
    pub line: u64,
    pub message: String,
}

/// One step: the operations of lines `[first_line, end_line)`, each with its line.
#[derive(Debug, Default)]
pub struct Step {
    pub first_line: u64,
    pub end_line: u64,
    /// Each operation as JSON text: an NDJSON line is checked to be JSON and sent as it is,
    /// never parsed into values and written again.
    pub operations: Vec<String>,
    /// The 1-based line of each operation, for the server's errors by batch index.
    pub lines: Vec<u64>,
    pub bad: Vec<BadLine>,
    /// How far into the file the step ends, for the progress bar.
    pub bytes_read: u64,
    bytes: usize,
}

impl Step {
    fn starting_at(line: u64) -> Self {
        Self {
            first_line: line,
            end_line: line,
            ..Self::default()
        }
    }

    fn full(&self, step_lines: usize) -> bool {
        (self.end_line - self.first_line) as usize >= step_lines || self.bytes >= STEP_BYTES
    }
}

/// Reads `path` from line `start` on and hands each step of at most `step_lines` lines to
/// `emit`, which returns false to stop reading.
pub fn read_steps(
    path: &Path,
    format: Format,
    start: u64,
    step_lines: usize,
    emit: &mut dyn FnMut(Step) -> bool,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let step_lines = step_lines.max(1);
    match format {
        Format::Ndjson => read_ndjson(
            BufReader::with_capacity(1 << 20, file),
            start,
            step_lines,
            emit,
        ),
        Format::Csv(kind) => read_csv(file, kind, start, step_lines, emit),
    }
}

fn read_ndjson(
    mut reader: impl BufRead,
    start: u64,
    step_lines: usize,
    emit: &mut dyn FnMut(Step) -> bool,
) -> anyhow::Result<()> {
    let mut line = String::new();
    let mut number = 0_u64;
    let mut bytes_read = 0_u64;
    let mut step = Step::starting_at(start);
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .with_context(|| format!("cannot read line {}", number + 1))?;
        if read == 0 {
            break;
        }
        bytes_read += read as u64;
        number += 1;
        if number <= start {
            continue;
        }
        step.end_line = number;
        step.bytes_read = bytes_read;
        let text = line.trim();
        if !text.is_empty() {
            match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => {
                    step.bytes += text.len();
                    step.operations.push(text.to_owned());
                    step.lines.push(number);
                }
                Err(error) => step.bad.push(BadLine {
                    line: number,
                    message: format!("not JSON: {error}"),
                }),
            }
        }
        if step.full(step_lines) {
            let next = Step::starting_at(number);
            if !emit(std::mem::replace(&mut step, next)) {
                return Ok(());
            }
        }
    }
    if step.end_line > step.first_line {
        emit(step);
    }
    Ok(())
}

fn read_csv(
    file: impl Read,
    kind: Option<CsvKind>,
    start: u64,
    step_lines: usize,
    emit: &mut dyn FnMut(Step) -> bool,
) -> anyhow::Result<()> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let headers = reader
        .headers()
        .context("cannot read the CSV header")?
        .clone();
    let shape = RowShape::new(&headers, kind)?;
    let mut record = csv::StringRecord::new();
    let mut number = 0_u64;
    let mut step = Step::starting_at(start);
    loop {
        let more = reader
            .read_record(&mut record)
            .with_context(|| format!("cannot read CSV record {}", number + 1))?;
        if !more {
            break;
        }
        number += 1;
        if number <= start {
            continue;
        }
        // The header is the file's first line; a record's line is where it starts.
        let line = record
            .position()
            .map_or(number + 1, |position| position.line());
        step.end_line = number;
        step.bytes_read = reader.position().byte();
        match shape.operation(&record) {
            Ok(operation) => {
                step.bytes += record.as_slice().len() + 64;
                step.operations.push(operation.to_string());
                step.lines.push(line);
            }
            Err(message) => step.bad.push(BadLine { line, message }),
        }
        if step.full(step_lines) {
            let next = Step::starting_at(number);
            if !emit(std::mem::replace(&mut step, next)) {
                return Ok(());
            }
        }
    }
    if step.end_line > step.first_line {
        emit(step);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps_of(text: &str, start: u64) -> Vec<Step> {
        let mut steps = Vec::new();
        read_ndjson(text.as_bytes(), start, STEP_LINES, &mut |step| {
            steps.push(step);
            true
        })
        .unwrap();
        steps
    }

    #[test]
    fn ndjson_steps_cover_every_line_once_and_resume_after_the_start() {
        let mut text = String::new();
        for index in 0..(STEP_LINES + 10) {
            text.push_str(&format!("{{\"n\":{index}}}\n"));
        }
        text.push_str("\nnot json\n");
        let steps = steps_of(&text, 0);
        assert_eq!(steps.len(), 2);
        assert_eq!(
            (steps[0].first_line, steps[0].end_line),
            (0, STEP_LINES as u64)
        );
        let last = &steps[1];
        assert_eq!(last.first_line, STEP_LINES as u64);
        assert_eq!(last.end_line, STEP_LINES as u64 + 12);
        assert_eq!(last.operations.len(), 10);
        assert_eq!(last.bad.len(), 1);
        assert_eq!(last.bad[0].line, STEP_LINES as u64 + 12);

        let resumed = steps_of(&text, STEP_LINES as u64 + 5);
        assert_eq!(resumed.len(), 1);
        assert_eq!(resumed[0].first_line, STEP_LINES as u64 + 5);
        assert_eq!(
            resumed[0].operations[0],
            format!(r#"{{"n":{}}}"#, STEP_LINES + 5)
        );
    }
}
