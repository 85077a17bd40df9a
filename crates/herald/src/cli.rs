//! The command-line contract. Other tools and tests rely on these exact forms.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Where the data is; every command that reads or writes it takes these flags.
#[derive(Debug, Args, Default, Clone)]
pub struct StoreArgs {
    /// Where the embedded database lives, and with any database the key file that seals
    /// workspace keys and the segment engine's image [default: ./herald-data].
    #[arg(long, env = "HERALD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL database to keep the data in instead of the embedded SQLite file, e.g.
    /// `postgres://herald@db.internal/herald` (or libpq's `host=… dbname=…` form).
    #[arg(long, env = "HERALD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The PostgreSQL schema Herald's tables live in, created if missing [default: the
    /// connection's, usually public].
    #[arg(long, env = "HERALD_DATABASE_SCHEMA", requires = "database_url")]
    pub database_schema: Option<String>,
}

/// Herald: a self-hosted server that speaks Customer.io's Track and App APIs.
#[derive(Debug, Parser)]
#[command(name = "herald", version)]
pub struct Cli {
    /// A TOML file with settings (keys as the long flag names with `_`, e.g. `data_dir`).
    #[arg(long, global = true, env = "HERALD_CONFIG")]
    pub config: Option<PathBuf>,

    /// How log lines are written to stderr: `text` for people, `json` (one object a line) for a
    /// log collector. The level is HERALD_LOG (`info` by default; `warn` leaves out the line
    /// each request logs).
    #[arg(long, global = true, env = "HERALD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the server.
    Serve(Box<ServeArgs>),
    /// Creates or lists workspaces (works whether or not a server runs on the data dir).
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Creates web UI users (works whether or not a server runs on the data dir).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Lists stored rows that cannot be read back (reads skip them), and removes them with
    /// `--delete`. Run it with the server stopped, or restart the server after `--delete`.
    Doctor(DoctorArgs),
    /// Creates the database or brings its schema up to this version, then exits. `herald serve`
    /// does the same at start; run this alone to upgrade before starting servers.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Copies an embedded install to PostgreSQL: every table, ids included, resumable (run it
    /// again after an interruption), then checks that both sides hold as many rows. Stop the
    /// server on the data dir first; afterwards start servers with the same data dir and
    /// --database-url.
    Copy(CopyArgs),
    /// Backs the embedded store up while the server runs: a consistent copy of the database
    /// and the data dir's key file into the new directory DEST, checked by opening it. Start
    /// `herald serve --data-dir DEST` to serve the copy. (PostgreSQL is backed up with its own
    /// tools: pg_dump.)
    Backup {
        /// The directory to create and write the backup into; it must not exist, or be empty.
        dest: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Loads people and events into a workspace of a running server: NDJSON files (Track
    /// API v2 operations, one a line) and CSV files (people: `id` and/or `email` and attribute
    /// columns; events: the person, `name`, `timestamp` and data columns). Imported events start
    /// no campaign, and segments are exact afterwards. Run the same command again after an
    /// interruption: it goes on where the import stopped, applying no line twice.
    Import(ImportArgs),
    /// Writes a workspace's people, events or a segment's members as NDJSON (which `herald
    /// import` takes back) or CSV, streamed to standard output or --output. Works whether or
    /// not a server runs on the data.
    Export(ExportArgs),
}

/// Flags of `herald import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The files, imported in order (`.csv` is CSV, anything else NDJSON).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The workspace [default: the only one]. Its Track API key is read from the data dir.
    #[arg(long)]
    pub workspace: Option<String>,
    /// What the rows of the CSV files are [default: events when the header has `name` and
    /// `timestamp`, else people].
    #[arg(long, value_enum)]
    pub csv: Option<crate::import::CsvKind>,
    /// The running server [default: public_url, else the listen address].
    #[arg(long, env = "HERALD_URL")]
    pub url: Option<String>,
    /// The workspace's site id, with --api-key, instead of reading them from the data dir.
    #[arg(long, env = "HERALD_SITE_ID", requires = "api_key")]
    pub site_id: Option<String>,
    /// The workspace's Track API key, with --site-id.
    #[arg(
        long,
        env = "HERALD_API_KEY",
        hide_env_values = true,
        requires = "site_id"
    )]
    pub api_key: Option<String>,
    /// Print `{"files":[{"file","import_id","resumed_at","lines","imported","invalid","seconds"}]}`.
    #[arg(long)]
    pub json: bool,
    /// Lines at most in one step (one server write). Hidden: the default measured fastest,
    /// and the tests take smaller steps so that a run has many of them to be killed between.
    #[arg(long, hide = true, default_value_t = crate::import::STEP_LINES)]
    pub step_lines: usize,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Flags of `herald export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export: `people`, `events`, or `segment ID` (its members).
    #[arg(value_enum)]
    pub what: crate::export::What,
    /// The segment's id, after `segment`.
    #[arg(value_name = "ID", required_if_eq("what", "segment"))]
    pub segment: Option<i64>,
    /// The workspace [default: the only one].
    #[arg(long)]
    pub workspace: Option<String>,
    /// The format [default: csv for an --output ending in .csv, else ndjson].
    #[arg(long, value_enum)]
    pub format: Option<crate::export::ExportFormat>,
    /// The file to write [default: standard output].
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Flags of `herald copy`. The target has flags only, no environment variable or config key,
/// so that a copy never writes into a database picked up by accident.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The data dir of the embedded install (its `herald.db`); servers on PostgreSQL keep it as
    /// their --data-dir, for its `keys.secret` and `engine.image`.
    #[arg(long, value_name = "DIR")]
    pub from_data_dir: PathBuf,
    /// The PostgreSQL database to copy into, e.g. `postgres://herald@db.internal/herald` (or
    /// libpq's `host=… dbname=…` form). It must hold no Herald data yet.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// The schema to copy into, created if missing [default: the connection's, usually public].
    #[arg(long, value_name = "NAME")]
    pub to_schema: Option<String>,
    /// Print `{"complete","outcome","rows_copied","tables":[{"table","source","target"}]}`.
    #[arg(long)]
    pub json: bool,
    /// Rows read and written at once.
    #[arg(long, hide = true, default_value_t = herald_store_copy::CopyOptions::DEFAULT_CHUNK_ROWS)]
    pub chunk_rows: usize,
    /// A test aid: stop with an error once this many rows were committed in this run, as if
    /// the copy had been killed there.
    #[arg(long, hide = true, value_name = "N")]
    pub stop_after_rows: Option<u64>,
}

