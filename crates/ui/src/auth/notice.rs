//! Notices carried by a redirect's address ("Suppressed ann", "Sent “upgraded”"), signed with
//! the session's secret CSRF token: a page shows a notice only when its signature holds, so a
//! link from elsewhere cannot put its own words ("Your session expired, sign in at …") in the
//! page's trusted notice.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::session::SignedIn;
use super::tokens;

/// The query parameter that carries a notice's signature.
pub const SIGNATURE: &str = "sig";

/// The signature of `text` for this session, in hex.
pub fn sign(user: &SignedIn, text: &str) -> String {
    // Any key length is accepted by HMAC, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(user.session.csrf_token.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"herald-ui-notice\0");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `name=text&sig=…`, URL-encoded, for a redirect to a page that shows the notice.
pub fn query(user: &SignedIn, name: &str, text: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair(name, text)
        .append_pair(SIGNATURE, &sign(user, text))
        .finish()
}

/// The notice's text when its signature is this session's, else nothing.
pub fn verified(user: &SignedIn, text: Option<String>, signature: Option<&str>) -> Option<String> {
    let text = text?;
    tokens::same(signature?, &sign(user, &text)).then_some(text)
}
