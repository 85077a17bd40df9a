//! Accepting connections (plain or TLS) and serving HTTP/1.1 on them, with the timeouts of
//! [`watched`]: no connection can be held open by a client that sends nothing, sends its
//! headers a byte at a time, or never reads its answers.

mod watched;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::{Layer, ServiceExt};

pub use watched::Deadlines;
use watched::{Activity, Watched};

/// Serves `router` on every connection `listener` accepts until `shutdown` resolves, then stops
/// accepting and lets the requests in progress finish, for at most `drain`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    deadlines: Deadlines,
    shutdown: impl std::future::Future<Output = ()>,
    drain: Duration,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Running out of file descriptors must not spin the loop.
                tracing::warn!(error = %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Small answers on kept-alive connections must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let watcher = graceful.watcher();
        let router = router.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let activity = Arc::new(Activity::default());
            let stream = Watched::new(stream, activity.clone(), deadlines);
            match tls {
                None => connection(stream, peer, router, activity, watcher).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => connection(stream, peer, router, activity, watcher).await,
                    Err(error) => {
                        tracing::debug!(error = %error, peer = %peer, "TLS handshake failed");
                    }
                },
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in progress after {drain:?}; stopping anyway");
    }
}

/// Serves one connection; each request is counted as busy while its handler runs.
async fn connection<S>(
    stream: S,
    peer: SocketAddr,
    router: Router,
    activity: Arc<Activity>,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // The peer address feeds the browser endpoints' per-address rate limit.
    let service = axum::Extension(ConnectInfo(peer)).layer(router);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let busy = activity.begin();
        let service = service.clone();
        async move {
            let response = service.oneshot(request.map(axum::body::Body::new)).await;
            drop(busy);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The socket's own deadlines replace hyper's header timer, which would also run while a
    // connection is idle.
    builder.timer(TokioTimer::new()).header_read_timeout(None);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(error = %error, peer = %peer, "connection ended with an error");
    }
}
