//! The webhook receiver: an HTTP/1.1 server on 127.0.0.1 that records when each event's
//! webhook arrived and answers 200 at once, so the receiver never slows the server down.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::timeline::Timeline;

/// The header every Herald webhook carries; one without it was not sent by Herald's dispatcher.
const DELIVERY_ID: &str = "x-herald-delivery-id";

/// Starts the receiver on the current runtime and returns its address.
pub async fn start(timeline: Arc<Timeline>) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on 127.0.0.1")?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            // Answers are small and written whole; Nagle would only delay the server's next send.
            let _ = stream.set_nodelay(true);
            let timeline = timeline.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| handle(timeline.clone(), request));
                // A connection the server drops mid-request is its own business; the missing
                // webhook shows up in the counts.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(address)
}

async fn handle(
    timeline: Arc<Timeline>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // The arrival is when the request's head was read: the body is a few bytes behind it.
    let arrived = Instant::now();
    if !request.headers().contains_key(DELIVERY_ID) {
        timeline.without_delivery_id.fetch_add(1, Ordering::Relaxed);
    }
    let seq = match request.into_body().collect().await {
        Ok(body) => parse_seq(&body.to_bytes()),
        Err(_) => None,
    };
    match seq {
        Some(seq) => timeline.mark_arrived(seq, arrived),
        None => {
            timeline.unknown.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(Response::new(Full::new(Bytes::new())))
}

/// The campaign renders the body as `{{ event.seq }}`, so it is the bare number.
fn parse_seq(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_bare_sequence_number() {
        assert_eq!(parse_seq(b"42"), Some(42));
        assert_eq!(parse_seq(b" 7\n"), Some(7));
        assert_eq!(parse_seq(b"{}"), None);
    }
}
