//! The `emporium` command: serve the API, migrate, seed, print the schema.

use clap::{Parser, Subcommand};
use tracing_subscriber::{EnvFilter, fmt};

use emporium::{
    app::{self, AppState},
    config::{Config, LogFormat},
    domain, graphql, infra, seed,
};

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
            let db = infra::db::connect(&config.database_url, 1)
                .await
                .map_err(|e| anyhow::anyhow!("EMPORIUM_DATABASE_URL: cannot connect: {e}"))?;
            let applied = infra::db::migrate(&db).await?;
            tracing::info!(applied, "migrations up to date");
            Ok(())
        }
        Command::Seed { products } => {
            let state = AppState::connect(config).await?;
            let report = seed::seed(&state.db, &seed::SeedOptions { products }).await?;
            tracing::info!(?report, "seeded the demo catalog");
            Ok(())
        }
        Command::Serve => {
            let listen = config.listen;
            let state = AppState::connect(config).await?;
            if state.is_embedded() && seed::is_empty(&state.db).await? {
                tracing::info!("empty embedded database: seeding the demo catalog");
                seed::seed(&state.db, &seed::SeedOptions::default()).await?;
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
