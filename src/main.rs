//! The `emporium` command: serve the API, migrate, seed, print the schema.

use clap::{Parser, Subcommand};
use tracing_subscriber::{EnvFilter, fmt};

use emporium::domain::import::Stage;
use emporium::{
    app::{self, AppState},
    config::{Config, LogFormat, Mode},
    domain, graphql, infra, seed,
};
use futures_util::StreamExt;
use std::io::{BufRead, IsTerminal, Write};

// mimalloc keeps resident memory flat under many small, short-lived
// allocations from many threads, where the system allocator fragments.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// emporium: a GraphQL headless-commerce API server.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations, seed an empty embedded database, and serve (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Fill an empty database with the deterministic demo catalog.
    Seed {
        /// How many products to generate.
        #[arg(long, default_value_t = 1000)]
        products: usize,
    },
    /// Print the GraphQL schema (SDL) to stdout.
    Schema,
    /// Manage staff users.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Manage partner API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Export data.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Import products, variants, prices, images and stock from a CSV file
    /// (columns in the README). Exits 1 when the file has bad rows.
    Import {
        /// The CSV file (`-` for standard input).
        file: std::path::PathBuf,
        /// Check and count everything, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import the good rows of a file that has bad ones.
        #[arg(long)]
        allow_partial: bool,
        /// Channel of the `price` and `compare_at_price` columns (default: the default channel).
        #[arg(long)]
        channel: Option<String>,
    },
    /// Inspect the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Write a channel's product feed (active products, one item per variant) to stdout.
    Feed {
        /// Channel code (default: the default channel).
        #[arg(long)]
        channel: Option<String>,
        /// `csv` or `json`.
        #[arg(long, default_value = "csv")]
        format: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain; exit 1 naming the first broken entry.
    Verify,
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create a staff user. The password is read from EMPORIUM_STAFF_PASSWORD,
    /// else from the first line of standard input.
    Create {
        /// Login email.
        #[arg(long)]
        email: String,
        /// admin, merchandiser, support or fulfillment.
        #[arg(long)]
        role: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a partner API token and print its secret (shown only this once).
    Create {
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// Comma-separated scopes, e.g. `catalog:read,inventory:write`.
        #[arg(long)]
        scopes: String,
        /// Expire after this many days (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Rate budget: bucket size in cost points (default: the server's partner budget).
        #[arg(long)]
        rate_capacity: Option<i32>,
        /// Rate budget: points restored per second.
        #[arg(long, requires = "rate_capacity")]
        rate_restore_per_second: Option<i32>,
    },
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("EMPORIUM_STAFF_PASSWORD")
        && !p.is_empty()
    {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        eprint!(
            "password (input is shown; pipe it or set EMPORIUM_STAFF_PASSWORD to avoid that): "
        );
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        anyhow::bail!(
            "no password given: set EMPORIUM_STAFF_PASSWORD or pipe it on standard input"
        );
    }
    Ok(password)
}

fn report_user_errors(errors: &[domain::error::UserError]) -> anyhow::Error {
    let lines: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {} ({:?})", e.field.join("."), e.message, e.code))
        .collect();
    anyhow::anyhow!("{}", lines.join("; "))
}

fn init_tracing(config: &Config) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_new(&config.log).map_err(|e| anyhow::anyhow!("EMPORIUM_LOG: {e}"))?;
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("emporium: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Schema = command {
        print!("{}", graphql::sdl());
        return Ok(());
    }
    let config = Config::from_env()?;
    init_tracing(&config)?;
    match command {
        Command::Schema => Ok(()),
        Command::Migrate => {
            let db = infra::db::connect(config.database_url.expose(), 1)
                .await
                .map_err(|e| anyhow::anyhow!("EMPORIUM_DATABASE_URL: cannot connect: {e}"))?;
            let applied = infra::db::migrate(&db).await?;
            tracing::info!(applied, "migrations up to date");
            Ok(())
        }
        Command::Seed { products } => {
            let state = AppState::connect(config).await?;
            let options = seed::SeedOptions {
                products,
                demo_codes: state.config.mode == Mode::Development,
            };
            let report = seed::seed(&state.db, &options).await?;
            tracing::info!(?report, "seeded the demo catalog");
            Ok(())
        }
        Command::Staff {
            command: StaffCommand::Create { email, role, name },
        } => {
            let role = role
                .parse()
                .map_err(|e: String| anyhow::anyhow!("--role: {e}"))?;
            let password = read_password()?;
            let state = AppState::connect(config).await?;
            let new = domain::identity::staff::NewStaff {
                email,
                name,
                password,
                role,
            };
            let user = domain::identity::staff::create(&state.db, &state.hashing, new)
                .await?
                .map_err(|e| report_user_errors(&e))?;
            println!(
                "created staff user {} ({}) with role {}",
                user.email, user.id, user.role
            );
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    name,
                    scopes,
                    expires_in_days,
                    rate_capacity,
                    rate_restore_per_second,
                },
        } => {
            let state = AppState::connect(config).await?;
            let new = domain::identity::api_token::NewToken {
                name,
                scopes: scopes
                    .split([',', ' '])
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_owned)
                    .collect(),
                expires_at: expires_in_days
                    .map(|d| chrono::Utc::now() + chrono::Duration::days(i64::from(d))),
                rate_capacity,
                rate_restore_per_second: rate_restore_per_second
                    .or(rate_capacity.map(|c| (c / 20).max(1))),
                created_by: None,
            };
            let created = domain::identity::api_token::create(&state.db, new)
                .await?
                .map_err(|e| report_user_errors(&e))?;
            eprintln!(
                "created token {} ({}) with scopes: {}; the secret below is shown only this once",
                created.token.name, created.token.prefix, created.token.scopes
            );
            println!("{}", created.secret);
            Ok(())
        }
        Command::Export {
            command: ExportCommand::Feed { channel, format },
        } => {
            let format: domain::feed::Format = format
                .parse()
                .map_err(|e: String| anyhow::anyhow!("--format: {e}"))?;
            let state = AppState::connect(config).await?;
            let channel = domain::channel::resolve(
                &state.db,
                channel.as_deref(),
                state.config.default_channel.as_deref(),
            )
            .await?;
            let base = state.config.storefront_url.clone();
            let mut stream = std::pin::pin!(domain::feed::stream(
                state.db.clone(),
                channel,
                format,
                base
            ));
            let mut out = std::io::stdout().lock();
            while let Some(chunk) = stream.next().await {
                out.write_all(&chunk?)?;
            }
            out.flush()?;
            Ok(())
        }
        Command::Import {
            file,
            dry_run,
            allow_partial,
            channel,
        } => {
            let bytes = if file.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
                buf
            } else {
                std::fs::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
            };
            let state = AppState::connect(config).await?;
            let opts = domain::import::Options {
                dry_run,
                allow_partial,
                channel: channel.or_else(|| state.config.default_channel.clone()),
                reference: file.file_name().map(|n| n.to_string_lossy().into_owned()),
            };
            let actor = domain::audit::Actor {
                kind: "cli",
                id: None,
                label: "emporium import".into(),
            };
            let started = std::time::Instant::now();
            let report =
                domain::import::run(&state.db, &actor, &bytes, &opts, &import_progress).await?;
            let secs = started.elapsed().as_secs_f64();
            eprintln!();
            print_import_report(&report);
            #[allow(clippy::cast_precision_loss)]
            let rate = report.rows as f64 / secs.max(0.001);
            println!("took {secs:.2} s ({rate:.0} rows/s)");
            if report.problems.is_empty() || (report.applied && allow_partial) {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let state = AppState::connect(config).await?;
            let v = domain::audit::verify(&state.db).await?;
            match v.first_broken {
                None => {
                    println!("audit trail intact: {} entries checked", v.checked);
                    Ok(())
                }
                Some(seq) => anyhow::bail!(
                    "audit trail broken at entry {seq} ({} entries checked)",
                    v.checked
                ),
            }
        }
        Command::Serve => {
            config.check_listen()?;
            let listen = config.listen;
            let state = AppState::connect(config).await?;
            if state.is_embedded() && seed::is_empty(&state.db).await? {
                tracing::info!("empty embedded database: seeding the demo catalog");
                let options = seed::SeedOptions {
                    demo_codes: state.config.mode == Mode::Development,
                    ..Default::default()
                };
                seed::seed(&state.db, &options).await?;
            }
            if let Some(code) = state.config.default_channel.as_deref() {
                domain::channel::resolve(&state.db, Some(code), None)
                    .await
                    .map_err(|e| anyhow::anyhow!("EMPORIUM_DEFAULT_CHANNEL: {e}"))?;
            }
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| anyhow::anyhow!("EMPORIUM_LISTEN: cannot bind {listen}: {e}"))?;
            tracing::info!("serving GraphQL at http://{listen}/graphql");
            app::serve(state, listener, app::shutdown_signal()).await
        }
    }
}

