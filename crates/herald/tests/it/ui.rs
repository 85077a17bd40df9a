//! The web UI over real HTTP: sign-in, sessions, CSRF tokens, the lockout after failed
//! sign-ins, the first user's setup link and who reaches which workspace. The same flows in
//! real Chromium are in `browser_chromium.rs` (`ui_*` scenarios).

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::helpers::{Server, TestApp, create_workspace};

pub const PASSWORD: &str = "a long enough password";

/// Runs `herald user create EMAIL --password-stdin` with extra flags.
pub fn create_user(
    data_dir: &Path,
    email: &str,
    password: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut child = crate::helpers::herald(data_dir)
        .args(["user", "create", email, "--password-stdin", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("herald runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("the password is written");
    child.wait_with_output().expect("herald exits")
}

/// Creates a user who must be created (see `create_user` for the refusals).
pub fn add_user(data_dir: &Path, email: &str, extra: &[&str]) {
    let created = create_user(data_dir, email, PASSWORD, extra);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
}

/// A browser without JavaScript: it keeps its cookies and follows no redirect by itself.
pub struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn new(server: &Server) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
            base: server.base_url.clone(),
            cookies: Vec::new(),
        }
    }

    pub fn keep(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().expect("ASCII cookie");
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            self.cookies.retain(|(kept, _)| kept != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path: &str) -> (StatusCode, String, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .expect("answered");
        self.answer(response).await
    }

    /// Posts a form as htmx does (its `HX-Request` header), for the fragment it answers.
    pub async fn post_htmx(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, String) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header("hx-request", "true")
            .form(form)
            .send()
            .await
            .expect("answered");
        self.answer(response).await
    }

    pub async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, String) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("answered");
        self.answer(response).await
    }

    /// Posts a multipart form (as a form with a file field sends): text fields, and a file
    /// field `file` with a name and contents when given.
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str)>,
    ) -> (StatusCode, String, String) {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        if let Some((file_name, contents)) = file {
            form = form.part(
                "file",
                reqwest::multipart::Part::text(contents.to_owned())
                    .file_name(file_name.to_owned())
                    .mime_str("text/csv")
                    .expect("a MIME type"),
            );
        }
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .multipart(form)
            .send()
            .await
            .expect("answered");
        self.answer(response).await
    }

    /// Status, `Location` and body.
    pub async fn answer(&mut self, response: reqwest::Response) -> (StatusCode, String, String) {
        self.keep(&response);
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().expect("ASCII").to_owned())
            .unwrap_or_default();
        (status, location, response.text().await.expect("a body"))
    }

    /// Where the first link whose text ends a `<a …>` with `text` goes, as a path.
    pub fn link(page: &str, text: &str) -> String {
        page.split("<a href=\"")
            .find(|part| part.contains(text))
            .and_then(|part| part.split('"').next())
            .unwrap_or_else(|| panic!("no link with {text:?} in {page}"))
            .replace("&#38;", "&")
    }

    /// The value of the first `attribute="…"` on a page.
    pub fn hidden_attribute(page: &str, attribute: &str) -> String {
        let marker = format!("{attribute}=\"");
        let start = page
            .find(&marker)
            .unwrap_or_else(|| panic!("no {attribute} in {page}"))
            + marker.len();
        page[start..].split('"').next().expect("a value").to_owned()
    }

    /// The value of a form's hidden `name` field on a page.
    pub fn hidden(page: &str, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = page
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} field in {page}"))
            + marker.len();
        page[start..].split('"').next().expect("a value").to_owned()
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> (StatusCode, String, String) {
        let (status, _, page) = self.get("/ui/sign-in").await;
        assert_eq!(status, StatusCode::OK);
        let csrf = Self::hidden(&page, "csrf");
        self.post(
            "/ui/sign-in",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
        .await
    }
}

