//! What every page's frame shows: the stylesheet and scripts, and for a signed-in user the
//! navigation, the workspace switcher and the sign-out form.

use herald_domain::WorkspaceId;
use herald_store::Workspace;

use crate::auth::session::SignedIn;

pub struct Layout {
    pub css: &'static str,
    pub htmx: &'static str,
    pub js: &'static str,
    /// Absent on the pages one sees signed out.
    pub nav: Option<Nav>,
}

pub struct Nav {
    pub email: String,
    pub csrf: String,
    pub workspaces: Vec<Workspace>,
    /// The workspace the page is about, if any.
    pub current: Option<WorkspaceId>,
}

impl Nav {
    /// Whether the page is about this workspace (the switcher shows it chosen).
    pub fn is_current(&self, id: &WorkspaceId) -> bool {
        self.current == Some(*id)
    }
}

impl Layout {
    /// The frame of a page one sees signed out.
    pub fn public() -> Self {
        let assets = crate::assets::get();
        Self {
            css: assets.path("app.css"),
            htmx: assets.path("htmx.min.js"),
            js: assets.path("app.js"),
            nav: None,
        }
    }

    /// The frame of a signed-in user's page, about workspace `current` if given.
    pub fn signed_in(user: &SignedIn, current: Option<WorkspaceId>) -> Self {
        Self {
            nav: Some(Nav {
                email: user.user.email.clone(),
                csrf: user.session.csrf_token.clone(),
                workspaces: user.workspaces.clone(),
                current,
            }),
            ..Self::public()
        }
    }
}
