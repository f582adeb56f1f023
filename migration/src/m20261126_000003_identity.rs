//! Identity and access: customers and their addresses, staff users, login
//! sessions with rotating refresh tokens, password resets, partner API tokens
//! and the server's generated secrets.
//!
//! Secrets are never stored in clear: refresh tokens, reset tokens and API
//! tokens are kept as SHA-256 digests (they are long random strings, so a
//! digest is enough), passwords as argon2id hashes. Emails are stored
//! lower-cased, so uniqueness is case-insensitive on both backends.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates the identity tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    from_table: &'static str,
    from_col: &'static str,
    to_table: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from_table}_{from_col}"))
        .from(from_table, from_col)
        .to(to_table, "id")
        .on_delete(on_delete)
        .to_owned()
}

fn index(table: &'static str, cols: &[&'static str]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(format!("ix_{table}_{}", cols.join("_")))
        .table(table);
    for col in cols {
        idx.col(*col);
    }
    idx.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("customer")
                .col(big_pk_auto("id"))
                .col(string_len_uniq("email", 320))
                .col(string_null("first_name"))
                .col(string_null("last_name"))
                .col(string_len_null("phone", 32))
                .col(string("password_hash"))
                .col(big_integer_null("customer_group_id"))
                // No foreign key: the address table refers back to customer.
                // The domain clears it when that address is deleted.
                .col(big_integer_null("default_address_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk(
                    "customer",
                    "customer_group_id",
                    "customer_group",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("customer_address")
                .col(big_pk_auto("id"))
                .col(big_integer("customer_id"))
                .col(string_null("first_name"))
                .col(string_null("last_name"))
                .col(string_null("company"))
                .col(string("address1"))
                .col(string_null("address2"))
                .col(string("city"))
                .col(string_len_null("province_code", 16))
                .col(char_len("country_code", 2))
                .col(string_len_null("zip", 32))
                .col(string_len_null("phone", 32))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk(
                    "customer_address",
                    "customer_id",
                    "customer",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("customer_address", &["customer_id"]))
            .await?;
        m.create_table(
            Table::create()
                .table("staff_user")
                .col(big_pk_auto("id"))
                .col(string_len_uniq("email", 320))
                .col(string_null("name"))
                .col(string("password_hash"))
                .col(string_len("role", 32).check(Expr::col("role").is_in([
                    "admin",
                    "merchandiser",
                    "support",
                    "fulfillment",
                ])))
                .col(boolean("active"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("last_login_at"))
                .to_owned(),
        )
        .await?;
        // A login: one family of refresh tokens, each used at most once.
        m.create_table(
            Table::create()
                .table("auth_session")
                .col(string_len("id", 36).primary_key())
                .col(
                    string_len("subject_kind", 16)
                        .check(Expr::col("subject_kind").is_in(["customer", "staff"])),
                )
                .col(big_integer("subject_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(string_len_null("revoked_reason", 32))
                .to_owned(),
        )
        .await?;
        m.create_index(index("auth_session", &["subject_kind", "subject_id"]))
            .await?;
        m.create_table(
            Table::create()
                .table("refresh_token")
                .col(big_pk_auto("id"))
                .col(string_len("session_id", 36))
                .col(string_len_uniq("token_hash", 64))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .foreign_key(&mut fk(
                    "refresh_token",
                    "session_id",
                    "auth_session",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("refresh_token", &["session_id"]))
            .await?;
        m.create_table(
            Table::create()
                .table("password_reset")
                .col(big_pk_auto("id"))
                .col(big_integer("customer_id"))
                .col(string_len_uniq("token_hash", 64))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .foreign_key(&mut fk(
                    "password_reset",
                    "customer_id",
                    "customer",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("password_reset", &["customer_id"]))
            .await?;
        m.create_table(
            Table::create()
                .table("api_token")
                .col(big_pk_auto("id"))
                .col(string("name"))
                .col(string_len("prefix", 32))
                .col(string_len_uniq("token_hash", 64))
                .col(text("scopes"))
                .col(integer_null("rate_capacity"))
                .col(integer_null("rate_restore_per_second"))
                .col(timestamp_with_time_zone_null("expires_at"))
                .col(timestamp_with_time_zone_null("last_used_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(big_integer_null("created_by_staff_id"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "api_token",
                    "created_by_staff_id",
                    "staff_user",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("app_secret")
                .col(string_len("name", 64).primary_key())
                .col(text("value"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "app_secret",
            "api_token",
            "password_reset",
            "refresh_token",
            "auth_session",
            "staff_user",
            "customer_address",
            "customer",
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