/// Progress of a CLI import on standard error.
fn import_progress(stage: Stage, done: usize, total: usize) {
    let what = match stage {
        Stage::Reading => "reading",
        Stage::Checking => "checking",
        Stage::Writing => "writing",
    };
    if total > 0 {
        eprint!("\r{what}: {done}/{total}          ");
    } else {
        eprint!("\r{what}: {done}          ");
    }
}

fn print_import_report(r: &domain::import::Report) {
    for p in &r.problems {
        match &p.column {
            Some(c) => println!("line {}: {c}: {}", p.line, p.message),
            None => println!("line {}: {}", p.line, p.message),
        }
    }
    let verb = if r.dry_run {
        "dry run, nothing written"
    } else if r.applied {
        "imported"
    } else {
        "nothing written"
    };
    println!(
        "{verb}: {} rows ({} skipped); products {} created, {} updated, {} unchanged; \
         variants {} created, {} updated, {} unchanged; {} prices, {} images, {} stock levels changed; {} problems",
        r.rows,
        r.rows_skipped,
        r.products_created,
        r.products_updated,
        r.products_unchanged,
        r.variants_created,
        r.variants_updated,
        r.variants_unchanged,
        r.prices_changed,
        r.media_added,
        r.stock_changed,
        r.problems.len()
    );
}
