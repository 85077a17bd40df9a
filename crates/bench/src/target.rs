//! Where the load goes and how it authenticates.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{Context, bail};
use base64::Engine;
use hyper::Uri;
use hyper::header::HeaderValue;

/// The server under test: its socket address, its `Host` header and the Basic auth header.
#[derive(Clone)]
pub struct Target {
    pub address: SocketAddr,
    pub host: HeaderValue,
    pub authorization: HeaderValue,
}

impl Target {
    /// Parses `http://host:port` and refuses anything that does not resolve to loopback: the
    /// generator is meant to load a server on this machine and nothing else.
    pub fn new(url: &str, site_id: &str, api_key: &str) -> anyhow::Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("--url {url:?} is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            bail!("--url must start with http:// (the generator speaks plain HTTP/1.1)");
        }
        let authority = uri.authority().context("--url needs a host")?;
        let port = authority.port_u16().unwrap_or(80);
        let address = (authority.host(), port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {}", authority.host()))?
            .next()
            .context("the host resolves to no address")?;
        if !address.ip().is_loopback() {
            bail!("{address} is not a loopback address: the benchmark only loads a local server");
        }
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{site_id}:{api_key}"));
        Ok(Self {
            address,
            host: HeaderValue::from_str(authority.as_str())?,
            authorization: HeaderValue::from_str(&format!("Basic {credentials}"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_accepted_and_other_addresses_are_refused() {
        let target = Target::new("http://127.0.0.1:9000", "site", "key").unwrap();
        assert_eq!(target.address.port(), 9000);
        assert_eq!(target.authorization, "Basic c2l0ZTprZXk=");
        assert!(Target::new("http://10.1.2.3:9000", "site", "key").is_err());
        assert!(Target::new("https://127.0.0.1:9000", "site", "key").is_err());
    }
}
