//! Values as pages show them.

use herald_store::Workspace;

/// A moment in UTC, to the minute ("2026-12-03 08:59 UTC").
pub fn moment(unix_seconds: i64) -> String {
    jiff::Timestamp::from_second(unix_seconds).map_or_else(
        |_| unix_seconds.to_string(),
        |at| at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// A workspace as its pages show it.
pub struct WorkspaceView {
    pub id: i64,
    pub name: String,
    pub site_id: String,
    pub created: String,
}

impl From<&Workspace> for WorkspaceView {
    fn from(workspace: &Workspace) -> Self {
        Self {
            id: workspace.id,
            name: workspace.name.clone(),
            site_id: workspace.site_id.clone(),
            created: moment(workspace.created_at),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn moments_read_in_utc() {
        assert_eq!(super::moment(1_800_000_000), "2027-01-15 08:00 UTC");
    }
}
