//! Settings: command-line flags over environment variables over the config file over defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use herald_api::{AllowedOrigins, BrowserSettings, IntakeSettings, RateLimit};
use herald_store_sqlite::Synchronous;
use serde::Deserialize;

use crate::cli::ServeArgs;
use crate::connections::Deadlines;
use crate::store_location::StoreLocation;

/// The config file. Keys match the long flag names with `_` for `-`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub database_schema: Option<String>,
    pub listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `true` for a manual clock starting now, or a start time in unix seconds.
    pub dev_clock: Option<toml::Value>,
    pub sqlite_synchronous: Option<String>,
    pub public_url: Option<String>,
    pub smtp_url: Option<String>,
    pub push_gateway_url: Option<String>,
    pub webhook_allow_networks: Option<Vec<String>>,
    pub webhook_signing_secret: Option<String>,
    pub delivery_max_attempts: Option<i64>,
    pub delivery_retry_base_seconds: Option<i64>,
    pub browser_allowed_origins: Option<Vec<String>>,
    pub browser_rate_limit_ip: Option<String>,
    pub browser_rate_limit_site: Option<String>,
    pub browser_client_ip_header: Option<String>,
    pub max_requests: Option<usize>,
    pub max_body_memory: Option<String>,
    pub header_read_timeout: Option<String>,
    pub body_read_timeout: Option<String>,
    pub keep_alive_timeout: Option<String>,
    pub track_rate_limit: Option<String>,
    pub app_rate_limit: Option<String>,
    pub engine_image_every: Option<String>,
    pub cluster: Option<bool>,
    pub metrics_listen: Option<String>,
    pub log_requests: Option<bool>,
    pub retention_days: Option<u32>,
    pub retention_every: Option<String>,
    pub shutdown_timeout: Option<String>,
}

impl FileConfig {
    /// Reads the config file, if one is given.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

/// Whether and from when the manual clock runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevClock {
    Off,
    /// On, starting at the given time or, when `None`, at the current time.
    On(Option<i64>),
}

/// The resolved settings of `herald serve`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub store: StoreLocation,
    pub listen: String,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub dev_clock: DevClock,
    pub synchronous: Synchronous,
    pub delivery: DeliverySettings,
    pub browser: BrowserSettings,
    pub intake: IntakeSettings,
    pub connections: Deadlines,
    /// How often the segment engine writes its image; `None` keeps none.
    pub engine_image_every: Option<Duration>,
    /// Whether this server is one of several on one PostgreSQL database (`--cluster`).
    pub cluster: bool,
    /// Whether its engine holds only its partitions' people (`--own-partitions-only`).
    pub own_partitions_only: bool,
    /// Where `/metrics` is served alone; `None` serves it beside the APIs.
    pub metrics_listen: Option<String>,
    /// Whether every request has its log line.
    pub log_requests: bool,
    /// Events older than this many days are dropped, checked this often; `None` keeps all.
    pub retention: Option<(u32, Duration)>,
    /// How long a stop waits for requests in progress.
    pub shutdown_timeout: Duration,
}

/// How campaign messages leave.
#[derive(Debug, Clone, Default)]
pub struct DeliverySettings {
    pub public_url: Option<String>,
    pub smtp_url: Option<String>,
    pub push_gateway_url: Option<String>,
    pub webhook_allow_networks: Vec<String>,
    pub webhook_signing_secret: Option<String>,
    pub max_attempts: i64,
    pub retry_base_seconds: i64,
    /// Fault injection for the crash test (`--crash-after-send`): abort between a send and
    /// its record.
    pub crash_after_send: bool,
}

fn parse_dev_clock(text: &str, source: &str) -> anyhow::Result<DevClock> {
    match text.trim() {
        "" | "true" | "now" | "1" | "yes" | "on" => Ok(DevClock::On(None)),
        "false" | "0" | "no" | "off" => Ok(DevClock::Off),
        other => match other.parse::<i64>() {
            Ok(start) if start >= 0 => Ok(DevClock::On(Some(start))),
            _ => {
                bail!("{source} must be true, false or a start time in unix seconds, not {other:?}")
            }
        },
    }
}

