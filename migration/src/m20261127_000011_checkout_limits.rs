//! Checkout limits: unpaid orders get a payment deadline and remember where
//! they were placed from (so open unpaid orders can be capped per email,
//! customer and client address); a once-per-customer promotion is claimed
//! while a checkout is in flight; a failed automatic void or refund waits
//! in a queue until a worker gets it through.

use sea_orm_migration::{prelude::*, schema::*};

/// Adds the order deadline and client columns, `promotion_claim` and
/// `payment_undo`.
#[derive(DeriveMigrationName)]
pub struct Migration;

fn index(
    name: &str,
    table: &'static str,
    cols: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(*col);
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

fn fk(table: &'static str, column: &'static str, to: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(table, column)
        .to(to, "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        m.alter_table(
            Table::alter()
                .table("shop_order")
                // When an order still awaiting payment is cancelled.
                .add_column(timestamp_with_time_zone_null("payment_due_at"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("shop_order")
                // A keyed digest of the network the order was placed from.
                .add_column(string_len_null("client_address", 64))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_shop_order_status_payment_due_at",
            "shop_order",
            &["status", "payment_due_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_shop_order_email_status",
            "shop_order",
            &["email", "status"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_shop_order_client_address_status",
            "shop_order",
            &["client_address", "status"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("promotion_claim")
                .col(big_pk_auto("id"))
                .col(big_integer("promotion_id"))
                .col(big_integer("customer_id"))
                .col(big_integer("cart_id"))
                // Counted only until then (the checkout's stock hold).
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("promotion_claim", "promotion_id", "promotion"))
                .foreign_key(&mut fk("promotion_claim", "customer_id", "customer"))
                .foreign_key(&mut fk("promotion_claim", "cart_id", "cart"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_promotion_claim_promotion_customer",
            "promotion_claim",
            &["promotion_id", "customer_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ux_promotion_claim_cart_promotion",
            "promotion_claim",
            &["cart_id", "promotion_id"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_promotion_claim_expires_at",
            "promotion_claim",
            &["expires_at"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("payment_undo")
                .col(big_pk_auto("id"))
                .col(string_len("gateway", 32))
                .col(string_len("reference", 255))
                // void | refund
                .col(string_len("action", 16))
                .col(big_integer("amount_minor"))
                .col(string_len("currency_code", 3))
                .col(string_len("idempotency_key", 255))
                // pending | done | failed
                .col(string_len("status", 16))
                .col(integer("attempts").default(0))
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(string_len_null("last_error", 500))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_payment_undo_gateway_key",
            "payment_undo",
            &["gateway", "idempotency_key"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_payment_undo_status_next_attempt_at",
            "payment_undo",
            &["status", "next_attempt_at"],
            false,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["payment_undo", "promotion_claim"] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for name in [
            "ix_shop_order_client_address_status",
            "ix_shop_order_email_status",
            "ix_shop_order_status_payment_due_at",
        ] {
            m.drop_index(Index::drop().name(name).table("shop_order").to_owned())
                .await?;
        }
        for column in ["client_address", "payment_due_at"] {
            m.alter_table(
                Table::alter()
                    .table("shop_order")
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
