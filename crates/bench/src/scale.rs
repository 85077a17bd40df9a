//! The scale benchmark of issue 12, against a real server on a real data set: load the
//! segmentation workload through `POST /api/v2/batch`, then restart the server and time how soon
//! it takes writes and how soon every segment count is exact, how soon a new segment is exact,
//! ingest latency while segments build, and previews over HTTP; and the web UI's pages (issue 13). It starts and stops the server
//! itself (`--herald`), so that a restart is timed from the process's start.

mod client;
mod counts;
mod import;
mod ingest_during_builds;
mod load;
mod phases;
mod server;
mod ui;

use std::path::PathBuf;

use crate::args::ScaleArgs;

pub use phases::main;

/// What every phase needs: the server binary, its data and its credentials.
pub struct Setup {
    pub herald: PathBuf,
    pub data_dir: PathBuf,
    pub port: u16,
    pub site_id: String,
    pub api_key: String,
    pub app_api_key: String,
}

impl Setup {
    fn from(args: &ScaleArgs) -> Self {
        Self {
            herald: args.herald.clone(),
            data_dir: args.data_dir.clone(),
            port: args.port,
            site_id: args.keys.site_id.clone(),
            api_key: args.keys.api_key.clone(),
            app_api_key: args.keys.app_api_key.clone(),
        }
    }
}