#[tokio::test]
async fn pages_need_a_session_and_forms_their_token() {
    let app = TestApp::spawn().await;
    let data_dir = app.server.data_dir.clone();
    let other = create_workspace(&data_dir, "other");
    add_user(&data_dir, "Ann@Example.com", &["--workspace", "test"]);
    let mut browser = Browser::new(&app.server);

    // Signed out: every page sends to the sign-in page, with the page to return to, and shows
    // nothing.
    let workspace_page = format!("/ui/w/{}/people?q=a", app.workspace.id);
    let sign_in_then_back = format!(
        "/ui/sign-in?next=%2Fui%2Fw%2F{}%2Fpeople%3Fq%3Da",
        app.workspace.id
    );
    for (path, sent_to) in [
        ("/ui/", "/ui/sign-in"),
        (workspace_page.as_str(), sign_in_then_back.as_str()),
    ] {
        let (status, location, body) = browser.get(path).await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, sent_to),
            "{path}"
        );
        assert!(!body.contains("test"), "{body}");
    }
    let (status, location, _) = browser.get("/").await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/ui/"));

    // A sign-in without the form's token changes nothing.
    let (status, _, _) = browser
        .post(
            "/ui/sign-in",
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, page) = browser.sign_in("ann@example.com", "not the password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("do not match an account"), "{page}");

    // The sign-in page a signed-out request was sent to returns there; a link that names
    // another site as the page to return to goes home instead.
    for (next, back) in [
        (sign_in_then_back.as_str(), workspace_page.as_str()),
        ("/ui/sign-in?next=%2F%2Fevil.example%2Fui%2F", "/ui/"),
        (
            "/ui/sign-in?next=https%3A%2F%2Fevil.example%2Fui%2Fw%2F1",
            "/ui/",
        ),
    ] {
        let (status, _, page) = browser.get(next).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!page.contains("evil.example"), "{page}");
        let csrf = Browser::hidden(&page, "csrf");
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("email", "ann@example.com"),
            ("password", PASSWORD),
        ];
        let carried = page.contains("name=\"next\"").then(|| {
            Browser::hidden(&page, "next")
                .replace("&#x2f;", "/")
                .replace("&#38;", "&")
        });
        if let Some(carried) = &carried {
            form.push(("next", carried));
        }
        let (status, location, _) = browser.post("/ui/sign-in", &form).await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, back),
            "{next}"
        );
    }
    // What the form says is followed only to the UI's own pages.
    let (_, _, page) = browser.get("/ui/sign-in").await;
    let csrf = Browser::hidden(&page, "csrf");
    let (status, location, _) = browser
        .post(
            "/ui/sign-in",
            &[
                ("csrf", csrf.as_str()),
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/ui/"));

    let (status, location, _) = browser.sign_in("ANN@example.com", PASSWORD).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, "/ui/"));
    let session = browser
        .cookies
        .iter()
        .find(|(name, _)| name == "herald_session")
        .expect("a session cookie")
        .clone();
    let (status, _, home) = browser.get("/ui/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        home.contains(&format!("/ui/w/{}", app.workspace.id)),
        "{home}"
    );
    assert!(
        !home.contains(&format!("/ui/w/{}\"", other.id)),
        "another workspace shows: {home}"
    );
    // A workspace the user was not given is not found, whether it exists or not.
    for id in [other.id, 9999] {
        let (status, _, _) = browser.get(&format!("/ui/w/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "workspace {id}");
    }

    // Signing out without the session's token is refused, and the session still works.
    let (status, _, _) = browser.post("/ui/sign-out", &[("csrf", "forged")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = browser.get("/ui/").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = Browser::hidden(&home, "csrf");
    let (status, _, page) = browser.post("/ui/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("You are signed out."), "{page}");
    // The old cookie, kept by an attacker, no longer signs anyone in.
    browser.cookies.push(session);
    let (status, location, _) = browser.get("/ui/").await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/ui/sign-in")
    );
}

#[tokio::test]
async fn five_failed_sign_ins_lock_the_email_for_a_while() {
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "bob@example.com", &[]);
    let mut browser = Browser::new(&app.server);
    for _ in 0..5 {
        let (status, _, _) = browser.sign_in("bob@example.com", "wrong password!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _, page) = browser.sign_in("bob@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("Too many failed sign-ins"), "{page}");
}

#[tokio::test]
async fn the_setup_link_creates_the_first_user_once() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let server = Server::start(dir.path(), &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let link = loop {
        let found = server
            .later
            .lock()
            .expect("the output's lock")
            .iter()
            .find_map(|line| {
                line.split_whitespace()
                    .find(|word| word.contains("/ui/setup?token="))
                    .map(str::to_owned)
            });
        if let Some(link) = found {
            break link;
        }
        assert!(Instant::now() < deadline, "the server printed a setup link");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let path = link
        .strip_prefix(&server.base_url)
        .expect("a link to this server")
        .to_owned();
    let token = path.split("token=").nth(1).expect("a token").to_owned();
    let mut browser = Browser::new(&server);
    let (status, _, _) = browser.get("/ui/setup?token=forged").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, page) = browser.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Create the first user"), "{page}");
    let (status, _, page) = browser
        .post(
            "/ui/setup",
            &[
                ("token", &token),
                ("email", "first@example.com"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("at least 10 characters"), "{page}");
    let (status, location, _) = browser
        .post(
            "/ui/setup",
            &[
                ("token", &token),
                ("email", "first@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, "/ui/sign-in")
    );
    // Used once: the link is dead, says so and what to do, and the new user signs in and
    // reaches the workspace.
    let (status, _, page) = browser.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("This setup link no longer works"), "{page}");
    assert!(page.contains("herald user create"), "{page}");
    let (status, _, page) = browser
        .post(
            "/ui/setup",
            &[
                ("token", &token),
                ("email", "second@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("This setup link no longer works"), "{page}");
    let (status, _, _) = browser.sign_in("first@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, home) = browser.get("/ui/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        home.contains("default"),
        "the first start's workspace: {home}"
    );
}

#[tokio::test]
async fn user_create_refuses_what_it_cannot_do() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    create_workspace(dir.path(), "test");
    let short = create_user(dir.path(), "c@example.com", "short", &[]);
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"));
    let unknown = create_user(
        dir.path(),
        "c@example.com",
        PASSWORD,
        &["--workspace", "nope"],
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no workspace is named \"nope\""));
    let created = create_user(dir.path(), "c@example.com", PASSWORD, &[]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let again = create_user(dir.path(), "C@example.com", PASSWORD, &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

/// What an attacker would track to run script in a viewer's browser.
pub const SCRIPT: &str = "<script>alert('x')</script>";
pub const IMAGE: &str = "<img src=x onerror=alert('x')>";

#[tokio::test]
async fn people_are_listed_searched_and_profiled_with_tracked_values_escaped() {
    let app = TestApp::spawn().await;
    let data_dir = app.server.data_dir.clone();
    let other = create_workspace(&data_dir, "other");
    add_user(&data_dir, "viewer@example.com", &["--workspace", "test"]);
    crate::helpers::identify(
        &app,
        "ann",
        serde_json::json!({"email": "Ann.Lee@Example.com", "plan": SCRIPT, "bio": IMAGE, "n": {"deep": [1, 2]}}),
    )
    .await;
    crate::helpers::identify(&app, "bob", serde_json::json!({"email": "bob@example.com"})).await;
    crate::helpers::event(
        &app,
        "ann",
        serde_json::json!({"name": SCRIPT, "data": {"note": IMAGE}}),
    )
    .await;
    let mut browser = Browser::new(&app.server);
    let (status, _, _) = browser.sign_in("viewer@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let ws = app.workspace.id;

    let (status, _, list) = browser.get(&format!("/ui/w/{ws}/people")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(">ann<") && list.contains(">bob<"), "{list}");
    // Newest first.
    assert!(list.find(">bob<") < list.find(">ann<"), "{list}");

    // The search as htmx asks for it (rows only), and as a plain form (the whole page).
    let response = browser
        .client
        .get(format!("{}/ui/w/{ws}/people/search?q=ann.l", browser.base))
        .header(COOKIE, browser.cookie_header())
        .header("HX-Request", "true")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let rows = response.text().await.expect("a body");
    assert!(
        rows.contains(">ann<") && !rows.contains(">bob<") && !rows.contains("<html"),
        "{rows}"
    );
    let (_, _, page) = browser.get(&format!("/ui/w/{ws}/people?q=zz")).await;
    assert!(page.contains("No id or email starts with"), "{page}");

    let link = Browser::link(&list, "\">ann</a>");
    let seq: i64 = link
        .rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("a person number");
    let (status, _, profile) = browser.get(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(profile.contains("<h1>ann</h1>"), "{profile}");
    for raw in [SCRIPT, IMAGE] {
        assert!(!profile.contains(raw), "{raw} is not escaped in {profile}");
    }
    assert!(
        profile.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;")
            && profile.contains("&#60;img src=x onerror=alert(&#39;x&#39;)&#62;"),
        "{profile}"
    );
    assert!(profile.contains("Ann.Lee@Example.com"), "{profile}");
    assert!(profile.contains("Activity, last 30 days"), "{profile}");

    // Someone else's workspace is not reachable by changing the id in the URL.
    for path in [
        format!("/ui/w/{}/people", other.id),
        format!("/ui/w/{}/people/{seq}", other.id),
    ] {
        let (status, _, _) = browser.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _, _) = browser.get(&format!("/ui/w/{ws}/people/999999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn send_event_from_a_profile_goes_through_the_track_apis_checks() {
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "sender@example.com", &[]);
    crate::helpers::identify(&app, "ann", serde_json::json!({"email": "ann@example.com"})).await;
    let mut browser = Browser::new(&app.server);
    browser.sign_in("sender@example.com", PASSWORD).await;
    let ws = app.workspace.id;
    let (_, _, list) = browser.get(&format!("/ui/w/{ws}/people")).await;
    let link = Browser::link(&list, "\">ann</a>");
    let (_, _, profile) = browser.get(&link).await;
    let csrf = Browser::hidden(&profile, "csrf");
    let events = |app: &TestApp| {
        let app_url = app.url("/v1/customers/ann/activities?type=event");
        let key = app.workspace.app_api_key.clone();
        async move {
            let body: serde_json::Value = reqwest::Client::new()
                .get(app_url)
                .bearer_auth(key)
                .send()
                .await
                .expect("answered")
                .json()
                .await
                .expect("JSON");
            body["activities"].as_array().cloned().unwrap_or_default()
        }
    };
    let send = format!("/ui/w/{ws}/send-event");
    let seq = link.rsplit('/').next().expect("a person number").to_owned();

    // Refusals: no token, bad JSON, a name the Track API refuses. Nothing is stored.
    let (status, _, _) = browser
        .post(
            &send,
            &[("person", &seq), ("name", "upgraded"), ("data", "{}")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, page) = browser
        .post(
            &send,
            &[
                ("csrf", &csrf),
                ("person", &seq),
                ("name", "upgraded"),
                ("data", "{\"plan\": \"pro\",\n}"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("Event data is not valid JSON") && page.contains("line 2, column 1"),
        "{page}"
    );
    assert!(page.contains("upgraded"), "what was typed is kept: {page}");
    let (status, _, page) = browser
        .post(
            &send,
            &[
                ("csrf", &csrf),
                ("person", &seq),
                ("name", "bad*name"),
                ("data", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (api_status, api_body) = app
        .track(
            reqwest::Method::POST,
            "/api/v1/customers/ann/events",
            Some(serde_json::json!({"name": "bad*name"})),
        )
        .await;
    assert_eq!(api_status, 400);
    let api_message = api_body["meta"]["error"]
        .as_str()
        .expect("a message")
        .to_owned();
    assert!(
        page.contains(&api_message.replace('\'', "&#39;").replace('"', "&#34;")),
        "the API's message {api_message:?} in {page}"
    );
    assert!(events(&app).await.is_empty(), "nothing was stored");

    let (status, location, _) = browser
        .post(
            &send,
            &[
                ("csrf", &csrf),
                ("person", &seq),
                ("name", "  upgraded "),
                ("data", "{\"plan\": \"pro\"}"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("sent=upgraded"), "{location}");
    let stored = events(&app).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        stored[0]["name"], "upgraded",
        "names are trimmed as the API trims them"
    );
    assert_eq!(stored[0]["data"]["plan"], "pro");
    let (_, _, page) = browser.get(&location).await;
    assert!(page.contains("Sent “<bdi>upgraded</bdi>”"), "{page}");
}

#[tokio::test]
async fn activity_logs_filter_and_resend_an_event_to_the_same_person() {
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "logs@example.com", &[]);
    crate::helpers::identify(&app, "ann", serde_json::json!({"email": "ann@example.com"})).await;
    crate::helpers::identify(&app, "bob", serde_json::json!({})).await;
    crate::helpers::event(
        &app,
        "ann",
        serde_json::json!({"name": "purchased", "data": {"price": 12}}),
    )
    .await;
    crate::helpers::event(
        &app,
        "bob",
        serde_json::json!({"name": "purchased", "data": {"price": 5}}),
    )
    .await;
    crate::helpers::event(&app, "ann", serde_json::json!({"name": "viewed"})).await;
    let mut browser = Browser::new(&app.server);
    browser.sign_in("logs@example.com", PASSWORD).await;
    let ws = app.workspace.id;

    let (status, _, all) = browser.get(&format!("/ui/w/{ws}/activity")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(all.contains("Older events are kept"), "{all}");
    assert!(
        all.find("viewed") < all.find("purchased"),
        "newest first: {all}"
    );
    let (_, _, filtered) = browser
        .get(&format!(
            "/ui/w/{ws}/activity?type=event&name=purchased&person=ann%40example.com"
        ))
        .await;
    assert_eq!(
        filtered.matches("</span> purchased</a>").count(),
        1,
        "{filtered}"
    );
    assert!(!filtered.contains("viewed"), "{filtered}");
    let (_, _, nobody) = browser
        .get(&format!("/ui/w/{ws}/activity?person=nobody"))
        .await;
    assert!(nobody.contains("No person has the id or email"), "{nobody}");

    let link = Browser::link(&filtered, "</span> purchased</a>");
    let (status, _, entry) = browser.get(&link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(entry.contains("&#34;price&#34;: 12"), "{entry}");
    let csrf = Browser::hidden(&entry, "csrf");
    let (status, _, _) = browser.post(&format!("{link}/resend"), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, location, _) = browser
        .post(&format!("{link}/resend"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("sent=purchased"), "{location}");
    let (_, body) = app.app_get("/v1/customers/ann/activities?type=event").await;
    let names: Vec<(&str, i64)> = body["activities"]
        .as_array()
        .expect("activities")
        .iter()
        .filter(|a| a["name"] == "purchased")
        .map(|a| ("purchased", a["data"]["price"].as_i64().unwrap_or_default()))
        .collect();
    assert_eq!(
        names,
        vec![("purchased", 12), ("purchased", 12)],
        "resent to ann with its data"
    );
    let (_, bob) = app.app_get("/v1/customers/bob/activities?type=event").await;
    assert_eq!(
        bob["activities"].as_array().map(Vec::len),
        Some(1),
        "bob got nothing"
    );
}

#[tokio::test]
async fn the_data_index_lists_event_names_and_an_events_recent_activity() {
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "index@example.com", &[]);
    crate::helpers::identify(&app, "ann", serde_json::json!({})).await;
    for price in [3, 4] {
        crate::helpers::event(
            &app,
            "ann",
            serde_json::json!({"name": "bought it/now", "data": {"price": price}}),
        )
        .await;
    }
    crate::helpers::event(&app, "ann", serde_json::json!({"name": SCRIPT})).await;
    let mut bob = serde_json::Map::new();
    bob.insert("plan".into(), serde_json::json!("free"));
    bob.insert(IMAGE.into(), serde_json::json!(1));
    crate::helpers::identify(&app, "bob", serde_json::Value::Object(bob)).await;
    let mut browser = Browser::new(&app.server);
    browser.sign_in("index@example.com", PASSWORD).await;
    let ws = app.workspace.id;
    let (status, _, index) = browser.get(&format!("/ui/w/{ws}/data-index")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!index.contains(SCRIPT), "{index}");
    let row = index
        .split("<tr>")
        .find(|row| row.contains("bought it/now"))
        .expect("the event's row");
    assert!(
        row.contains("<td class=\"number\">2</td>") && row.contains("price"),
        "{row}"
    );
    // Its 30-day volume: thirty bars, and the sentence for those who cannot see them.
    assert_eq!(row.matches("<rect ").count(), 30, "{row}");
    assert!(
        row.contains("aria-label=\"2 events in the last 30 days"),
        "{row}"
    );
    let link = Browser::link(row, "bought it/now");
    let (status, _, page) = browser.get(&link).await;
    assert_eq!(status, StatusCode::OK, "{link}");
    assert!(page.contains("Recent Activity"), "{page}");
    assert!(
        page.contains("<figcaption>2 events in the last 30 days"),
        "{page}"
    );
    assert!(page.contains("Day by day"), "{page}");

    // Attributes: each key with how many people have it; a key is tracked data, escaped.
    let (status, _, attributes) = browser
        .get(&format!("/ui/w/{ws}/data-index/attributes"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!attributes.contains(IMAGE), "{attributes}");
    let count_of = |key: &str| {
        let row = attributes
            .split("<tr>")
            .find(|row| row.contains(&format!("<td><code>{key}</code></td>")))
            .unwrap_or_else(|| panic!("{key} in {attributes}"));
        row.split("<td class=\"number\">")
            .nth(1)
            .and_then(|cell| cell.split('<').next())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(count_of("id"), "2");
    assert_eq!(count_of("plan"), "1");
    assert!(attributes.contains("the 2 people"), "{attributes}");
    assert!(!attributes.contains("<code>cio_id</code>"), "{attributes}");
    assert_eq!(page.matches(">Resend</button>").count(), 2, "{page}");
    let (status, _, _) = browser
        .get(&format!(
            "/ui/w/{ws}/data-index/event?name=never&type=event"
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A running campaign triggered by `purchased`, whose first step waits a day (nothing is sent
/// while a test looks).
pub async fn purchase_campaign(app: &TestApp) -> i64 {
    let (status, body) = app
        .app_post(
            "/v1/campaigns",
            serde_json::json!({"campaign": {
                "name": "Receipt",
                "trigger": {"event": {"name": "purchased"}},
                "steps": [{"delay": {"days": 1}}, {"webhook": {"url": "http://127.0.0.1:9/{{ customer.id }}"}}]
            }}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["campaign"]["id"].as_i64().expect("an id")
}

#[tokio::test]
async fn campaign_pages_start_pause_and_send_an_event_to_a_picked_person() {
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "camp@example.com", &[]);
    crate::helpers::identify(&app, "ann", serde_json::json!({"email": "ann@example.com"})).await;
    let campaign = purchase_campaign(&app).await;
    let mut browser = Browser::new(&app.server);
    browser.sign_in("camp@example.com", PASSWORD).await;
    let ws = app.workspace.id;

    let (status, _, list) = browser.get(&format!("/ui/w/{ws}/campaigns")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list.contains("Receipt") && list.contains("draft") && list.contains("event “purchased”"),
        "{list}"
    );
    let overview_path = format!("/ui/w/{ws}/campaigns/{campaign}");
    let (status, _, overview) = browser.get(&overview_path).await;
    assert_eq!(status, StatusCode::OK);
    for metric in [
        "triggered",
        "queued",
        "sent",
        "delivered",
        "opened",
        "clicked",
        "bounced",
        "failed",
    ] {
        assert!(
            overview.contains(&format!("<dt>{metric}</dt>")),
            "{metric} in {overview}"
        );
    }
    // The dialog starts with the trigger's event name.
    assert!(
        overview.contains("name=\"name\" required value=\"purchased\""),
        "{overview}"
    );
    let csrf = Browser::hidden(&overview, "csrf");

    let state_path = format!("{overview_path}/state");
    let (status, _, _) = browser.post(&state_path, &[("to", "running")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = browser
        .post(&state_path, &[("csrf", &csrf), ("to", "running")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, body) = app.app_get(&format!("/v1/campaigns/{campaign}")).await;
    assert_eq!(body["campaign"]["state"], "running");

    // The picker finds ann by the start of her email.
    let (status, _, picks) = browser
        .get(&format!("/ui/w/{ws}/people/pick?person_query=ann%40ex"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let seq = Browser::hidden_attribute(&picks, "data-seq");
    // Without a person, nothing is sent and the dialog says why.
    let send_path = format!("/ui/w/{ws}/send-event");
    let (status, _, page) = browser
        .post(
            &send_path,
            &[
                ("csrf", &csrf),
                ("person", ""),
                ("name", "purchased"),
                ("data", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Choose a person"), "{page}");
    // "What will this do?" without JavaScript: the answer on the dialog's own page, the form
    // kept; refused data says why; neither stores anything.
    let what_if_path = format!("{send_path}/what-if");
    let ask = |data: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("person", seq.clone()),
            ("person_query", "ann@example.com".to_owned()),
            ("name", " purchased ".to_owned()),
            ("data", data.to_owned()),
        ]
    };
    let form = ask("{\"price\": 9}");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, answer) = browser.post(&what_if_path, &form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(answer.contains("If you send it now"), "{answer}");
    assert!(answer.contains("Starts</span>"), "{answer}");
    assert!(answer.contains("Receipt</a>"), "{answer}");
    assert!(
        answer.contains("{&#34;price&#34;: 9}") || answer.contains("{&quot;price&quot;: 9}"),
        "the data is kept: {answer}"
    );
    let form = ask("{\"price\": ");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, refused) = browser.post(&what_if_path, &form).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        refused.contains("Event data is not valid JSON"),
        "{refused}"
    );
    let (status, _, _) = browser
        .post(
            &what_if_path,
            &[("person", seq.as_str()), ("name", "purchased")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the CSRF token is checked");
    let (_, events) = app.app_get("/v1/customers/ann/activities?type=event").await;
    assert_eq!(
        events["activities"].as_array().map(Vec::len),
        Some(0),
        "nothing was sent: {events}"
    );
    let (status, location, _) = browser
        .post(
            &send_path,
            &[
                ("csrf", &csrf),
                ("person", &seq),
                ("name", "purchased"),
                ("data", "{\"price\": 9}"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location.contains(&format!("/people/{seq}?sent=purchased")),
        "{location}"
    );
    let (_, events) = app.app_get("/v1/customers/ann/activities?type=event").await;
    assert_eq!(events["activities"][0]["name"], "purchased");
    let (status, _, trigger) = browser.get(&format!("{overview_path}/trigger")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(trigger.contains("Starts on event “purchased”"), "{trigger}");
    let (status, _, _) = browser.get(&format!("/ui/w/{ws}/campaigns/9999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn suppress_and_delete_are_confirmed_and_do_what_the_track_api_does() {
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "ops@example.com", &[]);
    crate::helpers::identify(&app, "ann", serde_json::json!({"email": "ann@example.com"})).await;
    crate::helpers::identify(&app, "bob", serde_json::json!({})).await;
    let mut browser = Browser::new(&app.server);
    browser.sign_in("ops@example.com", PASSWORD).await;
    let ws = app.workspace.id;
    let (_, _, list) = browser.get(&format!("/ui/w/{ws}/people")).await;
    let ann = Browser::link(&list, "\">ann</a>");
    let bob = Browser::link(&list, "\">bob</a>");

    let (status, _, confirm) = browser.get(&format!("{ann}/suppress")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        confirm.contains("Suppress ann?") && confirm.contains("suppressed"),
        "{confirm}"
    );
    let csrf = Browser::hidden(&confirm, "csrf");
    // Without the token nothing happens.
    let (status, _, _) = browser.post(&format!("{ann}/suppress"), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.app_get("/v1/customers/ann/activities").await;
    assert_eq!(status, 200, "ann is still there");

    let (status, location, _) = browser
        .post(&format!("{ann}/suppress"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, page) = browser.get(&location).await;
    assert!(page.contains("Suppressed ann."), "{page}");
    // A notice is shown only as the server signed it for this session: a link from elsewhere
    // cannot put its own words in one, nor replay this one with other words.
    let forged = location.replace("Suppressed", "Sign+in+again+at+evil.example.+Suppressed");
    for path in [
        format!("/ui/w/{ws}/people?done=Your+session+expired"),
        forged,
        format!("{ann}?sent=Your+session+expired"),
    ] {
        let (status, _, page) = browser.get(&path).await;
        assert!(!page.contains("role=\"status\""), "{path}: {status} {page}");
    }
    let (status, _) = app.app_get("/v1/customers/ann/activities").await;
    assert_eq!(status, 404, "ann is gone");
    // Suppressed: the Track API's identify of ann is ignored from now on.
    crate::helpers::identify(&app, "ann", serde_json::json!({})).await;
    let (status, _) = app.app_get("/v1/customers/ann/activities").await;
    assert_eq!(status, 404, "ann stays gone");

    let (status, location, _) = browser
        .post(&format!("{bob}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.contains("Deleted"), "{location}");
    let (status, _) = app.app_get("/v1/customers/bob/activities").await;
    assert_eq!(status, 404, "bob is gone");
    let (status, _, _) = browser.get(&format!("{bob}/delete")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no one left to confirm");
    let (status, _, _) = browser.get(&format!("/ui/w/{ws}/people/1/explode")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn settings_show_the_site_id_keys_behind_reveal_and_the_snippet() {
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "keys@example.com", &[]);
    let mut browser = Browser::new(&app.server);
    browser.sign_in("keys@example.com", PASSWORD).await;
    let ws = app.workspace.id;
    let path = format!("/ui/w/{ws}/settings");
    let (status, _, page) = browser.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&app.workspace.site_id), "{page}");
    // Masked: no key is in the page, only their last four characters.
    for key in [
        &app.workspace.api_key,
        &app.workspace.app_api_key,
        &app.workspace.write_key,
    ] {
        assert!(!page.contains(key.as_str()), "a key is masked: {page}");
        assert!(page.contains(&key[key.len() - 4..]), "{page}");
    }
    assert!(
        page.contains(&format!("data-site-id=\"{}\"", app.workspace.site_id))
            || page.contains(&format!(
                "&#39;data-site-id&#39;, &#39;{}&#39;",
                app.workspace.site_id
            )),
        "the snippet names the site: {page}"
    );
    let csrf = Browser::hidden(&page, "csrf");

    let reveal = format!("{path}/reveal");
    let (status, _, _) = browser.post(&reveal, &[("key", "track")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "Reveal needs the CSRF token");
    let (status, _, shown) = browser
        .post(&reveal, &[("csrf", &csrf), ("key", "track")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(shown.contains(&app.workspace.api_key), "{shown}");
    assert!(
        !shown.contains(&app.workspace.app_api_key),
        "only the key asked for: {shown}"
    );
    let (_, _, shown) = browser
        .post(&reveal, &[("csrf", &csrf), ("key", "app")])
        .await;
    assert!(shown.contains(&app.workspace.app_api_key), "{shown}");
    let (_, _, shown) = browser
        .post(&reveal, &[("csrf", &csrf), ("key", "write")])
        .await;
    assert!(shown.contains(&app.workspace.write_key), "{shown}");
    assert!(shown.contains("Pipelines write key"), "{shown}");

    // Another user without this workspace reaches none of it.
    crate::helpers::create_workspace(&app.server.data_dir, "second");
    add_user(
        &app.server.data_dir,
        "other@example.com",
        &["--workspace", "second"],
    );
    let mut other = Browser::new(&app.server);
    other.sign_in("other@example.com", PASSWORD).await;
    let (status, _, body) = other.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains(&app.workspace.site_id));
}

#[tokio::test]
async fn segment_pages_list_sizes_members_and_explain_a_person() {
    use serde_json::json;
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "seg@example.com", &[]);
    crate::helpers::identify(&app, "ann", json!({"email": "ann@example.com"})).await;
    crate::helpers::identify(&app, "bob", json!({})).await;
    for _ in 0..2 {
        crate::helpers::event(&app, "ann", json!({"name": "purchased"})).await;
    }
    crate::helpers::event(&app, "bob", json!({"name": "purchased"})).await;
    let twice = crate::segments::create_segment(
        &app,
        Some(json!({"and": [{"event": {"name": "purchased", "count": {"at_least": 2}}},
                            {"not": {"attribute": {"field": "plan", "op": "eq", "value": "free"}}}]})),
    )
    .await;
    let mut browser = Browser::new(&app.server);
    browser.sign_in("seg@example.com", PASSWORD).await;
    let ws = app.workspace.id;

    let (status, _, list) = browser.get(&format!("/ui/w/{ws}/segments")).await;
    assert_eq!(status, StatusCode::OK);
    let row = list
        .split("<tr>")
        .find(|row| row.contains(&format!("/segments/{twice}\"")))
        .expect("the segment's row");
    assert!(row.contains("<td class=\"number\">1</td>"), "{row}");

    let path = format!("/ui/w/{ws}/segments/{twice}");
    let (status, _, page) = browser.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<figcaption>1 person now"), "{page}");
    assert!(
        page.contains(">ann</a>") && !page.contains(">bob</a>"),
        "{page}"
    );

    // Explained for a member and a non-member, condition by condition.
    let (_, _, ann) = browser
        .get(&format!("{path}?person=ann%40example.com"))
        .await;
    assert!(ann.contains("is <strong>in</strong> this segment"), "{ann}");
    assert!(
        ann.contains("Did “purchased” at least 2 times: 2 matching events"),
        "{ann}"
    );
    let (_, _, bob) = browser.get(&format!("{path}?person=bob")).await;
    assert!(
        bob.contains("is <strong>not in</strong> this segment"),
        "{bob}"
    );
    assert!(bob.contains("1 matching event,"), "{bob}");
    let (_, _, nobody) = browser.get(&format!("{path}?person=nobody")).await;
    assert!(nobody.contains("No person has the id or email"), "{nobody}");
    let (status, _, _) = browser.get(&format!("/ui/w/{ws}/segments/9999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn manual_segments_are_made_and_filled_from_a_typed_list_and_a_file() {
    use serde_json::json;
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "manual@example.com", &[]);
    for (id, email) in [
        ("ann", "ann@example.com"),
        ("bob", "bob@example.com"),
        ("cat", "cat@example.com"),
    ] {
        crate::helpers::identify(&app, id, json!({"email": email})).await;
    }
    let mut browser = Browser::new(&app.server);
    browser.sign_in("manual@example.com", PASSWORD).await;
    let ws = app.workspace.id;
    let (_, _, list) = browser.get(&format!("/ui/w/{ws}/segments")).await;
    let csrf = Browser::hidden(&list, "csrf");
    let (status, location, _) = browser
        .post(
            &format!("/ui/w/{ws}/segments/new-manual"),
            &[("csrf", &csrf), ("name", "VIPs")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let id: i64 = location
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("the new segment's page");
    let members_path = format!("/ui/w/{ws}/segments/{id}/members");

    // A typed list and a CSV file at once: ids, an email in another case, a header row.
    let (status, _, page) = browser
        .post_multipart(
            &members_path,
            &[("csrf", &csrf), ("people", "ann, ghost"), ("action", "add")],
            Some((
                "vips.csv",
                "email,name\nBOB@example.com,Bob\nnobody@example.com,No\n",
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Added 2 people. 2 matched nobody:"), "{page}");
    assert!(
        page.contains("<code>ghost</code>") && page.contains("<code>nobody@example.com</code>"),
        "{page}"
    );
    let members = crate::segments::members(&app, id).await;
    assert_eq!(members, vec!["ann".to_owned(), "bob".to_owned()]);

    let (_, _, page) = browser
        .post_multipart(
            &members_path,
            &[("csrf", &csrf), ("people", "bob"), ("action", "remove")],
            None,
        )
        .await;
    assert!(page.contains("Removed 1 person."), "{page}");
    assert_eq!(
        crate::segments::members(&app, id).await,
        vec!["ann".to_owned()]
    );

    let (status, _, _) = browser
        .post_multipart(&members_path, &[("people", "cat"), ("action", "add")], None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the CSRF token is checked");
    let (_, _, empty) = browser
        .post_multipart(
            &members_path,
            &[("csrf", &csrf), ("people", " "), ("action", "add")],
            None,
        )
        .await;
    assert!(empty.contains("Name at least one person"), "{empty}");
    assert_eq!(
        crate::segments::members(&app, id).await,
        vec!["ann".to_owned()]
    );
}

#[tokio::test]
async fn the_segment_builder_changes_its_tree_counts_and_saves_over_http() {
    use serde_json::json;
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "builder@example.com", &[]);
    for who in ["ann", "ann", "bob"] {
        crate::helpers::event(
            &app,
            who,
            json!({"name": "purchased", "data": {"price": 20}}),
        )
        .await;
    }
    let mut browser = Browser::new(&app.server);
    browser.sign_in("builder@example.com", PASSWORD).await;
    let ws = app.workspace.id;
    let (status, _, page) = browser.get(&format!("/ui/w/{ws}/segments/new")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Condition 1: choose an event name"), "{page}");
    let csrf = Browser::hidden(&page, "csrf");
    let tree = |extra: &[(&'static str, &'static str)]| {
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("name", "Buyers"),
            ("0.kind", "group"),
            ("0.join", "and"),
            ("0.0.kind", "event"),
            ("0.0.name", "purchased"),
            ("0.0.count_op", "at_least"),
            ("0.0.count", "2"),
        ];
        form.extend_from_slice(extra);
        form
    };

    // A select that changes what a condition shows: the tree comes back with it.
    let (status, _, fragment) = browser
        .post_htmx(
            &format!("/ui/w/{ws}/segments/builder"),
            &tree(&[("0.0.when", "within"), ("op", "refresh")]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{fragment}");
    assert!(fragment.starts_with("<div id=\"builder\""), "{fragment}");
    assert!(fragment.contains(">Amount</label>"), "{fragment}");
    // A button: a data filter added to condition 1.
    let (_, _, fragment) = browser
        .post_htmx(
            &format!("/ui/w/{ws}/segments/builder"),
            &tree(&[("op", "add-filter:0.0")]),
        )
        .await;
    assert!(fragment.contains("name=\"0.0~0.field\""), "{fragment}");

    // The live count, and the JSON view brought up to date beside it.
    let (status, _, count) = browser
        .post_htmx(&format!("/ui/w/{ws}/segments/builder/count"), &tree(&[]))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        count.contains("<strong data-count>1</strong> person matches"),
        "{count}"
    );
    assert!(count.contains("hx-swap-oob"), "{count}");
    let (status, _, _) = browser
        .post_htmx(
            &format!("/ui/w/{ws}/segments/builder/count"),
            &[("0.kind", "group")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the CSRF token is checked");

    // Saving: the segment exists with the definition the tree stands for.
    let (status, location, _) = browser
        .post(&format!("/ui/w/{ws}/segments/save"), &tree(&[]))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let id: i64 = location
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("an id");
    let (_, body) = app.app_get(&format!("/v1/segments/{id}")).await;
    assert_eq!(
        body["segment"]["definition"],
        json!({"and": [{"event": {"name": "purchased", "count": {"at_least": 2}}}]})
    );
    // Editing it shows who would enter and leave before saving.
    let (status, _, edit) = browser.get(&format!("/ui/w/{ws}/segments/{id}/edit")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(edit.contains("value=\"purchased\""), "{edit}");
    let id_text = id.to_string();
    let mut form = tree(&[]);
    form.retain(|(key, _)| *key != "0.0.count");
    form.push(("0.0.count", "1"));
    form.push(("segment_id", &id_text));
    let (_, _, count) = browser
        .post_htmx(&format!("/ui/w/{ws}/segments/builder/count"), &form)
        .await;
    assert!(
        count.contains("<strong>1</strong> would enter and <strong>0</strong> would leave"),
        "{count}"
    );
    // An incomplete tree is not saved, and says what is missing.
    let (status, _, refused) = browser
        .post(
            &format!("/ui/w/{ws}/segments/save"),
            &[
                ("csrf", csrf.as_str()),
                ("name", "Empty"),
                ("0.kind", "group"),
                ("0.0.kind", "event"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains("Not saved: Condition 1: choose an event name"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_workspaces_home_shows_volume_top_events_segments_and_running_campaigns() {
    use serde_json::json;
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "home@example.com", &[]);
    let mut browser = Browser::new(&app.server);
    browser.sign_in("home@example.com", PASSWORD).await;
    let ws = app.workspace.id;
    let (status, _, empty) = browser.get(&format!("/ui/w/{ws}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(empty.contains("No event in the last 30 days."), "{empty}");

    for (who, name) in [
        ("ann", "purchased"),
        ("ann", "purchased"),
        ("bob", "viewed"),
        ("ann", SCRIPT),
    ] {
        crate::helpers::event(&app, who, json!({"name": name})).await;
    }
    let segment =
        crate::segments::create_segment(&app, Some(json!({"event": {"name": "purchased"}}))).await;
    let campaign = purchase_campaign(&app).await;
    let (status, body) = app
        .app_post(&format!("/v1/campaigns/{campaign}/start"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");

    let (_, _, home) = browser.get(&format!("/ui/w/{ws}")).await;
    assert!(
        home.contains("<figcaption>4 events in the last 30 days"),
        "{home}"
    );
    assert!(!home.contains(SCRIPT), "tracked names are escaped: {home}");
    let purchased = home
        .find("</span> purchased</a>")
        .expect("purchased is listed");
    let viewed = home.find("</span> viewed</a>").expect("viewed is listed");
    assert!(purchased < viewed, "the most frequent first");
    let row = home
        .split("<tr>")
        .find(|row| row.contains(&format!("/segments/{segment}\"")))
        .expect("the segment's row");
    assert!(
        row.contains("<td class=\"number\">1</td><td class=\"number\">+1</td>"),
        "{row}"
    );
    let row = home
        .split("<tr>")
        .find(|row| row.contains(&format!("/campaigns/{campaign}\"")))
        .expect("the running campaign's row");
    assert!(row.contains("<td class=\"number\">0</td>"), "{row}");

    // A finished build tells htmx to reload the segment's page.
    let response = reqwest::Client::new()
        .get(format!(
            "{}/ui/w/{ws}/segments/{segment}/progress",
            app.server.base_url
        ))
        .header(COOKIE, browser.cookie_header())
        .send()
        .await
        .expect("answered");
    assert_eq!(
        response
            .headers()
            .get("hx-refresh")
            .map(|v| v.to_str().unwrap_or_default()),
        Some("true")
    );
}

/// Behind a proxy that ends TLS the listener is plain HTTP, but an `https://` public URL says
/// browsers come over HTTPS: the web UI's cookies are then `Secure`, and not otherwise.
#[tokio::test]
async fn an_https_public_url_makes_the_cookies_secure() {
    for (extra, secure) in [
        (&["--public-url", "https://herald.example.com"][..], true),
        (&[][..], false),
    ] {
        let app = TestApp::spawn_with(extra).await;
        add_user(&app.server.data_dir, "sec@example.com", &[]);
        let mut browser = Browser::new(&app.server);
        let response = reqwest::Client::new()
            .get(app.url("/ui/sign-in"))
            .send()
            .await
            .expect("the sign-in page");
        let cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|value| value.to_str().expect("ASCII").to_owned())
            .collect();
        assert!(!cookies.is_empty());
        for cookie in &cookies {
            assert_eq!(cookie.ends_with("; Secure"), secure, "{extra:?}: {cookie}");
        }
        let (status, _, _) = browser.sign_in("sec@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{extra:?}: signing in works");
    }
}

/// What the router and the extractors answer on their own (an unknown address, a path part
/// that is no number, a form's target opened as a page, a form too large) comes as one of the
/// UI's pages, never as plain text, JSON or a blank page.
#[tokio::test]
async fn addresses_no_page_answers_show_the_uis_own_pages() {
    let app = TestApp::spawn().await;
    add_user(&app.server.data_dir, "lost@example.com", &[]);
    let mut browser = Browser::new(&app.server);
    browser.sign_in("lost@example.com", PASSWORD).await;
    let ws = app.workspace.id;
    for (path, status, title) in [
        (
            format!("/ui/w/{ws}/peoplex"),
            StatusCode::NOT_FOUND,
            "Not found",
        ),
        (
            "/ui/settings".to_owned(),
            StatusCode::NOT_FOUND,
            "Not found",
        ),
        ("/ui/w/abc".to_owned(), StatusCode::NOT_FOUND, "Not found"),
        (
            format!("/ui/w/{ws}/people/abc"),
            StatusCode::NOT_FOUND,
            "Not found",
        ),
        (
            format!("/ui/w/{ws}/segments/save"),
            StatusCode::METHOD_NOT_ALLOWED,
            "Not a page",
        ),
        (
            format!("/ui/w/{ws}/send-event"),
            StatusCode::METHOD_NOT_ALLOWED,
            "Not a page",
        ),
    ] {
        let (answered, _, page) = browser.get(&path).await;
        assert_eq!(answered, status, "{path}: {page}");
        assert!(
            page.contains("<!doctype html>") || page.contains("<!DOCTYPE html>"),
            "{path}: {page}"
        );
        assert!(page.contains(title), "{path}: {page}");
    }
    // The API's addresses keep their JSON answers.
    let (status, body) = app.app_get("/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "not_found", "{body}");

    let (_, _, list) = browser.get(&format!("/ui/w/{ws}/segments")).await;
    let csrf = Browser::hidden(&list, "csrf");
    let (_, location, _) = browser
        .post(
            &format!("/ui/w/{ws}/segments/new-manual"),
            &[("csrf", &csrf), ("name", "Big")],
        )
        .await;
    let huge = "someone@example.com\n".repeat(450_000);
    let (status, _, page) = browser
        .post_multipart(
            &format!("{location}/members"),
            &[("csrf", &csrf), ("action", "add")],
            Some(("people.csv", &huge)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("larger than 8 MB"), "{page}");
}