impl Settings {
    /// Layers the flags (which clap already merged with the environment) over the config file.
    pub fn resolve(config_path: Option<&Path>, args: ServeArgs) -> anyhow::Result<Self> {
        let file = FileConfig::load(config_path)?;
        let store = StoreLocation::resolve(&file, args.store)?;
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let tls = match (
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => bail!("--tls-cert and --tls-key go together: give both or neither"),
        };
        let dev_clock = match args.dev_clock {
            Some(start) => DevClock::On(start),
            None => match std::env::var("HERALD_DEV_CLOCK") {
                Ok(value) => parse_dev_clock(&value, "HERALD_DEV_CLOCK")?,
                Err(_) => match file.dev_clock {
                    None => DevClock::Off,
                    Some(toml::Value::Boolean(true)) => DevClock::On(None),
                    Some(toml::Value::Boolean(false)) => DevClock::Off,
                    Some(toml::Value::Integer(start)) if start >= 0 => DevClock::On(Some(start)),
                    Some(other) => bail!(
                        "dev_clock in the config file must be true, false or a start time in unix seconds, not {other:?}"
                    ),
                },
            },
        };
        let synchronous_text = args
            .sqlite_synchronous
            .or(file.sqlite_synchronous)
            .unwrap_or_else(|| "normal".to_owned());
        let synchronous = Synchronous::parse(&synchronous_text).with_context(|| {
            format!("sqlite_synchronous must be normal or full, not {synchronous_text:?}")
        })?;
        let max_attempts = args
            .delivery_max_attempts
            .or(file.delivery_max_attempts)
            .unwrap_or(6);
        if max_attempts < 1 {
            bail!("delivery_max_attempts must be at least 1, not {max_attempts}");
        }
        let retry_base_seconds = args
            .delivery_retry_base_seconds
            .or(file.delivery_retry_base_seconds)
            .unwrap_or(30);
        if retry_base_seconds < 0 {
            bail!("delivery_retry_base_seconds must not be negative");
        }
        let delivery = DeliverySettings {
            public_url: args.public_url.or(file.public_url),
            smtp_url: args.smtp_url.or(file.smtp_url),
            push_gateway_url: args.push_gateway_url.or(file.push_gateway_url),
            webhook_allow_networks: args
                .webhook_allow_networks
                .or(file.webhook_allow_networks)
                .unwrap_or_default()
                .into_iter()
                .map(|net| net.trim().to_owned())
                .filter(|net| !net.is_empty())
                .collect(),
            webhook_signing_secret: args.webhook_signing_secret.or(file.webhook_signing_secret),
            max_attempts,
            retry_base_seconds,
            crash_after_send: args.crash_after_send,
        };
        let browser = browser_settings(
            args.browser_allowed_origins
                .or(file.browser_allowed_origins),
            args.browser_rate_limit_ip.or(file.browser_rate_limit_ip),
            args.browser_rate_limit_site
                .or(file.browser_rate_limit_site),
            args.browser_client_ip_header
                .or(file.browser_client_ip_header),
        )?;
        let duration = |text: Option<String>, name: &str, default: Duration| match text {
            None => Ok(default),
            Some(text) => parse_duration(&text).map_err(|error| anyhow::anyhow!("{name}: {error}")),
        };
        let rate = |text: Option<String>, name: &str| -> anyhow::Result<Option<RateLimit>> {
            text.map(|text| {
                text.parse::<RateLimit>()
                    .map_err(|error| anyhow::anyhow!("{name}: {error}"))
            })
            .transpose()
        };
        let max_requests = args
            .max_requests
            .or(file.max_requests)
            .unwrap_or(IntakeSettings::DEFAULT_MAX_REQUESTS);
        if max_requests == 0 {
            bail!("max_requests must be at least 1");
        }
        let max_body_bytes = match args.max_body_memory.or(file.max_body_memory) {
            None => IntakeSettings::DEFAULT_MAX_BODY_BYTES,
            Some(text) => {
                parse_size(&text).map_err(|error| anyhow::anyhow!("max_body_memory: {error}"))?
            }
        };
        if max_body_bytes < MIN_BODY_MEMORY {
            bail!(
                "max_body_memory must be at least {} MiB, so that one request of the largest size fits",
                MIN_BODY_MEMORY / (1024 * 1024)
            );
        }
        let intake = IntakeSettings {
            max_requests,
            max_body_bytes,
            body_read_timeout: duration(
                args.body_read_timeout.or(file.body_read_timeout),
                "body_read_timeout",
                IntakeSettings::DEFAULT_BODY_READ_TIMEOUT,
            )?,
            track_rate_limit: rate(
                args.track_rate_limit.or(file.track_rate_limit),
                "track_rate_limit",
            )?,
            app_rate_limit: rate(
                args.app_rate_limit.or(file.app_rate_limit),
                "app_rate_limit",
            )?,
        };
        let connections = Deadlines {
            header: duration(
                args.header_read_timeout.or(file.header_read_timeout),
                "header_read_timeout",
                DEFAULT_HEADER_READ_TIMEOUT,
            )?,
            idle: duration(
                args.keep_alive_timeout.or(file.keep_alive_timeout),
                "keep_alive_timeout",
                DEFAULT_KEEP_ALIVE_TIMEOUT,
            )?,
        };
        let engine_image_every = match args.engine_image_every.or(file.engine_image_every) {
            Some(text) if text.trim() == "off" => None,
            Some(text) => Some(
                parse_duration(&text)
                    .map_err(|error| anyhow::anyhow!("engine_image_every: {error} (or off)"))?,
            ),
            None => Some(DEFAULT_ENGINE_IMAGE_EVERY),
        };
        let retention = match args.retention_days.or(file.retention_days) {
            None => None,
            Some(0) => anyhow::bail!(
                "retention_days: give a number of days, 1 or more (leave it out to keep every event)"
            ),
            Some(days) => {
                let every = match args.retention_every.or(file.retention_every) {
                    Some(text) => parse_duration(&text)
                        .map_err(|error| anyhow::anyhow!("retention_every: {error}"))?,
                    None => DEFAULT_RETENTION_EVERY,
                };
                Some((days, every))
            }
        };
        let shutdown_timeout = match args.shutdown_timeout.or(file.shutdown_timeout) {
            Some(text) => parse_duration(&text)
                .map_err(|error| anyhow::anyhow!("shutdown_timeout: {error}"))?,
            None => DEFAULT_SHUTDOWN_TIMEOUT,
        };
        let cluster = args.cluster || file.cluster.unwrap_or(false);
        if cluster && store.postgres.is_none() {
            anyhow::bail!(
                "cluster: several servers share a PostgreSQL database; give --database-url (the embedded SQLite file serves one server)"
            );
        }
        Ok(Self {
            store,
            listen,
            tls,
            dev_clock,
            synchronous,
            delivery,
            browser,
            intake,
            connections,
            engine_image_every,
            cluster,
            own_partitions_only: args.own_partitions_only,
            metrics_listen: args.metrics_listen.or(file.metrics_listen),
            log_requests: args.log_requests || file.log_requests.unwrap_or(false),
            retention,
            shutdown_timeout,
        })
    }