/// Flags of `herald doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Remove the rows listed: a person keeps their profile with empty attributes, a segment
    /// or campaign goes with its members and history, any other row is deleted.
    #[arg(long)]
    pub delete: bool,
    /// Print `[{"table","row","column","error"}]`.
    #[arg(long)]
    pub json: bool,
    /// The most rows to list [default: 1000].
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Flags of `herald serve`. Each also has an environment variable and a config-file key.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "HERALD_LISTEN")]
    pub listen: Option<String>,
    /// A PEM certificate chain; with --tls-key, serve HTTPS.
    #[arg(long, env = "HERALD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "HERALD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Read time from a manual clock starting at START (unix seconds; default now), moved with
    /// `POST /v1/_dev/clock`. The environment variable HERALD_DEV_CLOCK takes `true` or START.
    #[arg(long, num_args = 0..=1, require_equals = true, value_name = "START")]
    pub dev_clock: Option<Option<i64>>,
    /// SQLite's durability: `normal` survives a crash of the process, `full` also a power loss
    /// [default: normal].
    #[arg(long, env = "HERALD_SQLITE_SYNCHRONOUS")]
    pub sqlite_synchronous: Option<String>,
    /// The URL people reach this server at, for tracking and unsubscribe links in email
    /// [default: the listen address].
    #[arg(long, env = "HERALD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Where email goes: `smtp://host:port`, `smtp://host:587?tls=required`,
    /// `smtps://user:pass@host:465`. Without it, email steps fail.
    #[arg(long, env = "HERALD_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The push gateway push messages are POSTed to as JSON. Without it, push steps fail.
    #[arg(long, env = "HERALD_PUSH_GATEWAY_URL")]
    pub push_gateway_url: Option<String>,
    /// Networks webhooks may reach although they are private or loopback, comma-separated
    /// (e.g. `127.0.0.0/8,10.1.0.0/16`) [default: none].
    #[arg(long, env = "HERALD_WEBHOOK_ALLOW_NETWORKS", value_delimiter = ',')]
    pub webhook_allow_networks: Option<Vec<String>>,
    /// The secret of the webhook signature header [default: one generated and kept in the
    /// store].
    #[arg(long, env = "HERALD_WEBHOOK_SIGNING_SECRET")]
    pub webhook_signing_secret: Option<String>,
    /// Attempts at one message before it counts as failed [default: 6].
    #[arg(long, env = "HERALD_DELIVERY_MAX_ATTEMPTS")]
    pub delivery_max_attempts: Option<i64>,
    /// Seconds before the first retry of a message; each later retry waits twice as long
    /// [default: 30].
    #[arg(long, env = "HERALD_DELIVERY_RETRY_BASE_SECONDS")]
    pub delivery_retry_base_seconds: Option<i64>,
    /// Origins whose pages may call the browser endpoints of track.js, comma-separated (e.g.
    /// `https://www.example.com,https://app.example.com`) [default: any origin, without
    /// credentials].
    #[arg(long, env = "HERALD_BROWSER_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub browser_allowed_origins: Option<Vec<String>>,
    /// Browser requests one client address may make, as REQUESTS/SECONDS (IPv6 counts per
    /// /64) [default: 1200/60].
    #[arg(long, env = "HERALD_BROWSER_RATE_LIMIT_IP")]
    pub browser_rate_limit_ip: Option<String>,
    /// Browser requests one workspace may receive from all browsers, as REQUESTS/SECONDS
    /// [default: 60000/60].
    #[arg(long, env = "HERALD_BROWSER_RATE_LIMIT_SITE")]
    pub browser_rate_limit_site: Option<String>,
    /// A header your reverse proxy sets to the client's address, e.g. `X-Forwarded-For` (its
    /// last entry counts); only set it behind such a proxy [default: the peer address].
    #[arg(long, env = "HERALD_BROWSER_CLIENT_IP_HEADER")]
    pub browser_client_ip_header: Option<String>,
    /// Requests handled at once; more are answered 503 with Retry-After at once [default: 512].
    #[arg(long, env = "HERALD_MAX_REQUESTS")]
    pub max_requests: Option<usize>,
    /// Request body bytes held at once, from reading to commit, e.g. `64MiB`; a request with a
    /// body past it is answered 503 before its body is read [default: 16MiB].
    #[arg(long, env = "HERALD_MAX_BODY_MEMORY")]
    pub max_body_memory: Option<String>,
    /// Time to send a request's headers, from its first byte, e.g. `30s` [default: 30s].
    #[arg(long, env = "HERALD_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<String>,
    /// Time to send a whole request body once the headers arrived [default: 60s].
    #[arg(long, env = "HERALD_BODY_READ_TIMEOUT")]
    pub body_read_timeout: Option<String>,
    /// Time an idle kept-alive connection stays open [default: 75s].
    #[arg(long, env = "HERALD_KEEP_ALIVE_TIMEOUT")]
    pub keep_alive_timeout: Option<String>,
    /// Track API requests one workspace may make, as REQUESTS/SECONDS (e.g. `100/1`, like
    /// Customer.io's fair use); over it, 429 with Retry-After [default: no limit].
    #[arg(long, env = "HERALD_TRACK_RATE_LIMIT")]
    pub track_rate_limit: Option<String>,
    /// App API requests one workspace's key may make, as REQUESTS/SECONDS [default: no limit].
    #[arg(long, env = "HERALD_APP_RATE_LIMIT")]
    pub app_rate_limit: Option<String>,
    /// How often, at most, the segment engine writes its image (`engine.image` in the data
    /// dir), from which a restart loads in seconds instead of reading the whole history; also
    /// written at shutdown. `off` keeps no image [default: 5m].
    #[arg(long, env = "HERALD_ENGINE_IMAGE_EVERY")]
    pub engine_image_every: Option<String>,
    /// Fault injection for tests: abort the process right after a message was sent and before
    /// the send is recorded.
    #[arg(long, hide = true, env = "HERALD_CRASH_AFTER_SEND")]
    pub crash_after_send: bool,
    /// Run as one of several servers on the same PostgreSQL database and schema (a preview:
    /// docs/scaling.md says what it does and does not do yet). Needs --database-url.
    #[arg(long, env = "HERALD_CLUSTER")]
    pub cluster: bool,
    /// With --cluster: the segment engine holds only the people of the partitions this server
    /// leases, so that each server's memory holds its share, and asks the other servers'
    /// engines about the rest. Off by default: reads about everyone are slower, and refused
    /// while a dead server's partitions load (docs/scaling.md).
    #[arg(long, env = "HERALD_OWN_PARTITIONS_ONLY", requires = "cluster")]
    pub own_partitions_only: bool,
    /// Serve `GET /metrics` (Prometheus's text format) on this address alone, plain HTTP,
    /// instead of beside the APIs [default: beside the APIs, at the listen address].
    #[arg(long, env = "HERALD_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Log a line for every request (method, route, status, latency, workspace) at info. Off by
    /// default: the lines cost 15–20% of single-request throughput on two cores.
    #[arg(long, env = "HERALD_LOG_REQUESTS")]
    pub log_requests: bool,
    /// Drop events, page views and screen views stamped more than this many days before now,
    /// in the background, in small steps; segments stay exact over the events kept
    /// [default: keep every event].
    #[arg(long, env = "HERALD_RETENTION_DAYS", value_name = "DAYS")]
    pub retention_days: Option<u32>,
    /// How long SIGTERM or SIGINT waits for requests in progress to finish before the server
    /// stops anyway; the writer then still commits what it acknowledged [default: 30s].
    #[arg(long, env = "HERALD_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<String>,
    /// How often the retention setting looks for events to drop, e.g. `1h` [default: 1h].
    #[arg(long, env = "HERALD_RETENTION_EVERY", requires = "retention_days")]
    pub retention_every: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Creates a workspace and prints its credentials once.
    Create {
        name: String,
        /// Print `{"id","name","site_id","api_key","app_api_key","write_key"}`.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Lists workspaces (without their keys, which are only shown at creation).
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Gives a workspace created before Herald had the Data Pipelines API its write key, and
    /// prints it once (a workspace that has one keeps it; Settings in the web UI shows it).
    WriteKey {
        /// The workspace [default: the only one].
        name: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Replaces one of a workspace's keys and prints the new one once; also the way to see a
    /// key again when the printed one is lost. The old key goes on working for the grace period
    /// (by each server's clock), then is refused with a 401 that says it was rotated; rotating
    /// the same key again ends an older key's grace at once. Running servers take the change
    /// without a restart: the command returns once they all refuse what it revoked.
    #[command(group(clap::ArgGroup::new("key").required(true).args(["track", "app", "write_key"])))]
    RotateKey {
        /// The workspace [default: the only one].
        name: Option<String>,
        /// Rotate the Track API key (Basic `site_id:api_key`; the site id stays).
        #[arg(long)]
        track: bool,
        /// Rotate the App API key (Bearer).
        #[arg(long)]
        app: bool,
        /// Rotate the Data Pipelines write key.
        #[arg(long)]
        write_key: bool,
        /// How long the old key keeps working: `ms`, `s`, `m` or `h` (`30m`, `24h`); `0s`
        /// refuses it at once.
        #[arg(long, default_value = "24h", value_parser = crate::workspace_rotate::parse_grace)]
        grace: std::time::Duration,
        /// Print `{"id","name","site_id","kind","key","old_key_expires_at"}`.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Deletes a workspace with all its data: people, events, segments, campaigns, deliveries,
    /// objects, keys and web UI access. Its keys are refused at once, by running servers too;
    /// its rows are then removed in small transactions while servers go on serving the others.
    /// Asks to type the workspace's name unless `--yes`; an interrupted deletion goes on when
    /// run again.
    Delete {
        /// The workspace.
        name: String,
        /// Delete without asking (for scripts; required when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
        /// Print `{"id","name","removed":{table: rows}}`.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Prints the HTML snippet that loads track.js with a workspace's site id.
    Snippet {
        /// The workspace [default: the only one].
        name: Option<String>,
        /// Where browsers reach Herald [default: public_url, else http://LISTEN].
        #[arg(long, env = "HERALD_PUBLIC_URL")]
        base_url: Option<String>,
        /// Print `{"site_id","base_url","script_url","html","tag"}`.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Creates a user who signs in to the web UI with this email; the password is read from
    /// standard input (one line), so it never appears in the shell's history or `ps`.
    Create {
        email: String,
        /// Read the password from standard input (required: there is no other way to give it).
        #[arg(long)]
        password_stdin: bool,
        /// The user reaches every workspace, present and future.
        #[arg(long)]
        admin: bool,
        /// A workspace (by name) the user reaches; repeat for more. Without it and without
        /// --admin, the user reaches every workspace that exists now.
        #[arg(long = "workspace")]
        workspaces: Vec<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}
