//! The email previews the campaign editor shows in a sandboxed frame.
//!
//! An email's HTML has inline styles, which the UI's own Content-Security-Policy forbids, and a
//! frame given its HTML inline (`srcdoc`) would inherit that policy. So each preview is kept
//! here under a random token and served as a document of its own, with a policy of its own:
//! sandboxed (no script, an opaque origin), inline styles and images allowed, framed only by
//! the UI. Only the user who rendered a preview can read it, and only the latest few are kept.

use std::collections::VecDeque;
use std::sync::Mutex;

/// How many previews are kept, and how many bytes of them at most.
const KEEP: usize = 64;
const KEEP_BYTES: usize = 16 << 20;

struct Frame {
    token: String,
    user_id: i64,
    html: String,
}

/// The kept previews, newest last.
#[derive(Default)]
pub struct Frames {
    kept: Mutex<VecDeque<Frame>>,
}

impl Frames {
    /// Keeps a preview for this user; returns its token.
    pub fn keep(&self, user_id: i64, html: String) -> String {
        let token = crate::auth::tokens::random();
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.push_back(Frame {
            token: token.clone(),
            user_id,
            html,
        });
        let mut bytes: usize = kept.iter().map(|frame| frame.html.len()).sum();
        while kept.len() > KEEP || (bytes > KEEP_BYTES && kept.len() > 1) {
            if let Some(dropped) = kept.pop_front() {
                bytes -= dropped.html.len();
            }
        }
        token
    }

    /// The preview under this token, if this user rendered it and it is still kept.
    pub fn get(&self, user_id: i64, token: &str) -> Option<String> {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.iter()
            .find(|frame| {
                frame.user_id == user_id && crate::auth::tokens::same(&frame.token, token)
            })
            .map(|frame| frame.html.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::Frames;

    #[test]
    fn a_preview_is_for_its_user_and_the_oldest_go_first() {
        let frames = Frames::default();
        let first = frames.keep(1, "<p>one</p>".into());
        assert_eq!(frames.get(1, &first).as_deref(), Some("<p>one</p>"));
        assert_eq!(frames.get(2, &first), None, "another user's");
        assert_eq!(frames.get(1, "nope"), None);
        for _ in 0..super::KEEP {
            frames.keep(1, String::new());
        }
        assert_eq!(frames.get(1, &first), None, "dropped");
    }
}