    /// Returns the segment engine's image inside the data dir.
    pub fn engine_image_path(data_dir: &Path) -> PathBuf {
        data_dir.join("engine.image")
    }

    /// Returns the database file inside the data dir.
    pub fn database_path(data_dir: &Path) -> PathBuf {
        data_dir.join("herald.db")
    }

    /// Returns the file of the key that seals workspace keys (kept out of the database, so a
    /// copy of the database alone reveals no key; back it up beside it).
    pub fn sealing_key_path(data_dir: &Path) -> PathBuf {
        data_dir.join("keys.secret")
    }

    /// Reads, or on first use creates, the data dir's sealing key.
    pub fn key_sealer(data_dir: &Path) -> anyhow::Result<herald_ingest::sealed_keys::KeySealer> {
        let path = Self::sealing_key_path(data_dir);
        herald_ingest::sealed_keys::KeySealer::load_or_create(&path)
            .with_context(|| format!("cannot use the key file {}", path.display()))
    }
}

/// The defaults of the connection timeouts: what reverse proxies use (nginx allows a minute
/// for headers and keeps idle connections 75 seconds; half a minute for headers is hyper's).
const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(75);

/// Five minutes between engine images: writing one of a million people and twenty million
/// events takes a few seconds of the engine's thread (docs/benchmarks.md), and a restart then
/// catches up from at most five minutes of the engine log.
const DEFAULT_ENGINE_IMAGE_EVERY: Duration = Duration::from_secs(300);
/// How long a stop waits for requests in progress before it gives up on them.
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the retention setting looks for events to drop.
const DEFAULT_RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// The smallest body budget: one body of the largest size any route reads.
const MIN_BODY_MEMORY: usize = 4 * 1024 * 1024;

/// Reads a duration: a number with a unit of `ms`, `s`, `m` or `h` (`500ms`, `30s`, `2m`), or a
/// bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let explain = || format!("{text:?} is not a duration: write e.g. 500ms, 30s or 2m");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| explain())?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(explain()),
    };
    if !(seconds > 0.0 && seconds.is_finite()) {
        return Err(format!("{text:?} is not a positive duration"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| explain())
}

/// Reads a size in bytes: a whole number with an optional unit of `KiB`, `MiB`, `GiB` (or
/// `KB`, `MB`, `GB`, read the same way).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let explain = || format!("{text:?} is not a size: write e.g. 64MiB, 512KiB or 1GiB");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().map_err(|_| explain())?;
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => return Err(explain()),
    };
    number.checked_mul(factor).ok_or_else(explain)
}

