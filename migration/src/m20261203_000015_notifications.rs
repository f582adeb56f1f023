//! Customer notifications and staff order search: the notification queue
//! (one row per event and kind of mail, which is also the retry queue and
//! the send log), the templates a merchant changed (a kind without a row
//! uses the default shipped in the binary), and the indexes the staff
//! `orders` search sorts and filters by.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `notification` and `notification_template` and the search
/// indexes on `shop_order`.
#[derive(DeriveMigrationName)]
pub struct Migration;

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

/// Indexes of the staff order search, as (name, columns).
const SEARCH_INDEXES: &[(&str, &[&str])] = &[
    // `sortKey: TOTAL`.
    ("ix_shop_order_total", &["total_minor", "id"]),
    // `filter: { status }` in creation order.
    (
        "ix_shop_order_status_created_at",
        &["status", "created_at", "id"],
    ),
    // `filter: { channel }` in creation order.
    (
        "ix_shop_order_channel_created_at",
        &["channel_id", "created_at", "id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("notification")
                .col(big_pk_auto("id"))
                // The outbox event it answers (`Envelope::id`).
                .col(string_len("event_id", 64))
                // `order_confirmation`, `order_shipped`, `order_delivered`,
                // `order_cancelled`, `order_refunded`.
                .col(string_len("kind", 32))
                .col(big_integer("order_id"))
                // The fulfilment or refund it is about, if any.
                .col(big_integer_null("subject_id"))
                // `pending`, `sent` or `skipped` (nobody to send to).
                .col(string_len("status", 16))
                .col(integer("attempts").default(0))
                // Due time of a pending notification (pushed forward while
                // a send is in flight: the claim's lease).
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(text_null("last_error"))
                // Where it went (set when sent).
                .col(string_len_null("recipient", 320))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_notification_order_id")
                        .from("notification", "order_id")
                        .to("shop_order", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // One event never sends one kind of mail twice.
        m.create_index(index(
            "ux_notification_event_kind",
            "notification",
            &["event_id", "kind"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_notification_status_next_attempt_at",
            "notification",
            &["status", "next_attempt_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_notification_order_id",
            "notification",
            &["order_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("notification_template")
                .col(big_pk_auto("id"))
                .col(string_len("kind", 32))
                .col(text("subject"))
                .col(text("text_body"))
                .col(text("html_body"))
                // Who changed it last: `staff:2`, `token:5` ...
                .col(string_len("updated_by", 255))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_notification_template_kind",
            "notification_template",
            &["kind"],
            true,
        ))
        .await?;

        for (name, cols) in SEARCH_INDEXES {
            m.create_index(index(name, "shop_order", cols, false))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in SEARCH_INDEXES {
            m.drop_index(Index::drop().name(*name).table("shop_order").to_owned())
                .await?;
        }
        for table in ["notification_template", "notification"] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
