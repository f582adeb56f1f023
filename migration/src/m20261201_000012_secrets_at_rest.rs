//! Secrets at rest: session ids are stored as digests, sealed values get
//! room, and payment client secrets are no longer kept.
//!
//! - `auth_session.id` (and `refresh_token.session_id`, which names it)
//!   becomes the SHA-256 (lower-case hex, 64 characters) of the session id
//!   access tokens carry. Existing sessions are re-keyed here, so access
//!   tokens already issued keep working; their refresh tokens (which do not
//!   carry the session id) are exchanged once more for a login in a new
//!   session.
//! - `webhook_subscription.secret` holds the secret sealed with the master
//!   key, which is longer than 64 characters: the column becomes `text`.
//!   The server seals the values stored in clear when it starts (the key is
//!   configuration, which migrations do not see).
//! - `payment.client_secret` (a gateway's client secret, which the customer
//!   gets in the checkout's answer and nothing reads back) is cleared.
//!
//! SQLite does not enforce `varchar` lengths: only PostgreSQL's columns are
//! widened.

use sea_orm_migration::{
    prelude::*,
    sea_orm::{ConnectionTrait, DbBackend},
};
use sha2::{Digest, Sha256};

/// Hashes session ids, widens the columns sealed values need, clears
/// payment client secrets.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// Length of a UUID session id as stored before this step.
const OLD_ID_LEN: usize = 36;

fn digest(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const SESSION_COLUMNS: [&str; 6] = [
    "subject_kind",
    "subject_id",
    "created_at",
    "expires_at",
    "revoked_at",
    "revoked_reason",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let backend = m.get_database_backend();
        if backend == DbBackend::Postgres {
            for sql in [
                "ALTER TABLE auth_session ALTER COLUMN id TYPE varchar(64)",
                "ALTER TABLE refresh_token ALTER COLUMN session_id TYPE varchar(64)",
                "ALTER TABLE webhook_subscription ALTER COLUMN secret TYPE text",
            ] {
                db.execute_unprepared(sql).await?;
            }
        }
        let rows = db
            .query_all(&Query::select().column("id").from("auth_session").to_owned())
            .await?;
        for row in rows {
            let old: String = row.try_get("", "id")?;
            if old.len() != OLD_ID_LEN {
                continue;
            }
            let new = digest(&old);
            // A copy under the new key, its refresh tokens moved to it, then
            // the old row gone: the foreign key holds at every step.
            let mut copy = Query::select();
            copy.expr(Expr::val(new.clone()));
            for c in SESSION_COLUMNS {
                copy.column(c);
            }
            copy.from("auth_session")
                .and_where(Expr::col("id").eq(old.clone()));
            let mut columns = vec!["id"];
            columns.extend(SESSION_COLUMNS);
            m.exec_stmt(
                Query::insert()
                    .into_table("auth_session")
                    .columns(columns)
                    .select_from(copy)
                    .map_err(|e| DbErr::Migration(e.to_string()))?
                    .to_owned(),
            )
            .await?;
            m.exec_stmt(
                Query::update()
                    .table("refresh_token")
                    .value("session_id", new)
                    .and_where(Expr::col("session_id").eq(old.clone()))
                    .to_owned(),
            )
            .await?;
            m.exec_stmt(
                Query::delete()
                    .from_table("auth_session")
                    .and_where(Expr::col("id").eq(old))
                    .to_owned(),
            )
            .await?;
        }
        m.exec_stmt(
            Query::update()
                .table("payment")
                .value("client_secret", Option::<String>::None)
                .and_where(Expr::col("client_secret").is_not_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Digests cannot be turned back into ids: every login ends.
        let db = m.get_connection();
        db.execute_unprepared("DELETE FROM refresh_token").await?;
        db.execute_unprepared("DELETE FROM auth_session").await?;
        if m.get_database_backend() == DbBackend::Postgres {
            // Sealed secrets cannot be opened here (the key is
            // configuration): they stay sealed, in the wider column.
            for sql in [
                "ALTER TABLE refresh_token ALTER COLUMN session_id TYPE varchar(36)",
                "ALTER TABLE auth_session ALTER COLUMN id TYPE varchar(36)",
            ] {
                db.execute_unprepared(sql).await?;
            }
        }
        Ok(())
    }
}
