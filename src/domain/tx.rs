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
