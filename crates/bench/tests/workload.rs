//! `herald_bench::workload` against the reference generator: the fixtures under `fixtures/` were
//! written by `gen_workload.py` (see `fixtures/README.md`), and the Rust output must equal them
//! byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;

use herald_bench::workload::Workload;

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Fails with the first differing line rather than two megabytes of bytes, so a mismatch says
/// which row and which column went wrong.
fn assert_same(what: &str, actual: &[u8], expected: &[u8]) {
    if actual == expected {
        return;
    }
    let actual = String::from_utf8_lossy(actual);
    let expected = String::from_utf8_lossy(expected);
    let mut actual_lines = actual.lines();
    let mut expected_lines = expected.lines();
    for line in 1.. {
        match (actual_lines.next(), expected_lines.next()) {
            (Some(a), Some(e)) if a == e => continue,
            (a, e) => panic!("{what} differs at line {line}: got {a:?}, the reference has {e:?}"),
        }
    }
}

fn assert_matches_fixture(workload: Workload, fixture: &str) {
    let dir = fixture_dir(fixture);
    let mut people = Vec::new();
    workload.write_people(&mut people).unwrap();
    assert_same(
        &format!("{fixture}/people.csv"),
        &people,
        &read(&dir.join("people.csv")),
    );
    let mut events = Vec::new();
    workload.write_events(&mut events).unwrap();
    assert_same(
        &format!("{fixture}/events.csv"),
        &events,
        &read(&dir.join("events.csv")),
    );
}

#[test]
fn seed_42_matches_the_reference_generator() {
    let workload = Workload {
        people: 2_000,
        events: 20_000,
        seed: 42,
    };
    assert_matches_fixture(workload, "p2000-e20000-s42");
}

#[test]
fn the_largest_seed_matches_the_reference_generator() {
    let workload = Workload {
        people: 300,
        events: 5_000,
        seed: u64::MAX - 2,
    };
    assert_matches_fixture(workload, "p300-e5000-s18446744073709551613");
}

#[test]
fn the_workload_subcommand_writes_the_reference_files() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("herald-bench-workload-cli");
    // A previous run's files must not be able to pass for this run's.
    let _ = std::fs::remove_dir_all(&out);
    let status = Command::new(env!("CARGO_BIN_EXE_herald-bench"))
        .args(["workload", "--people", "2000", "--events", "20000", "--out"])
        .arg(&out)
        .output()
        .expect("herald-bench runs");
    assert!(
        status.status.success(),
        "herald-bench workload failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let fixture = fixture_dir("p2000-e20000-s42");
    for file in ["people.csv", "events.csv"] {
        assert_same(file, &read(&out.join(file)), &read(&fixture.join(file)));
    }
    std::fs::remove_dir_all(&out).unwrap();
}
