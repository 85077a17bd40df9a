//! `herald copy`: moves an embedded install to PostgreSQL (the copy itself is
//! `herald_store_copy`), with a progress bar on stderr and the row counts at the end.

use std::time::Instant;

use anyhow::Context;
use herald_store_copy::{CopyError, CopyOptions, Outcome, Progress, Report, TableCount};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::CopyArgs;
use crate::config::Settings;

pub fn run(args: CopyArgs) -> anyhow::Result<()> {
    let options = CopyOptions {
        target_schema: args.to_schema.clone(),
        chunk_rows: args.chunk_rows,
        stop_after_rows: args.stop_after_rows,
        ..CopyOptions::new(Settings::database_path(&args.from_data_dir), args.to)
    };
    // The URL may hold a password: only the schema is ever printed.
    let schema = args.to_schema.as_deref().unwrap_or("default");
    eprintln!(
        "copying {} to PostgreSQL (schema {schema}); the server on the data dir must be stopped",
        options.source.display()
    );
    let started = Instant::now();
    let mut bar = Bar::default();
    let copied = herald_store_copy::copy(&options, &mut bar);
    bar.clear();
    match copied {
        Ok(report) => {
            let seconds = started.elapsed().as_secs_f64();
            if args.json {
                print_json(true, Some(&report), &report.tables)?;
            } else {
                print_counts(&report.tables);
            }
            // With --json, stdout holds only the JSON; the rest goes to stderr.
            let say = |line: String| {
                if args.json {
                    eprintln!("{line}");
                } else {
                    println!("{line}");
                }
            };
            say(match report.outcome {
                Outcome::AlreadyComplete => {
                    "the copy was already complete; checked again: every table holds as many rows on both sides".into()
                }
                _ => format!(
                    "the copy is complete and checked: every table holds as many rows on both sides \
                     ({} rows copied in {seconds:.1} s, {:.0} rows/s)",
                    report.rows_copied,
                    report.rows_copied as f64 / seconds.max(0.001)
                ),
            });
            say(format!(
                "start servers with --data-dir {} --database-url URL{}: keep that data dir, its \
                 keys.secret seals the workspace keys and its engine.image spares the first start \
                 reading the whole history",
                args.from_data_dir.display(),
                args.to_schema
                    .as_deref()
                    .map(|name| format!(" --database-schema {name}"))
                    .unwrap_or_default()
            ));
            Ok(())
        }
        Err(error @ (CopyError::CountsDiffer(_) | CopyError::ChangedSinceCopy(_))) => {
            if let CopyError::CountsDiffer(tables) | CopyError::ChangedSinceCopy(tables) = &error {
                if args.json {
                    print_json(false, None, tables)?;
                } else {
                    print_counts(tables);
                }
            }
            Err(error).context("the check after the copy failed")
        }
        Err(error) => Err(error).context("the copy stopped"),
    }
}

fn print_counts(tables: &[TableCount]) {
    println!("{:<18} {:>12} {:>12}", "table", "source", "target");
    for count in tables {
        let mark = if count.source == count.target {
            ""
        } else {
            "  differs"
        };
        println!(
            "{:<18} {:>12} {:>12}{mark}",
            count.table, count.source, count.target
        );
    }
}

fn print_json(
    complete: bool,
    report: Option<&Report>,
    tables: &[TableCount],
) -> anyhow::Result<()> {
    let outcome = report.map(|report| match report.outcome {
        Outcome::Copied => "copied",
        Outcome::Resumed => "resumed",
        Outcome::AlreadyComplete => "already_complete",
    });
    let value = serde_json::json!({
        "complete": complete,
        "outcome": outcome,
        "rows_copied": report.map(|report| report.rows_copied),
        "tables": tables,
    });
    println!("{}", serde_json::to_string(&value)?);
    Ok(())
}

/// The progress bar: the table being copied, rows per second and the time left, on stderr.
/// indicatif draws nothing when stderr is not a terminal (logs, tests).
#[derive(Default)]
struct Bar {
    bar: Option<ProgressBar>,
}

impl Bar {
    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn note(&mut self, message: &str) {
        eprintln!("{message}");
    }

    fn start(&mut self, total: u64, already: u64) {
        if already > 0 {
            eprintln!(
                "going on with the copy begun earlier: {already} of {total} rows were copied"
            );
        }
        let style = ProgressStyle::with_template(
            "{msg:<16} [{wide_bar}] {human_pos}/{human_len} rows, {rate} rows/s, ETA {eta}",
        )
        .expect("the template is valid")
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.0}", state.per_sec());
            },
        )
        .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(style)
            .with_position(already);
        // The rows of earlier runs are not this run's speed.
        bar.reset_eta();
        self.bar = Some(bar);
    }

    fn copied(&mut self, table: &str, rows: u64) {
        if let Some(bar) = &self.bar {
            bar.set_message(table.to_owned());
            bar.inc(rows);
        }
    }

    fn finish(&mut self) {
        self.clear();
    }
}
