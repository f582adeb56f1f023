//! Transactions that write, and a second run for a use case whose
//! transaction lost its database connection before it committed.
//!
//! A transaction whose connection breaks (PostgreSQL restarting, a network
//! fault) is rolled back by the server with everything it wrote, so a use
//! case whose every effect is inside its transactions (events leave through
//! the outbox) can simply run again. [`retrying`] does that once. It never
//! repeats a commit that failed: whether that one took effect is unknown.
//! Use cases that do anything outside the database (call a payment gateway,
//! send mail) must not be run under it as a whole; their database-only
//! steps may be.

use std::{
    future::Future,
    ops::Deref,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use super::error::DomainResult;

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

/// Runs a use case and, if it failed because the database could not be
/// reached (see [`DomainError::is_unavailable`]) before any of its
/// transactions began to commit, runs it once more.
///
/// `run` gets an [`Attempt`] and must begin its write transactions with
/// [`Attempt::begin`], so the attempt knows when a commit starts. Everything
/// the use case does must be in the database (see the module's doc).
///
/// [`DomainError::is_unavailable`]: super::error::DomainError::is_unavailable
pub async fn retrying<T, F, Fut>(mut run: F) -> DomainResult<T>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = DomainResult<T>>,
{
    let first = Attempt::default();
    match run(first.clone()).await {
        Err(e) if e.is_unavailable() && !first.committing() => {
            tracing::warn!(error = %e, "database connection lost before the commit; running again");
            run(Attempt::default()).await
        }
        done => done,
    }
}

/// One run of a use case under [`retrying`].
#[derive(Debug, Clone, Default)]
pub struct Attempt(Arc<AtomicBool>);

impl Attempt {
    /// Begins a write transaction (as [`begin_write`]) whose commit this
    /// attempt hears of.
    pub async fn begin(&self, db: &DatabaseConnection) -> Result<WriteTx, DbErr> {
        Ok(WriteTx {
            tx: begin_write(db).await?,
            attempt: self.clone(),
        })
    }

    /// Whether a transaction of this run has begun to commit.
    fn committing(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A write transaction begun by an [`Attempt`]. It is used like the
/// transaction it wraps (`&tx` is a connection); committing it tells the
/// attempt first.
pub struct WriteTx {
    tx: DatabaseTransaction,
    attempt: Attempt,
}

impl WriteTx {
    /// Commits; from here on the run is not repeated.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.attempt.0.store(true, Ordering::Release);
        self.tx.commit().await
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.tx.rollback().await
    }
}

impl Deref for WriteTx {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.tx
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTx {
    fn get_database_backend(&self) -> DbBackend {
        self.tx.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.tx.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.tx.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.tx.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.tx.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.tx.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.tx.is_mock_connection()
    }
}
