//! The one error type of every sender.

/// Why a message was not delivered, sorted by what the caller should do about it.
///
/// The worker only needs one decision per failure (schedule a retry or give up), so the senders
/// make it here, where the protocol details are known, and the text explains it to a person.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later: 5xx, 429, timeouts, connection refused/reset, SMTP 4xx, DNS
    /// temporary failure.
    #[error("{0}")]
    Retryable(String),
    /// Will never work: other 4xx, 3xx (redirects are not followed), refused address, invalid
    /// URL, SMTP 5xx, invalid email address, no push gateway configured.
    #[error("{0}")]
    Permanent(String),
}

impl DeliveryError {
    /// Whether the same message may succeed if sent again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, DeliveryError::Retryable(_))
    }
}

#[cfg(test)]
mod tests {
    use super::DeliveryError;

    #[test]
    fn only_retryable_errors_are_retryable() {
        assert!(DeliveryError::Retryable("503".into()).is_retryable());
        assert!(!DeliveryError::Permanent("404".into()).is_retryable());
        assert_eq!(DeliveryError::Permanent("gone".into()).to_string(), "gone");
    }
}
