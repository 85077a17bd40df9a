//! The address a browser request comes from, for the per-address rate limit.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{HeaderName, Request};

/// Returns the client's address: the last entry of the trusted proxy header when one is
/// configured and present (the entry the nearest proxy appended, which a client cannot forge),
/// else the connection's peer. `None` when neither is known (a router run without a listener).
pub fn client_ip<B>(request: &Request<B>, proxy_header: Option<&HeaderName>) -> Option<IpAddr> {
    let from_proxy = proxy_header
        .and_then(|name| request.headers().get_all(name).iter().next_back())
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.rsplit(',').next())
        .and_then(|last| parse_address(last.trim()));
    from_proxy.or_else(|| {
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip())
    })
}

/// Reads an address as proxies write it: bare, or with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(forwarded: &[&str]) -> Request<()> {
        let mut builder = Request::builder().uri("/");
        for value in forwarded {
            builder = builder.header("x-forwarded-for", *value);
        }
        let mut request = builder.body(()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 4000))));
        request
    }

    #[test]
    fn the_peer_is_the_client_unless_a_proxy_header_is_trusted() {
        let header = HeaderName::from_static("x-forwarded-for");
        let forwarded = request(&["203.0.113.9, 198.51.100.4"]);
        assert_eq!(
            client_ip(&forwarded, None),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            client_ip(&forwarded, Some(&header)),
            Some("198.51.100.4".parse().unwrap())
        );
        let ported = request(&["[2001:db8::1]:443"]);
        assert_eq!(
            client_ip(&ported, Some(&header)),
            Some("2001:db8::1".parse().unwrap())
        );
        let garbage = request(&["unknown"]);
        assert_eq!(
            client_ip(&garbage, Some(&header)),
            Some("10.0.0.1".parse().unwrap())
        );
    }
}
