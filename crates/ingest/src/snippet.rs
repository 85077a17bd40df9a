//! The snippet a site pastes into its pages to send what its visitors do to Herald: for
//! `herald workspace snippet`, `GET /v1/browser/snippet` and the web UI's Settings.

use serde::Serialize;

/// The ways to put `track.js` on a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snippet {
    pub site_id: String,
    pub base_url: String,
    pub script_url: String,
    /// Customer.io's classic loader with this server's URL: `_cio` queues calls until
    /// `track.js` has loaded, so pages can call it at once.
    pub html: String,
    /// A plain script tag, for pages whose Content-Security-Policy refuses inline scripts:
    /// loaded without `async`, it defines `_cio` before the page's own scripts run.
    pub tag: String,
}

/// Checks a base URL and drops its trailing slashes. Only URL characters are accepted, so the
/// URL can go into HTML and JavaScript string literals as it is.
pub fn normalize_base_url(text: &str) -> Result<String, String> {
    let url = text.trim().trim_end_matches('/');
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    let host_ok = url
        .split_once("://")
        .is_some_and(|(_, rest)| !rest.is_empty());
    let characters_ok = url
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&()*+,;=%".contains(&byte));
    if scheme_ok && host_ok && characters_ok {
        Ok(url.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a base URL: give where browsers reach Herald, e.g. https://herald.example.com"
        ))
    }
}

/// Builds the snippet for a site id (hex, so safe in HTML) and a checked base URL.
pub fn snippet(site_id: &str, base_url: &str) -> Snippet {
    let script_url = format!("{base_url}/assets/track.js");
    let html = format!(
        r#"<script type="text/javascript">
  var _cio = _cio || [];
  (function() {{
    var a,b,c;a=function(f){{return function(){{_cio.push([f].
    concat(Array.prototype.slice.call(arguments,0)))}}}};b=["load","identify",
    "sidentify","track","page","reset","on","off"];for(c=0;c<b.length;c++){{_cio[b[c]]=a(b[c])}};
    var t = document.createElement('script'),
        s = document.getElementsByTagName('script')[0];
    t.async = true;
    t.id    = 'cio-tracker';
    t.setAttribute('data-site-id', '{site_id}');
    t.setAttribute('data-base-url', '{base_url}');
    t.setAttribute('data-auto-track-page', 'true');
    t.src = '{script_url}';
    s.parentNode.insertBefore(t, s);
  }})();
</script>"#
    );
    let tag = format!(
        r#"<script id="cio-tracker" src="{script_url}" data-site-id="{site_id}" data-base-url="{base_url}" data-auto-track-page="true"></script>"#
    );
    Snippet {
        site_id: site_id.to_owned(),
        base_url: base_url.to_owned(),
        script_url,
        html,
        tag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            normalize_base_url(" https://h.example.com/ ").as_deref(),
            Ok("https://h.example.com")
        );
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8080/herald").as_deref(),
            Ok("http://127.0.0.1:8080/herald")
        );
        for bad in [
            "",
            "h.example.com",
            "https://",
            "https://a'b",
            "https://a b",
            "javascript:x",
        ] {
            assert!(normalize_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_snippet_names_the_site_and_server() {
        let snippet = snippet("abc123", "https://h.example.com");
        assert_eq!(snippet.script_url, "https://h.example.com/assets/track.js");
        assert!(snippet.html.contains("'data-site-id', 'abc123'"));
        assert!(
            snippet
                .html
                .contains("t.src = 'https://h.example.com/assets/track.js'")
        );
        assert!(snippet.html.contains("\"reset\""));
        assert!(snippet.tag.contains(r#"data-site-id="abc123""#));
    }
}
