//! The web UI's pages at scale (issue 13): signs in as a real browser would (the sign-in form's
//! CSRF cookie and field, then the session cookie) and times each page over HTTP: the person
//! search by prefix as htmx asks for it, profiles, the activity log's first page and a deep one,
//! the data index (events with their 30-day charts, an event's page, attributes), Settings,
//! "What will this do?" for a purchase, and the segment builder's live count of the benchmark's
//! segments S1–S3 (issue 14), posted as the builder's form, and the campaign editor's message
//! preview (issue 14). One JSON line with p50, p99 and max per page.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, COOKIE, HOST, HeaderValue, LOCATION, SET_COOKIE};
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json};
use std::io::Write;

use super::Setup;
use herald_bench::segments::stats::{Latencies, ms};

const EMAIL: &str = "bench-ui@example.com";
const PASSWORD: &str = "the benchmark's password";

/// One keep-alive connection with the cookies the server set.
struct Browser {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    cookies: Vec<(String, String)>,
}

impl Browser {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<String>,
        htmx: bool,
    ) -> anyhow::Result<(StatusCode, String)> {
        let cookie = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(COOKIE, cookie);
        if htmx {
            request = request.header("hx-request", "true");
        }
        if form.is_some() {
            request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let request = request.body(Full::new(Bytes::from(form.unwrap_or_default())))?;
        self.sender.ready().await.context("the connection closed")?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str()?;
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.retain(|(kept, _)| kept != name);
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        let _ = response.headers().get(LOCATION);
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// Times `runs` requests of `path`.
    async fn time(&mut self, path: &str, runs: usize, htmx: bool) -> anyhow::Result<Value> {
        self.time_form(path, None, runs, htmx).await
    }

    /// Times `runs` requests of `path`: a GET, or a POST of `form`.
    async fn time_form(
        &mut self,
        path: &str,
        form: Option<&str>,
        runs: usize,
        htmx: bool,
    ) -> anyhow::Result<Value> {
        let mut latencies = Latencies::with_capacity(runs);
        let method = if form.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        for _ in 0..runs {
            let begin = Instant::now();
            let (status, _) = self
                .send(method.clone(), path, form.map(str::to_owned), htmx)
                .await?;
            latencies.record(begin.elapsed());
            if status != StatusCode::OK {
                bail!("{path} answered {status}");
            }
        }
        Ok(summary(&mut latencies))
    }
}

fn summary(latencies: &mut Latencies) -> Value {
    json!({
        "runs": latencies.len(),
        "p50_ms": ms(latencies.percentile(0.5)),
        "p99_ms": ms(latencies.percentile(0.99)),
        "max_ms": ms(latencies.max()),
    })
}

/// The value of the hidden field `name` on a page.
fn hidden(page: &str, name: &str) -> anyhow::Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).context("no such field")? + marker.len();
    Ok(page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// Creates the benchmark's UI user unless it exists (`herald user create`).
fn ensure_user(setup: &Setup) -> anyhow::Result<()> {
    let mut child = Command::new(&setup.herald)
        .args([
            "user",
            "create",
            EMAIL,
            "--password-stdin",
            "--admin",
            "--data-dir",
        ])
        .arg(&setup.data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(format!("{PASSWORD}\n").as_bytes())?;
    let output = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && !stderr.contains("already exists") {
        bail!("herald user create failed: {stderr}");
    }
    Ok(())
}

/// Signs in and times the pages; `runs` requests of each.
pub async fn run(setup: &Setup, runs: usize) -> anyhow::Result<Value> {
    ensure_user(setup)?;
    let target = super::client::target(setup)?;
    let mut browser = Browser {
        sender: crate::worker::connect(&target).await?,
        host: target.host.clone(),
        cookies: Vec::new(),
    };
    let (_, page) = browser
        .send(Method::GET, "/ui/sign-in", None, false)
        .await?;
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &hidden(&page, "csrf")?)
        .append_pair("email", EMAIL)
        .append_pair("password", PASSWORD)
        .finish();
    let (status, _) = browser
        .send(Method::POST, "/ui/sign-in", Some(form), false)
        .await?;
    if status != StatusCode::SEE_OTHER {
        bail!("signing in answered {status}");
    }
    let (_, home) = browser.send(Method::GET, "/ui/", None, false).await?;
    let workspace = home
        .split("/ui/w/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no workspace on the home page")?
        .to_owned();
    // A deep page: the log's cursor 20 pages in, found by following the "older" links.
    let mut cursor = format!("/ui/w/{workspace}/activity");
    for _ in 0..20 {
        let (_, page) = browser.send(Method::GET, &cursor, None, false).await?;
        match page.split("href=\"").find(|part| part.contains("before=")) {
            Some(part) => {
                cursor = part
                    .split('"')
                    .next()
                    .unwrap_or_default()
                    .replace("&#38;", "&")
            }
            None => break,
        }
    }
    let (_, people) = browser
        .send(
            Method::GET,
            &format!("/ui/w/{workspace}/people"),
            None,
            false,
        )
        .await?;
    let profile = people
        .split("href=\"")
        .find(|part| part.starts_with(&format!("/ui/w/{workspace}/people/")))
        .and_then(|part| part.split('"').next())
        .context("no profile link on the people page")?
        .to_owned();
    let (_, profile_page) = browser.send(Method::GET, &profile, None, false).await?;
    let seq = profile.rsplit('/').next().unwrap_or_default().to_owned();
    let what_if = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &hidden(&profile_page, "csrf")?)
        .append_pair("person", &seq)
        .append_pair("name", "purchased")
        .append_pair("data", "{\"price\": 25}")
        .finish();
    let what_if_path = format!("/ui/w/{workspace}/send-event/what-if");
    let (_, answer) = browser
        .send(Method::POST, &what_if_path, Some(what_if.clone()), true)
        .await?;
    if !answer.contains("If you send it now") {
        bail!("\"What will this do?\" did not answer: {answer}");
    }
    // The live count of each benchmark segment, as the builder's form posts it.
    let mut live_counts = serde_json::Map::new();
    let csrf = hidden(&profile_page, "csrf")?;
    for segment in herald_bench::segments::definitions::benchmark() {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("csrf", &csrf);
        for (name, value) in
            herald_ui::segment_builder_fields(&segment.definition).map_err(anyhow::Error::msg)?
        {
            form.append_pair(&name, &value);
        }
        let form = form.finish();
        let path = format!("/ui/w/{workspace}/segments/builder/count");
        let (_, answer) = browser
            .send(Method::POST, &path, Some(form.clone()), true)
            .await?;
        if !answer.contains("data-count") {
            bail!("the live count of {} did not count: {answer}", segment.name);
        }
        live_counts.insert(
            segment.name.to_owned(),
            browser.time_form(&path, Some(&form), runs, true).await?,
        );
    }
    // The campaign editor's live preview of a webhook and an email for that person (issue 14):
    // as each keystroke posts it (the sample event already filled in), and the first post
    // after choosing the person (the sample read from their latest purchase).
    let campaign = json!({
        "name": "Receipt",
        "trigger": {"event": {"name": "purchased"}},
        "steps": [
            {"webhook": {"url": "https://example.com/hooks/{{ customer.id }}",
                "headers": {"X-Plan": "{{ customer.plan | default: 'free' }}"},
                "body": "{\"price\": {{ event.price }}, \"email\": \"{{ customer.email }}\"}"}},
            {"email": {"to": "{{ customer.email }}", "from": "shop@example.com",
                "subject": "Your receipt, {{ customer.id }}",
                "html": "<h1>Thanks</h1>{% for i in (1..3) %}<p>Line {{ i }}: {{ event.price | times: i }}</p>{% endfor %}"}},
        ],
    });
    let preview_form = |fill: bool| {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("csrf", &csrf)
            .append_pair("person", &seq)
            .append_pair("person_query", &seq)
            .append_pair("preview_event", "{\"price\": 25}")
            .append_pair(
                "preview_event_for",
                &if fill {
                    String::new()
                } else {
                    format!("{seq}:purchased")
                },
            );
        for (name, value) in herald_ui::campaign_editor_fields(&campaign) {
            form.append_pair(&name, &value);
        }
        form.finish()
    };
    let preview_path = format!("/ui/w/{workspace}/campaigns/editor/preview");
    let (_, answer) = browser
        .send(Method::POST, &preview_path, Some(preview_form(true)), true)
        .await?;
    if !answer.contains("preview-1") || answer.contains("class=\"error\"") {
        bail!("the message preview did not render: {answer}");
    }
    Ok(json!({
        "phase": "ui",
        "live_count": live_counts,
        "message_preview": browser.time_form(&preview_path, Some(&preview_form(false)), runs, true).await?,
        "message_preview_filling_the_sample": browser.time_form(&preview_path, Some(&preview_form(true)), runs, true).await?,
        "search_prefix": browser.time(&format!("/ui/w/{workspace}/people/search?q=u12"), runs, true).await?,
        "people_page": browser.time(&format!("/ui/w/{workspace}/people"), runs, false).await?,
        "profile": browser.time(&profile, runs, false).await?,
        "activity_first_page": browser.time(&format!("/ui/w/{workspace}/activity"), runs, false).await?,
        "activity_page_21": browser.time(&cursor, runs, false).await?,
        "activity_by_name": browser.time(&format!("/ui/w/{workspace}/activity?type=event&name=purchased"), runs, false).await?,
        "data_index": browser.time(&format!("/ui/w/{workspace}/data-index"), runs, false).await?,
        "data_index_event": browser.time(&format!("/ui/w/{workspace}/data-index/event?name=purchased&type=event"), runs, false).await?,
        "data_index_attributes": browser.time(&format!("/ui/w/{workspace}/data-index/attributes"), runs, false).await?,
        "settings": browser.time(&format!("/ui/w/{workspace}/settings"), runs, false).await?,
        "what_if": browser.time_form(&what_if_path, Some(&what_if), runs, true).await?,
    }))
}
