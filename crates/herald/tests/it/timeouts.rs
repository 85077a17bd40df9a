//! Connection timeouts: a client that sends its headers a byte at a time, never sends a request,
//! or never finishes its body cannot hold a connection open (issue 11). The timeouts are set to
//! fractions of a second here; each test fails if the server keeps the connection past a bound
//! many times longer.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::TestApp;

/// How long a test waits for the server to close a connection before calling it held open.
const PATIENCE: Duration = Duration::from_secs(15);

async fn app() -> TestApp {
    TestApp::spawn_with(&[
        "--header-read-timeout=500ms",
        "--keep-alive-timeout=1s",
        "--body-read-timeout=500ms",
    ])
    .await
}

fn connect(app: &TestApp) -> TcpStream {
    let address = app.server.base_url.trim_start_matches("http://");
    let stream = TcpStream::connect(address).expect("the server accepts");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads until the server closes the connection; returns what it sent and how long it took.
/// Fails when the connection is still open after [`PATIENCE`].
fn read_until_closed(mut stream: TcpStream) -> (String, Duration) {
    let began = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => break,
            Err(error) => panic!(
                "the connection was still open after {:?} ({error}); received {:?}",
                began.elapsed(),
                String::from_utf8_lossy(&received)
            ),
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        began.elapsed(),
    )
}

#[tokio::test]
async fn half_sent_headers_are_cut_off() {
    let app = app().await;
    let mut stream = connect(&app);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\nX-Slow: ")
        .unwrap();
    let (received, took) = tokio::task::spawn_blocking(move || read_until_closed(stream))
        .await
        .unwrap();
    assert!(received.is_empty(), "{received}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn idle_connections_are_closed_and_busy_ones_kept() {
    let app = app().await;
    // Nothing at all.
    let idle = connect(&app);
    let (received, took) = tokio::task::spawn_blocking(move || read_until_closed(idle))
        .await
        .unwrap();
    assert!(received.is_empty(), "{received}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // A client that keeps sending requests keeps its connection across several idle timeouts'
    // worth of time, then loses it once it stops.
    let mut stream = connect(&app);
    let began = Instant::now();
    let mut answers = 0;
    while began.elapsed() < Duration::from_millis(2_500) {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: herald\r\n\r\n")
            .unwrap();
        let mut buffer = [0_u8; 1024];
        let read = stream
            .read(&mut buffer)
            .expect("the kept-alive connection answers");
        assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
        answers += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(answers >= 5, "{answers}");
    let (_, took) = tokio::task::spawn_blocking(move || read_until_closed(stream))
        .await
        .unwrap();
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn a_body_that_never_finishes_is_answered_408_and_closed() {
    let app = app().await;
    let mut stream = connect(&app);
    stream
        .write_all(
            b"POST /api/v1/metrics HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"delivery",
        )
        .unwrap();
    let (received, took) = tokio::task::spawn_blocking(move || read_until_closed(stream))
        .await
        .unwrap();
    assert!(received.starts_with("HTTP/1.1 408"), "{received}");
    assert!(received.contains("\"code\":\"body_timeout\""), "{received}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}
