//! The command-line contract: first start, workspace create/list, config layering.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{Server, create_workspace, herald_binary};

#[test]
fn first_start_creates_a_default_workspace_and_prints_its_credentials_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let banner = server.banner.join("\n");
    assert!(banner.contains("workspace \"default\""), "{banner}");
    for label in ["site id:", "Track API key:", "App API key:"] {
        assert!(banner.contains(label), "{banner}");
    }
    server.kill();
    let again = Server::start(dir.path(), &[]);
    assert!(
        again.banner.is_empty(),
        "credentials are printed only once: {:?}",
        again.banner
    );
}

#[test]
fn workspace_create_and_list_work_beside_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let _server = Server::start(dir.path(), &[]);
    let created = create_workspace(dir.path(), "second");
    assert!(created.id > 1);
    let output = crate::helpers::herald(dir.path())
        .args(["workspace", "list", "--json", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, vec!["default", "second"]);
    let duplicate = crate::helpers::herald(dir.path())
        .args(["workspace", "create", "second", "--json", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
}

#[test]
fn settings_come_from_env_and_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("from-config");
    let config = dir.path().join("herald.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\n",
            data_dir.display().to_string()
        ),
    )
    .unwrap();
    let output = Command::new(herald_binary())
        .args(["workspace", "create", "cfg", "--json"])
        .env("HERALD_CONFIG", &config)
        .env_remove("HERALD_DATA_DIR")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        data_dir.join("herald.db").exists(),
        "the config file's data_dir is used"
    );
    let env_dir = dir.path().join("from-env");
    let output = Command::new(herald_binary())
        .args(["workspace", "create", "env", "--json"])
        .env("HERALD_CONFIG", &config)
        .env("HERALD_DATA_DIR", &env_dir)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(
        env_dir.join("herald.db").exists(),
        "the environment overrides the config file"
    );
}

/// `herald migrate` creates the schema alone, on either backend, and a second run finds it up
/// to date; it creates no workspace (that is the first start's).
#[test]
fn migrate_creates_the_schema_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = crate::helpers::herald(dir.path())
            .args(["migrate", "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("up to date"));
    }
    let output = crate::helpers::herald(dir.path())
        .args(["workspace", "list", "--json", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn cluster_mode_needs_a_postgresql_database() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, env) in [(Some("--cluster"), None), (None, Some("true"))] {
        let mut command = crate::helpers::herald_embedded();
        command.args(["serve", "--data-dir"]).arg(dir.path());
        command.args(["--listen", "127.0.0.1:0"]);
        command.args(flag);
        if let Some(value) = env {
            command.env("HERALD_CLUSTER", value);
        }
        let output = command.output().expect("herald runs");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("give --database-url"), "{stderr}");
    }
}
