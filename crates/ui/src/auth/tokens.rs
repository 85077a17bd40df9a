//! Random tokens (session cookies, CSRF tokens, setup links) and the hashes they are kept as.

use rand::TryRngCore;
use sha2::{Digest, Sha256};

/// 32 random bytes from the operating system, in hex.
pub fn random() -> String {
    let mut bytes = [0u8; 32];
    // Without the operating system's randomness no token can be safe: stop rather than guess.
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system provides random bytes");
    hex::encode(bytes)
}

/// What the store keeps of a token: its SHA-256, in hex.
pub fn hashed(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two tokens in time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |differ, (x, y)| differ | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_and_compared_whole() {
        let (a, b) = (random(), random());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same(&a, &a[..63]));
        assert_eq!(hashed("x").len(), 64);
    }
}
