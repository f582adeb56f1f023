//! Database connections: SQLite (embedded default) or PostgreSQL.
//!
//! SQLite runs in WAL mode with a busy timeout and foreign keys on, so
//! concurrent readers never block the writer and a short write lock waits
//! instead of failing.
//!
//! PostgreSQL on a loopback host without an explicit `sslmode` is reached
//! without TLS: it protects nothing there, and measured here it made a
//! 5,000-row inventory sync 3.5 times slower (large statements split into TLS
//! records stall on delayed acknowledgements). Any `sslmode` in the URL is
//! obeyed as given.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Connects to `url` with a pool of at most `max_connections`.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .statement_cache_capacity(256)
        });
    if is_loopback_postgres_without_sslmode(url) {
        opts.map_sqlx_postgres_opts(|o| o.ssl_mode(sea_orm::sqlx::postgres::PgSslMode::Disable));
    }
    Database::connect(opts).await
}

/// A `postgres://` URL naming `localhost`, `127.0.0.1` or `::1` and no `sslmode`.
fn is_loopback_postgres_without_sslmode(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        return false;
    };
    if url.contains("sslmode=") {
        return false;
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

/// Applies every pending migration; returns how many were applied.
pub async fn migrate(db: &DatabaseConnection) -> Result<usize, DbErr> {
    let pending = Migrator::get_pending_migrations(db).await?.len();
    Migrator::up(db, None).await?;
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use super::is_loopback_postgres_without_sslmode as loopback;

    #[test]
    fn tls_is_skipped_only_on_loopback_without_an_explicit_sslmode() {
        assert!(loopback("postgres://postgres@127.0.0.1:5432/shop"));
        assert!(loopback(
            "postgresql://u:p@localhost/shop?application_name=x"
        ));
        assert!(loopback("postgres://u@[::1]:5432/shop"));
        assert!(!loopback("postgres://u@127.0.0.1/shop?sslmode=require"));
        assert!(!loopback("postgres://u@db.internal:5432/shop"));
        assert!(!loopback("postgres://localhost.evil@db.internal/shop"));
        assert!(!loopback("sqlite://emporium.db"));
    }
}
