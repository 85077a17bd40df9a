//! HTTP calls to the server under test, one keep-alive connection each.

use std::time::Duration;

use anyhow::Context;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use serde_json::Value;

use super::Setup;
use crate::campaigns::client::Connection;
use crate::target::Target;

/// A connection with both APIs' credentials.
pub struct Client {
    connection: Connection,
    track: HeaderValue,
    app: HeaderValue,
}

impl Client {
    pub async fn open(setup: &Setup) -> anyhow::Result<Self> {
        let target = target(setup)?;
        let app = HeaderValue::from_str(&format!("Bearer {}", setup.app_api_key))?;
        Ok(Self {
            connection: Connection::open(&target).await?,
            track: target.authorization,
            app,
        })
    }

    /// Connects, retrying until the server listens or `patience` passed.
    pub async fn wait_open(setup: &Setup, patience: Duration) -> anyhow::Result<Self> {
        let end = std::time::Instant::now() + patience;
        loop {
            match Self::open(setup).await {
                Ok(client) => return Ok(client),
                Err(error) if std::time::Instant::now() > end => return Err(error),
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    pub async fn track(
        &mut self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let authorization = self.track.clone();
        self.send(method, path, &authorization, body).await
    }

    pub async fn app(
        &mut self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let authorization = self.app.clone();
        self.send(method, path, &authorization, body).await
    }

    /// A GET whose answer is not JSON (`/healthz`): only its status.
    pub async fn status_of(&mut self, path: &str) -> anyhow::Result<StatusCode> {
        let authorization = self.app.clone();
        let (status, _) = self
            .connection
            .send(
                Method::GET,
                path.parse()?,
                &authorization,
                Vec::new().into(),
            )
            .await?;
        Ok(status)
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        authorization: &HeaderValue,
        body: &Value,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(body)?
        };
        let (status, answer) = self
            .connection
            .send(method, path.parse()?, authorization, bytes.into())
            .await?;
        let answer = if answer.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&answer)
                .with_context(|| format!("{path} answered {status} without JSON"))?
        };
        Ok((status, answer))
    }
}

pub fn target(setup: &Setup) -> anyhow::Result<Target> {
    Target::new(
        &format!("http://127.0.0.1:{}", setup.port),
        &setup.site_id,
        &setup.api_key,
    )
}
