//! What a server operator decides about the browser endpoints: which web pages may call them
//! and how fast.

use axum::http::HeaderName;

pub use crate::rate_limit::RateLimit;

/// Which origins may call the browser endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Any page, answered with `Access-Control-Allow-Origin: *` (and never with credentials).
    #[default]
    Any,
    /// Only these origins, each as `scheme://host[:port]` in lower case.
    List(Vec<String>),
}

impl AllowedOrigins {
    /// Reads a list of origins; an empty list, or one holding `*`, allows any origin.
    pub fn parse<S: AsRef<str>>(origins: &[S]) -> Result<Self, String> {
        let mut list = Vec::new();
        for origin in origins {
            let origin = origin.as_ref().trim();
            if origin.is_empty() {
                continue;
            }
            if origin == "*" {
                return Ok(Self::Any);
            }
            list.push(normalize_origin(origin)?);
        }
        Ok(if list.is_empty() {
            Self::Any
        } else {
            Self::List(list)
        })
    }

    /// Tells whether a request's `Origin` header value is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            Self::Any => true,
            Self::List(list) => list
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(origin)),
        }
    }
}

/// Checks an origin as a browser sends it: a scheme, a host, maybe a port, and nothing else.
fn normalize_origin(origin: &str) -> Result<String, String> {
    let lower = origin.trim_end_matches('/').to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| {
            format!("allowed origin {origin:?} must start with https:// or http://, e.g. https://www.example.com")
        })?;
    let valid = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !valid {
        return Err(format!(
            "allowed origin {origin:?} must be only a scheme, a host and a port, without a path, e.g. https://www.example.com:8443"
        ));
    }
    Ok(lower)
}

/// The browser endpoints' settings.
#[derive(Debug, Clone)]
pub struct BrowserSettings {
    pub allowed_origins: AllowedOrigins,
    /// Requests one client address may make (IPv6 addresses count per /64).
    pub per_ip: RateLimit,
    /// Requests one workspace may receive from all browsers together.
    pub per_site: RateLimit,
    /// A header a trusted reverse proxy sets to the client's address (e.g. `x-forwarded-for`,
    /// whose last entry is used); without it, the connection's peer address is the client.
    pub client_ip_header: Option<HeaderName>,
}

impl BrowserSettings {
    pub const DEFAULT_PER_IP: RateLimit = RateLimit::new(1200, 60);
    pub const DEFAULT_PER_SITE: RateLimit = RateLimit::new(60_000, 60);
}

impl Default for BrowserSettings {
    fn default() -> Self {
        Self {
            allowed_origins: AllowedOrigins::Any,
            per_ip: Self::DEFAULT_PER_IP,
            per_site: Self::DEFAULT_PER_SITE,
            client_ip_header: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized_and_checked() {
        let origins =
            AllowedOrigins::parse(&["https://WWW.Example.com/", "http://localhost:3000"]).unwrap();
        assert!(origins.allows("https://www.example.com"));
        assert!(origins.allows("http://localhost:3000"));
        assert!(!origins.allows("http://www.example.com"));
        assert!(!origins.allows("null"));
        assert_eq!(
            AllowedOrigins::parse(&["", "*"]).unwrap(),
            AllowedOrigins::Any
        );
        assert_eq!(
            AllowedOrigins::parse::<&str>(&[]).unwrap(),
            AllowedOrigins::Any
        );
        assert!(AllowedOrigins::parse(&["www.example.com"]).is_err());
        assert!(AllowedOrigins::parse(&["https://example.com/path"]).is_err());
    }
}
