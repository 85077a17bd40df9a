//! What the benchmark needs on the server before it measures: a running webhook campaign
//! aimed at the receiver, and the people the events are about.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, Uri};
use serde_json::{Value, json};

use super::client::Connection;
use crate::target::Target;

/// Creates and starts the campaign: every `purchased` event sends one webhook whose body is the
/// event's `seq`, which is how the receiver tells events apart. Returns the campaign's id.
pub async fn start_campaign(
    target: &Target,
    app_api_key: &str,
    receiver: SocketAddr,
) -> anyhow::Result<i64> {
    let authorization = HeaderValue::from_str(&format!("Bearer {app_api_key}"))?;
    let mut connection = Connection::open(target).await?;
    let campaign = json!({"campaign": {
        "name": "bench",
        "trigger": {"event": {"name": "purchased"}},
        "steps": [{"webhook": {"url": format!("http://{receiver}/hook"), "body": "{{ event.seq }}"}}],
    }});
    let created = call(
        &mut connection,
        &authorization,
        "/v1/campaigns".parse()?,
        &campaign,
    )
    .await?;
    let id = created["campaign"]["id"]
        .as_i64()
        .with_context(|| format!("the created campaign has no id: {created}"))?;
    call(
        &mut connection,
        &authorization,
        format!("/v1/campaigns/{id}/start").parse()?,
        &json!({}),
    )
    .await?;
    Ok(id)
}

async fn call(
    connection: &mut Connection,
    authorization: &HeaderValue,
    path: Uri,
    body: &Value,
) -> anyhow::Result<Value> {
    let shown = path.to_string();
    let (status, answer) = connection
        .send(
            Method::POST,
            path,
            authorization,
            Bytes::from(body.to_string()),
        )
        .await?;
    if !status.is_success() {
        bail!(
            "POST {shown} answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    serde_json::from_slice(&answer).with_context(|| format!("POST {shown} did not answer JSON"))
}

/// Identifies `p0` … `p{people-1}` over `connections` connections, so every event of the run
/// is about a person who exists.
pub async fn identify(target: &Target, people: u64, connections: u64) -> anyhow::Result<()> {
    identify_as(target, "p", people, connections).await
}

/// Identifies `{prefix}0` … `{prefix}{people-1}` over `connections` connections.
pub async fn identify_as(
    target: &Target,
    prefix: &'static str,
    people: u64,
    connections: u64,
) -> anyhow::Result<()> {
    let mut workers = Vec::new();
    for first in 0..connections.min(people) {
        let mut connection = Connection::open(target).await?;
        let target = target.clone();
        workers.push(tokio::spawn(async move {
            for person in (first..people).step_by(connections as usize) {
                let path: Uri = format!("/api/v1/customers/{prefix}{person}").parse()?;
                let (status, answer) = connection
                    .send(
                        Method::PUT,
                        path,
                        &target.authorization,
                        Bytes::from_static(b"{}"),
                    )
                    .await?;
                if !status.is_success() {
                    bail!(
                        "identifying {prefix}{person} answered {status}: {}",
                        String::from_utf8_lossy(&answer)
                    );
                }
            }
            Ok(())
        }));
    }
    for worker in workers {
        worker.await.context("an identify task panicked")??;
    }
    Ok(())
}
