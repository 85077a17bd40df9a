//! The signed-in user's workspaces, and a workspace's own page.

use askama::Template;
use axum::extract::Path;
use axum::response::Response;

use crate::auth::session::SignedIn;
use crate::error::UiError;
use crate::layout::Layout;
use crate::view::WorkspaceView;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    workspaces: Vec<WorkspaceView>,
}

#[derive(Template)]
#[template(path = "workspace.html")]
struct WorkspacePage {
    layout: Layout,
    workspace: WorkspaceView,
}

/// `GET /ui/`.
pub async fn home(user: SignedIn) -> Response {
    super::render(&HomePage {
        layout: Layout::signed_in(&user, None),
        workspaces: user.workspaces.iter().map(WorkspaceView::from).collect(),
    })
}

/// `GET /ui/w/{id}`.
pub async fn workspace(user: SignedIn, Path(id): Path<i64>) -> Result<Response, UiError> {
    let workspace = WorkspaceView::from(user.workspace(id)?);
    Ok(super::render(&WorkspacePage {
        layout: Layout::signed_in(&user, Some(id)),
        workspace,
    }))
}
