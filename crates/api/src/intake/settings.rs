//! What an operator decides about how much work the server takes on at once.

use std::time::Duration;

use crate::rate_limit::RateLimit;

/// Limits on the work requests may put on the server, and on how long a client may take to
/// send one.
#[derive(Debug, Clone)]
pub struct IntakeSettings {
    /// Requests being handled at once; past it, new requests are answered 503 at once.
    pub max_requests: usize,
    /// Bytes of request bodies held at once, from the first byte read until the request's
    /// answer is sent (so including decoding and the wait for the writer's commit); past it,
    /// a request with a body is answered 503 before its body is read.
    pub max_body_bytes: usize,
    /// Time a client has to send a whole request body once its headers arrived; past it, the
    /// request is answered 408 and the connection closed.
    pub body_read_timeout: Duration,
    /// Per-workspace rate limit of the Track API (Basic auth), off when `None`.
    pub track_rate_limit: Option<RateLimit>,
    /// Per-key rate limit of the App API (Bearer auth), off when `None`.
    pub app_rate_limit: Option<RateLimit>,
}

impl IntakeSettings {
    /// The defaults. 16 MiB of raw bodies is about 35 of the largest batches: a decoded batch
    /// takes several times its raw size, and measured at twice the load the server can take
    /// (docs/benchmarks.md, "Overload"), 16 MiB kept its peak memory about 200 MB above idle
    /// where 64 MiB let it grow by 600 MB, for the same accepted throughput and a quarter of the
    /// accepted requests' latency. A minute for a body is what reverse proxies allow.
    pub const DEFAULT_MAX_REQUESTS: usize = 512;
    pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
    pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            max_requests: Self::DEFAULT_MAX_REQUESTS,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            body_read_timeout: Self::DEFAULT_BODY_READ_TIMEOUT,
            track_rate_limit: None,
            app_rate_limit: None,
        }
    }
}
