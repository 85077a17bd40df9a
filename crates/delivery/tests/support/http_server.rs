//! A real HTTP server on 127.0.0.1 for the webhook and push tests, recording every request.
//!
//! Paths choose the answer: `/status/<code>` answers that status, `/redirect` answers 302 to
//! `/landed`, `/big` answers 5 KiB of text, and anything else answers 200 `ok`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode, header};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Recorded {
    /// Every value of the header `name`, in order.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().expect("test headers are text").to_owned())
            .collect()
    }

    /// The only value of the header `name`; panics if it is missing or repeated.
    pub fn header(&self, name: &str) -> String {
        let values = self.header_values(name);
        assert_eq!(values.len(), 1, "header {name}: {values:?}");
        values.into_iter().next().unwrap()
    }
}

pub struct TestServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorder = requests.clone();
        let router = Router::new().fallback(move |request: Request<Body>| {
            let recorder = recorder.clone();
            async move { answer(request, &recorder).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        TestServer {
            addr,
            requests,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(request: Request<Body>, recorder: &Mutex<Vec<Recorded>>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts.uri.path().to_owned();
    recorder.lock().unwrap().push(Recorded {
        method: parts.method.to_string(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map(|value| value.to_string())
            .unwrap_or_default(),
        headers: parts.headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    });
    if let Some(code) = path.strip_prefix("/status/") {
        let status = StatusCode::from_u16(code.parse().unwrap()).unwrap();
        return Response::builder()
            .status(status)
            .body(Body::from(format!("status {code}")))
            .unwrap();
    }
    match path.as_str() {
        "/redirect" => Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, "/landed")
            .body(Body::empty())
            .unwrap(),
        "/big" => Response::new(Body::from("x".repeat(5 * 1024))),
        _ => Response::new(Body::from("ok")),
    }
}
