//! The page to return to after signing in: a signed-out request for a page is sent to the
//! sign-in page with its address, which the form carries and the sign-in redirects to.
//!
//! The address comes from the query string, so anyone can write a link with any value: only a
//! path of the UI itself is followed, never another site (`//evil.example`, `https://…`) or a
//! path a browser would read as one (`/\evil.example`).

/// Where a signed-out request for `asked` is sent.
pub fn sign_in_address(asked: Option<&str>) -> String {
    match asked.and_then(safe) {
        Some(asked) => format!(
            "/ui/sign-in?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("next", asked)
                .finish()
        ),
        None => "/ui/sign-in".to_owned(),
    }
}

/// `next` when it is a page of the UI to return to, other than the home page (where a sign-in
/// goes anyway) and the sign-in page itself.
pub fn safe(next: &str) -> Option<&str> {
    let inside = next.starts_with("/ui/") && !next.starts_with("/ui/sign-in");
    let plain = !next.contains('\\') && !next.chars().any(char::is_control);
    (inside && plain && next != "/ui/" && next.len() <= 2048).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pages_of_the_ui_are_returned_to() {
        assert_eq!(
            safe("/ui/w/1/people?q=a%20b"),
            Some("/ui/w/1/people?q=a%20b")
        );
        for refused in [
            "",
            "/ui/",
            "/ui",
            "//evil.example/ui/",
            "https://evil.example/ui/",
            "/\\evil.example",
            "/ui/\\\\evil.example",
            "/ui/sign-in?next=/ui/w/1",
            "/ui/w/1\r\nSet-Cookie: a=b",
            "/api/v1/segments",
        ] {
            assert_eq!(safe(refused), None, "{refused:?}");
        }
        assert_eq!(
            sign_in_address(Some("/ui/w/1/people?q=a&b=c")),
            "/ui/sign-in?next=%2Fui%2Fw%2F1%2Fpeople%3Fq%3Da%26b%3Dc"
        );
        assert_eq!(sign_in_address(Some("/ui/")), "/ui/sign-in");
        assert_eq!(sign_in_address(None), "/ui/sign-in");
    }
}
