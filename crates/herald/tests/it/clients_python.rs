//! The unmodified official Python client (customerio 3.2.0) against a running server over TLS.
//!
//! The client only speaks https (customerio-compat.md §6.1), so the server gets a self-signed
//! certificate for 127.0.0.1 and the script trusts it through `REQUESTS_CA_BUNDLE`. The script,
//! `tests/clients/python/test_track.py`, calls every Track method and the App API client's
//! transactional sends, and checks each call's effect through the App API.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::helpers::TestApp;

/// The script that drives the client.
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/clients/python/test_track.py"
);

/// The virtualenv `./scripts/test` installs the pinned client into.
const VENV_PYTHON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/py/bin/python");

/// How long the whole script may take; it makes a few dozen local requests.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// Picks the interpreter: `HERALD_TEST_PYTHON` (set by `./scripts/test`), else the project's
/// virtualenv, else whatever `python3` is on the path.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("HERALD_TEST_PYTHON").filter(|path| !path.is_empty()) {
        return PathBuf::from(path);
    }
    let venv = Path::new(VENV_PYTHON);
    if venv.exists() {
        return venv.to_owned();
    }
    PathBuf::from("python3")
}

/// Writes a self-signed certificate for `IP:127.0.0.1` and its key into `dir`.
fn self_signed_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let output = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl command runs (it generates the test's TLS certificate)");
    assert!(
        output.status.success(),
        "openssl could not create a certificate:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (cert, key)
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A command for the interpreter with an environment that cannot change what the script does:
/// no proxies between it and 127.0.0.1, and asserts kept.
fn python_command(python: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(python);
    for variable in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env_remove(variable);
    }
    command
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("PYTHONOPTIMIZE")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn official_python_client_drives_every_track_method_over_tls() {
    let python = python();
    // A missing client is a failure, not a skip: this test is the proof that it works.
    let import = python_command(&python)
        .args(["-c", "import customerio, requests; from importlib.metadata import version; print(version('customerio'))"])
        .output()
        .await
        .unwrap_or_else(|error| panic!("cannot run the Python interpreter {}: {error}", python.display()));
    assert!(
        import.status.success(),
        "the official client `customerio` cannot be imported with {}; run ./scripts/test, or \
         `python3 -m venv target/py && target/py/bin/pip install -r tests/clients/python/requirements.txt`\n{}",
        python.display(),
        describe(&import)
    );

    let certs = tempfile::tempdir().expect("temporary dir");
    let (cert, key) = self_signed_certificate(certs.path());
    let cert_arg = cert.to_str().expect("UTF-8 temp path");
    let key_arg = key.to_str().expect("UTF-8 temp path");
    // Transactional sends go to a real SMTP server and push gateway.
    let smtp = crate::smtp_sink::SmtpSink::start().await;
    let gateway = crate::receiver::Receiver::start().await;
    let app = TestApp::spawn_with(&[
        "--tls-cert",
        cert_arg,
        "--tls-key",
        key_arg,
        &format!("--smtp-url={}", smtp.url()),
        &format!("--push-gateway-url={}/push", gateway.base_url),
    ])
    .await;
    let base_url = &app.server.base_url;
    let port = base_url
        .strip_prefix("https://127.0.0.1:")
        .unwrap_or_else(|| {
            panic!("the server should listen on https://127.0.0.1:PORT, not {base_url}")
        });

    let run = python_command(&python)
        .arg(SCRIPT)
        .env("HERALD_HOST", "127.0.0.1")
        .env("HERALD_PORT", port)
        .env("HERALD_SITE_ID", &app.workspace.site_id)
        .env("HERALD_API_KEY", &app.workspace.api_key)
        .env("HERALD_APP_API_KEY", &app.workspace.app_api_key)
        .env("HERALD_CA_CERT", &cert)
        .env("REQUESTS_CA_BUNDLE", &cert)
        .output();
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("{SCRIPT} did not finish within {SCRIPT_TIMEOUT:?}"))
        .expect("the Python script runs");
    assert!(
        output.status.success(),
        "{SCRIPT} failed\n{}",
        describe(&output)
    );
    println!("{}", String::from_utf8_lossy(&output.stdout));
}
