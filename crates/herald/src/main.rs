//! The `herald` binary: command-line dispatch only. Each subcommand lives in its own module.

mod backup;
mod campaigns;
mod cli;
mod config;
mod connections;
mod copy;
mod doctor;
mod export;
mod import;
mod metrics;
mod retention;
mod serve;
mod server_target;
mod store_location;
mod tls;
mod user;
mod workspace;
mod workspace_delete;
mod workspace_rotate;

use clap::Parser;

/// mimalloc instead of the system allocator: glibc's malloc was 14% of the server's CPU under
/// load, much of it contention on arena locks between the HTTP workers and the writer thread
/// (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    avoid_huge_pages();
    let cli = cli::Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        cli::Command::Serve(args) => {
            let settings = config::Settings::resolve(cli.config.as_deref(), *args)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(serve::run(settings))
        }
        cli::Command::Workspace { command } => workspace::run(cli.config.as_deref(), command),
        cli::Command::User { command } => user::run(cli.config.as_deref(), command),
        cli::Command::Doctor(args) => doctor::run(cli.config.as_deref(), args),
        cli::Command::Copy(args) => copy::run(args),
        cli::Command::Backup { dest, store } => backup::run(cli.config.as_deref(), store, &dest),
        cli::Command::Import(args) => {
            let target = server_target::ServerTarget::resolve(server_target::TargetArgs {
                config: cli.config.as_deref(),
                store: args.store,
                url: args.url,
                workspace: args.workspace,
                site_id: args.site_id,
                api_key: args.api_key,
            })?;
            import::run(
                target,
                import::ImportOptions {
                    files: args.files,
                    csv_kind: args.csv,
                    json: args.json,
                    step_lines: args.step_lines,
                },
            )
        }
        cli::Command::Export(args) => export::run(
            store_location::StoreLocation::load(cli.config.as_deref(), args.store)?,
            export::ExportOptions {
                what: args.what,
                segment: args.segment,
                workspace: args.workspace,
                format: args.format,
                output: args.output,
            },
        ),
        cli::Command::Migrate { store } => {
            let location = store_location::StoreLocation::load(cli.config.as_deref(), store)?;
            // Opening a store applies its pending migrations, under the backend's lock.
            drop(location.open()?);
            println!("the database's schema is up to date");
            Ok(())
        }
    }
}

fn init_logging(format: cli::LogFormat) {
    let level = std::env::var("HERALD_LOG")
        .ok()
        .and_then(|value| value.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr);
    match format {
        cli::LogFormat::Text => builder.init(),
        // One JSON object a line, the event's fields flattened beside the message.
        cli::LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Turns transparent huge pages off for the process. mimalloc asks for them, and the kernel then
/// zeroes 2 MiB at every first touch: reading the segment engine's image at a million people and
/// twenty million events took 20.5 s with them and 5.2 s without, nearly all of the difference
/// in the kernel's page zeroing (docs/benchmarks.md). A kernel that refuses is only logged.
fn avoid_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("herald: cannot turn transparent huge pages off: {error}");
    }
}
