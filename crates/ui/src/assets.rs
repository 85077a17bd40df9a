//! The UI's static files, embedded in the binary and served under content-hashed names with a
//! year-long cache: a new build changes the name, so a browser never keeps a stale file.

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Each file's logical name, content type and bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "htmx.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/htmx/htmx.min.js"),
    ),
];

/// The one set of assets, hashed once.
pub fn get() -> &'static Assets {
    static ASSETS: std::sync::OnceLock<Assets> = std::sync::OnceLock::new();
    ASSETS.get_or_init(Assets::new)
}

pub struct Assets {
    /// Logical name → served path.
    paths: HashMap<&'static str, String>,
    /// Served file name → content type and bytes.
    files: HashMap<String, (&'static str, &'static [u8])>,
}

impl Assets {
    fn new() -> Self {
        let mut paths = HashMap::new();
        let mut files = HashMap::new();
        for (name, content_type, bytes) in FILES {
            let digest = hex::encode(&Sha256::digest(bytes)[..6]);
            let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
            let served = format!("{stem}.{digest}.{extension}");
            paths.insert(*name, format!("/ui/assets/{served}"));
            files.insert(served, (*content_type, *bytes));
        }
        Self { paths, files }
    }

    /// The path a page links a file by.
    pub fn path(&self, name: &str) -> &str {
        self.paths
            .get(name)
            .map_or("/ui/assets/missing", String::as_str)
    }
}

/// `GET /ui/assets/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    match get().files.get(&file) {
        Some((content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
