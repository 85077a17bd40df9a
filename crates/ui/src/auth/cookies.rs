//! Reading and writing the UI's two cookies. Neither is signed: each holds a random token the
//! server looks up (the session) or compares with the form (the sign-in form's CSRF token).

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The session cookie: the token whose SHA-256 finds the session in the store.
pub const SESSION: &str = "herald_session";
/// The sign-in form's CSRF token (double submit: cookie and hidden field must match).
pub const SIGN_IN_CSRF: &str = "herald_sign_in";

/// The value of a cookie the browser sent.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, the whole site, Secure under TLS;
/// `max_age: 0` removes it.
pub fn set(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            "a=1; herald_session=abc; herald_session_x=no"
                .parse()
                .unwrap(),
        );
        assert_eq!(get(&headers, SESSION).as_deref(), Some("abc"));
        assert_eq!(get(&headers, "b"), None);
        assert!(set(SESSION, "t", 60, true).ends_with("Max-Age=60; Secure"));
        assert!(set(SESSION, "t", 0, false).contains("HttpOnly; SameSite=Lax"));
    }
}
