//! Links between the documentation pages (and the README) must lead somewhere: a page that
//! moves or a heading that is renamed would otherwise leave readers at a dead end.

use std::path::Path;

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens.
pub fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a page's headings (outside fenced blocks); a repeated heading's anchor gets
/// `-1`, `-2`… as on GitHub.
pub fn anchors(page: &str) -> Vec<String> {
    let mut fenced = false;
    let mut found: Vec<String> = Vec::new();
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && let Some(heading) = line.strip_prefix('#') {
            let slug = slug(heading.trim_start_matches('#'));
            let repeats = found.iter().filter(|seen| **seen == slug).count();
            found.push(slug.clone());
            if repeats > 0 {
                found.push(format!("{slug}-{repeats}"));
            }
        }
    }
    found
}

/// The relative links of a page, `(target, anchor)`, outside fenced blocks: web addresses are
/// not followed.
pub fn links(page: &str) -> Vec<(String, Option<String>)> {
    let mut fenced = false;
    let mut found = Vec::new();
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        for part in line.split("](").skip(1) {
            let Some(end) = part.find(')') else { continue };
            let target = &part[..end];
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor.to_owned())),
                None => (target, None),
            };
            found.push((path.to_owned(), anchor));
        }
    }
    found
}

/// Checks every relative link of the page at `path`; returns what does not resolve.
pub fn broken(path: &Path) -> Vec<String> {
    let page = std::fs::read_to_string(path).expect("the page");
    let dir = path.parent().expect("the page's dir");
    let mut broken = Vec::new();
    for (target, anchor) in links(&page) {
        let file = if target.is_empty() {
            path.to_owned()
        } else {
            dir.join(&target)
        };
        let Ok(text) = std::fs::read_to_string(&file) else {
            if !file.exists() {
                broken.push(format!("{target}: no such file"));
            }
            continue;
        };
        if let Some(anchor) = anchor
            && !anchors(&text).contains(&anchor)
        {
            broken.push(format!("{target}#{anchor}: no such heading"));
        }
    }
    broken
}

#[test]
fn headings_become_githubs_anchors() {
    assert_eq!(
        slug(" Using Customer.io's clients"),
        "using-customerios-clients"
    );
    assert_eq!(
        slug("Liquid: what a message can say"),
        "liquid-what-a-message-can-say"
    );
    assert!(
        anchors("# How\n## How\n```\n# not a heading\n```\n### How").contains(&"how-2".to_owned())
    );
    assert!(!anchors("```\n# not a heading\n```").contains(&"not-a-heading".to_owned()));
    assert_eq!(
        links("see [a](b.md#c), [d](https://x.example/y) and [e](#f)\n```\n[g](h.md)\n```"),
        vec![
            ("b.md".to_owned(), Some("c".to_owned())),
            (String::new(), Some("f".to_owned()))
        ]
    );
}