/// Checks the settings of the browser endpoints, naming the setting at fault.
fn browser_settings(
    allowed_origins: Option<Vec<String>>,
    rate_limit_ip: Option<String>,
    rate_limit_site: Option<String>,
    client_ip_header: Option<String>,
) -> anyhow::Result<BrowserSettings> {
    let rate = |text: Option<String>, name: &str, default: RateLimit| -> anyhow::Result<_> {
        match text {
            None => Ok(default),
            Some(text) => text
                .parse::<RateLimit>()
                .map_err(|error| anyhow::anyhow!("{name}: {error}")),
        }
    };
    let allowed_origins = AllowedOrigins::parse(&allowed_origins.unwrap_or_default())
        .map_err(|error| anyhow::anyhow!("browser_allowed_origins: {error}"))?;
    let client_ip_header = client_ip_header
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .map(|name| {
            axum::http::HeaderName::from_bytes(name.as_bytes())
                .with_context(|| format!("browser_client_ip_header: {name:?} is not a header name"))
        })
        .transpose()?;
    Ok(BrowserSettings {
        allowed_origins,
        per_ip: rate(
            rate_limit_ip,
            "browser_rate_limit_ip",
            BrowserSettings::DEFAULT_PER_IP,
        )?,
        per_site: rate(
            rate_limit_site,
            "browser_rate_limit_site",
            BrowserSettings::DEFAULT_PER_SITE,
        )?,
        client_ip_header,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_clock_values_parse() {
        assert_eq!(parse_dev_clock("true", "x").unwrap(), DevClock::On(None));
        assert_eq!(
            parse_dev_clock("1700000000", "x").unwrap(),
            DevClock::On(Some(1_700_000_000))
        );
        assert_eq!(parse_dev_clock("off", "x").unwrap(), DevClock::Off);
        assert!(parse_dev_clock("soon", "x").is_err());
    }

    #[test]
    fn the_config_file_fills_what_flags_leave_out() {
        // A folder removed when the test ends, where a fixed name under /tmp stayed behind.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herald.toml");
        std::fs::write(&path, "data_dir = \"/tmp/from-file\"\nlisten = \"127.0.0.1:9999\"\nsqlite_synchronous = \"full\"\n").unwrap();
        let args = ServeArgs {
            listen: Some("127.0.0.1:1234".into()),
            ..ServeArgs::default()
        };
        let settings = Settings::resolve(Some(&path), args).unwrap();
        assert_eq!(settings.store.data_dir, PathBuf::from("/tmp/from-file"));
        assert_eq!(settings.listen, "127.0.0.1:1234");
        assert_eq!(settings.synchronous, Synchronous::Full);
        std::fs::write(&path, "unknown_key = 1\n").unwrap();
        assert!(Settings::resolve(Some(&path), ServeArgs::default()).is_err());
    }

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("75"), Ok(Duration::from_secs(75)));
        for bad in ["", "0s", "-1s", "fast", "3 weeks"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_size("64MiB"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_size("512 KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("1000"), Ok(1000));
        for bad in ["", "MiB", "1.5MiB", "64 parsecs"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn browser_settings_are_checked() {
        let settings = browser_settings(
            Some(vec!["https://www.example.com".into()]),
            Some("3/60".into()),
            None,
            Some("X-Forwarded-For".into()),
        )
        .unwrap();
        assert!(settings.allowed_origins.allows("https://www.example.com"));
        assert!(!settings.allowed_origins.allows("https://evil.example"));
        assert_eq!(settings.per_ip, RateLimit::new(3, 60));
        assert_eq!(settings.per_site, BrowserSettings::DEFAULT_PER_SITE);
        assert_eq!(
            settings.client_ip_header.as_ref().map(|name| name.as_str()),
            Some("x-forwarded-for")
        );
        let error = browser_settings(None, Some("fast".into()), None, None).unwrap_err();
        assert!(
            error.to_string().contains("browser_rate_limit_ip"),
            "{error}"
        );
        let error =
            browser_settings(Some(vec!["example.com".into()]), None, None, None).unwrap_err();
        assert!(error.to_string().contains("https://"), "{error}");
    }
}
