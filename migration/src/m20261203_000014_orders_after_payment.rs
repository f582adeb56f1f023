//! Orders after payment: what each line has had fulfilled, cancelled and
//! refunded; when and why an order was cancelled and how its money is
//! captured; fulfilments (shipments from a stock location, with tracking)
//! and their lines; refunds, their lines and the tenders they paid back;
//! the order's timeline of events and notes; and the carrier webhook events
//! already handled (de-duplicated by the carrier's event id).

use sea_orm_migration::{prelude::*, schema::*};

/// Adds the order and line columns and the fulfilment, refund, timeline and
/// carrier webhook tables.
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

fn index(
    name: &str,
    table: &'static str,
    cols: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(table);
    for col in cols {
        idx.col(*col);
    }
    if unique {
        idx.unique();
    }
    idx.to_owned()
}

/// Columns added to existing tables, as (table, column definition).
fn added_columns() -> Vec<(&'static str, ColumnDef)> {
    vec![
        // Units of the line shipped by fulfilments that are not cancelled.
        (
            "order_line",
            integer("quantity_fulfilled").default(0).take(),
        ),
        // Units of the line cancelled (never to be shipped).
        (
            "order_line",
            integer("quantity_cancelled").default(0).take(),
        ),
        // Units of the line refunded.
        ("order_line", integer("quantity_refunded").default(0).take()),
        // When the order was cancelled, and why (as staff told it).
        ("shop_order", timestamp_with_time_zone_null("cancelled_at")),
        ("shop_order", text_null("cancel_reason")),
        // How its card money is captured: `automatic`, `on_fulfillment` or
        // `manual` (the node's setting when it was placed).
        (
            "shop_order",
            string_len("capture_mode", 16).default("automatic").take(),
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, Restrict, SetNull};

        // SQLite adds one column per statement.
        for (table, mut column) in added_columns() {
            m.alter_table(
                Table::alter()
                    .table(table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table("fulfillment")
                .col(big_pk_auto("id"))
                .col(big_integer("order_id"))
                // Where it ships from.
                .col(big_integer("location_id"))
                // `shipped`, `in_transit`, `out_for_delivery`, `delivered`,
                // `failure` or `cancelled`.
                .col(string_len("status", 24))
                // Carrier code (`manual`, `easypost` ...) and its tracking.
                .col(string_len_null("carrier", 64))
                .col(string_len_null("tracking_number", 255))
                .col(text_null("tracking_url"))
                // A label bought through the carrier adapter.
                .col(text_null("label_url"))
                // The carrier adapter's id of the shipment or tracker.
                .col(string_len_null("carrier_reference", 255))
                // Captured when it shipped (capture mode `on_fulfillment`).
                .col(big_integer("captured_minor").default(0))
                // Who created it: `staff:2`, `token:5` ...
                .col(string_len("actor", 255))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("delivered_at"))
                .col(timestamp_with_time_zone_null("cancelled_at"))
                .foreign_key(&mut fk("fulfillment", "order_id", "shop_order", Cascade))
                .foreign_key(&mut fk(
                    "fulfillment",
                    "location_id",
                    "stock_location",
                    Restrict,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_fulfillment_order_id",
            "fulfillment",
            &["order_id", "id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_fulfillment_carrier_tracking",
            "fulfillment",
            &["carrier", "tracking_number"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("fulfillment_line")
                .col(big_pk_auto("id"))
                .col(big_integer("fulfillment_id"))
                .col(big_integer("order_line_id"))
                .col(integer("quantity"))
                .foreign_key(&mut fk(
                    "fulfillment_line",
                    "fulfillment_id",
                    "fulfillment",
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "fulfillment_line",
                    "order_line_id",
                    "order_line",
                    Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_fulfillment_line_fulfillment_id",
            "fulfillment_line",
            &["fulfillment_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("refund")
                .col(big_pk_auto("id"))
                .col(big_integer("order_id"))
                // `pending`, `succeeded` or `failed` (retryable).
                .col(string_len("status", 16))
                // Total paid back, and the shipping part of it.
                .col(big_integer("amount_minor"))
                .col(big_integer("shipping_minor").default(0))
                .col(string_len("currency_code", 3))
                // `original` (the tenders that paid) or `store_credit`.
                .col(string_len("destination", 16))
                .col(text_null("note"))
                // The caller's key, scoped to the caller
                // (`staff:2:KEY`), unique per order.
                .col(string_len("idempotency_key", 400))
                .col(string_len("actor", 255))
                .col(text_null("last_error"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("refund", "order_id", "shop_order", Cascade))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_refund_order_id_idempotency_key",
            "refund",
            &["order_id", "idempotency_key"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("refund_line")
                .col(big_pk_auto("id"))
                .col(big_integer("refund_id"))
                .col(big_integer("order_line_id"))
                .col(integer("quantity"))
                // Whether the units go back on hand.
                .col(boolean("restock"))
                // What the units are worth, from the line's snapshot.
                .col(big_integer("amount_minor"))
                .foreign_key(&mut fk("refund_line", "refund_id", "refund", Cascade))
                .foreign_key(&mut fk(
                    "refund_line",
                    "order_line_id",
                    "order_line",
                    Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_refund_line_refund_id",
            "refund_line",
            &["refund_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("refund_tender")
                .col(big_pk_auto("id"))
                .col(big_integer("refund_id"))
                // `card` (a gateway payment), `gift_card` or `store_credit`.
                .col(string_len("tender", 16))
                .col(big_integer_null("payment_id"))
                .col(big_integer_null("gift_card_id"))
                .col(big_integer_null("store_credit_account_id"))
                .col(big_integer("amount_minor"))
                // `pending`, `succeeded` or `failed`.
                .col(string_len("status", 16))
                // The gateway's id of the refund.
                .col(string_len_null("reference", 255))
                .col(integer("attempts").default(0))
                .col(text_null("last_error"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("refund_tender", "refund_id", "refund", Cascade))
                .foreign_key(&mut fk("refund_tender", "payment_id", "payment", SetNull))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_refund_tender_refund_id",
            "refund_tender",
            &["refund_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("order_event")
                .col(big_pk_auto("id"))
                .col(big_integer("order_id"))
                // `note`, `captured`, `marked_paid`, `fulfilled`,
                // `fulfillment_cancelled`, `tracking_updated`, `delivered`,
                // `refunded`, `refund_failed`, `cancelled`, `notified` ...
                .col(string_len("kind", 32))
                // For people (a note's text, "Refunded 12.00 to the card").
                .col(text("message"))
                // JSON with the ids and amounts involved.
                .col(text("detail"))
                .col(string_len("actor", 255))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("order_event", "order_id", "shop_order", Cascade))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_order_event_order_id",
            "order_event",
            &["order_id", "id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("carrier_webhook_event")
                .col(big_pk_auto("id"))
                .col(string_len("carrier", 64))
                .col(string_len("event_id", 255))
                .col(timestamp_with_time_zone("received_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_carrier_webhook_event",
            "carrier_webhook_event",
            &["carrier", "event_id"],
            true,
        ))
        .await?;

        // Staff search over orders.
        for (name, cols) in [
            ("ix_shop_order_created_at", &["created_at", "id"][..]),
            (
                "ix_shop_order_payment_status",
                &["payment_status", "created_at"][..],
            ),
            (
                "ix_shop_order_fulfillment_status",
                &["fulfillment_status", "created_at"][..],
            ),
        ] {
            m.create_index(index(name, "shop_order", cols, false))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "ix_shop_order_created_at",
            "ix_shop_order_payment_status",
            "ix_shop_order_fulfillment_status",
        ] {
            m.drop_index(Index::drop().name(name).table("shop_order").to_owned())
                .await?;
        }
        for table in [
            "carrier_webhook_event",
            "order_event",
            "refund_tender",
            "refund_line",
            "refund",
            "fulfillment_line",
            "fulfillment",
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for (table, column) in added_columns().into_iter().rev() {
            m.alter_table(
                Table::alter()
                    .table(table)
                    .drop_column(column.get_column_name())
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
