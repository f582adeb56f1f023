//! Transactions that write.

use sea_orm::{DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait};

/// Starts a transaction that is going to write.
///
/// On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), waiting
/// for it under the busy timeout. A transaction begun the default way reads
/// from a snapshot and asks for the lock only at its first write; if another
/// connection committed in between, SQLite cannot wait for it and fails at
/// once ("database is locked"). PostgreSQL ignores the mode.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Serializes writers on `keys` until the caller's transaction ends, for
/// limits that no row can lock (orders awaiting payment per email, uses of a
/// promotion per customer): a writer counts and inserts only while it holds
/// the keys, so two writers never both see room for one more.
///
/// On PostgreSQL each key takes a transaction-scoped advisory lock, in one
/// order for every writer (sorted), so two writers never wait on each other
/// in a cycle. On SQLite a write transaction already has the database to
/// itself ([`begin_write`]), so there is nothing to take.
pub async fn lock_keys(tx: &impl sea_orm::ConnectionTrait, keys: &[String]) -> Result<(), DbErr> {
    use sea_orm::{DatabaseBackend, Statement};
    if tx.get_database_backend() != DatabaseBackend::Postgres || keys.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<i64> = keys.iter().map(|k| lock_id(k)).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        tx.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [id.into()],
        ))
        .await?;
    }
    Ok(())
}

/// The advisory lock id of `key`: the first 8 bytes of its SHA-256.
fn lock_id(key: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(format!("emporium-lock:{key}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    i64::from_be_bytes(first)
}
