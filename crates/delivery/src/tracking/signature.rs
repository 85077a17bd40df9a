//! The click signature (which destination URLs the click endpoint may redirect to) and the
//! delivery token (proof that a report about a delivery comes from someone who received it).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// 32 hex characters (128 bits) keep the tracked links short while leaving forgery hopeless.
const SIGNATURE_HEX_CHARS: usize = 32;

fn mac(key: &[u8], delivery_id: &str, url: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(delivery_id.as_bytes());
    mac.update(b"\n");
    mac.update(url.as_bytes());
    mac
}

/// Hex HMAC-SHA256 over `"{delivery_id}\n{url}"`, truncated to 32 hex characters.
pub fn click_signature(key: &[u8], delivery_id: &str, url: &str) -> String {
    let mut full = hex::encode(mac(key, delivery_id, url).finalize().into_bytes());
    full.truncate(SIGNATURE_HEX_CHARS);
    full
}

/// Whether `signature` is [`click_signature`] of this delivery and URL, compared in constant
/// time so response timing reveals nothing about the right value.
pub fn verify_click(key: &[u8], delivery_id: &str, url: &str, signature: &str) -> bool {
    if signature.len() != SIGNATURE_HEX_CHARS {
        return false;
    }
    let Ok(bytes) = hex::decode(signature) else {
        return false;
    };
    mac(key, delivery_id, url)
        .verify_truncated_left(&bytes)
        .is_ok()
}

/// What the delivery token's MAC starts with, so that no token is ever a click signature: a
/// click's MAC starts with a delivery id, and no delivery id contains a NUL.
const TOKEN_DOMAIN: &[u8] = b"delivery-token\0";

fn token_mac(key: &[u8], delivery_id: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(TOKEN_DOMAIN);
    mac.update(delivery_id.as_bytes());
    mac
}

/// The delivery token: hex HMAC-SHA256 over the delivery id, truncated to 32 hex characters.
/// Messages carry it (push data as `CIO-Delivery-Token`, the open pixel's `s`, the Liquid
/// variable `delivery_token`), and a metric about the delivery must come with it or with the
/// workspace's Track API credentials.
pub fn delivery_token(key: &[u8], delivery_id: &str) -> String {
    let mut full = hex::encode(token_mac(key, delivery_id).finalize().into_bytes());
    full.truncate(SIGNATURE_HEX_CHARS);
    full
}

/// Whether `token` is [`delivery_token`] of this delivery, compared in constant time.
pub fn verify_delivery_token(key: &[u8], delivery_id: &str, token: &str) -> bool {
    if token.len() != SIGNATURE_HEX_CHARS {
        return false;
    }
    let Ok(bytes) = hex::decode(token) else {
        return false;
    };
    token_mac(key, delivery_id)
        .verify_truncated_left(&bytes)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_tokens_verify_only_their_delivery() {
        let token = delivery_token(b"key", "d1");
        assert_eq!(token.len(), 32);
        assert!(verify_delivery_token(b"key", "d1", &token));
        assert!(!verify_delivery_token(b"key", "d2", &token));
        assert!(!verify_delivery_token(b"other", "d1", &token));
        assert!(!verify_delivery_token(b"key", "d1", &token[..31]));
        assert!(!verify_delivery_token(b"key", "d1", ""));
        // A click signature is never a delivery token, even for an empty URL.
        assert!(!verify_delivery_token(
            b"key",
            "d1",
            &click_signature(b"key", "d1", "")
        ));
    }

    #[test]
    fn matches_a_known_hmac() {
        // The first 32 hex characters of HMAC-SHA256("key", "d1\nhttps://example.com/"),
        // computed independently with Python's hmac module.
        assert_eq!(
            click_signature(b"key", "d1", "https://example.com/"),
            "1db8ed1a0bd727bf9c4e43ed9315280e"
        );
    }

    #[test]
    fn verifies_its_own_signature_and_nothing_else() {
        let signature = click_signature(b"key", "d1", "https://example.com/a");
        assert_eq!(signature.len(), 32);
        assert!(verify_click(
            b"key",
            "d1",
            "https://example.com/a",
            &signature
        ));
        assert!(verify_click(
            b"key",
            "d1",
            "https://example.com/a",
            &signature.to_uppercase()
        ));
        assert!(!verify_click(
            b"key",
            "d1",
            "https://evil.example/",
            &signature
        ));
        assert!(!verify_click(
            b"key",
            "d2",
            "https://example.com/a",
            &signature
        ));
        assert!(!verify_click(
            b"other",
            "d1",
            "https://example.com/a",
            &signature
        ));
        assert!(!verify_click(
            b"key",
            "d1",
            "https://example.com/a",
            &signature[..31]
        ));
        assert!(!verify_click(b"key", "d1", "https://example.com/a", ""));
        assert!(!verify_click(
            b"key",
            "d1",
            "https://example.com/a",
            &"z".repeat(32)
        ));
    }
}
