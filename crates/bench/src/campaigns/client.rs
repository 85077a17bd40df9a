//! One keep-alive HTTP/1.1 connection to the server under test, for the campaign benchmark's
//! setup calls and its events.

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};

use crate::target::Target;

/// A connection that carries one request at a time.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl Connection {
    pub async fn open(target: &Target) -> anyhow::Result<Self> {
        Ok(Self {
            sender: crate::worker::connect(target).await?,
            host: target.host.clone(),
        })
    }

    /// Sends a JSON body and reads the whole answer, so the connection can carry the next one.
    pub async fn send(
        &mut self,
        method: Method,
        path: Uri,
        authorization: &HeaderValue,
        body: Bytes,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, authorization.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(Full::new(body))?;
        self.sender.ready().await.context("the connection closed")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .context("the request failed")?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .context("the answer was cut off")?
            .to_bytes();
        Ok((status, body))
    }
}
