//! DNS resolution that only ever hands reqwest the addresses the network guard allows.
//!
//! Checking a host name before the request would not be enough: the name could resolve to a
//! public address for the check and to a private one for the connection (DNS rebinding).
//! Filtering inside the resolver means the connection can only use addresses that passed.

use std::error::Error;
use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::guard::NetworkGuard;
use crate::http::PermanentCause;

/// A `reqwest` resolver that looks names up with the system resolver (`tokio::net::lookup_host`)
/// and keeps only the addresses the guard allows.
#[derive(Debug)]
pub(super) struct GuardedResolver {
    guard: NetworkGuard,
}

impl GuardedResolver {
    pub(super) fn new(guard: NetworkGuard) -> Self {
        GuardedResolver { guard }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // The port is a placeholder: reqwest puts the URL's port on every address it gets.
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|error| -> Box<dyn Error + Send + Sync> {
                    format!("cannot resolve webhook host {host}: {error}").into()
                })?
                .collect();
            let (allowed, refused) = filter(&guard, resolved);
            if !allowed.is_empty() {
                return Ok(Box::new(allowed.into_iter()) as Addrs);
            }
            let error: Box<dyn Error + Send + Sync> = match refused.first() {
                Some(reason) => Box::new(PermanentCause(format!(
                    "webhook host {host} resolves only to refused addresses: {reason}"
                ))),
                None => format!("webhook host {host} resolves to no address").into(),
            };
            Err(error)
        })
    }
}

/// Splits resolved addresses into the allowed ones and the reasons the others were refused.
fn filter(guard: &NetworkGuard, resolved: Vec<SocketAddr>) -> (Vec<SocketAddr>, Vec<String>) {
    let mut allowed = Vec::new();
    let mut refused = Vec::new();
    for address in resolved {
        match guard.check(address.ip()) {
            Ok(()) => allowed.push(address),
            Err(reason) => refused.push(reason),
        }
    }
    (allowed, refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::NetworkGuard;

    #[test]
    fn keeps_only_allowed_addresses() {
        let guard = NetworkGuard::parse(&["127.0.0.0/8".to_owned()]).unwrap();
        let resolved = vec![
            "[::1]:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
            "10.1.2.3:0".parse().unwrap(),
        ];
        let (allowed, refused) = filter(&guard, resolved);
        assert_eq!(allowed, vec!["127.0.0.1:0".parse::<SocketAddr>().unwrap()]);
        assert_eq!(refused.len(), 2);
    }
}
