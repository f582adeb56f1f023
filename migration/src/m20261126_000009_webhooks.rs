//! Outbound webhooks for partner apps: subscriptions (where to send which
//! topics, with what signing secret) and the delivery log, one row per
//! event and subscription, which is also the retry queue.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `webhook_subscription` and `webhook_delivery`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("webhook_subscription")
                .col(big_pk_auto("id"))
                .col(text("url"))
                // Space-separated topics, e.g. `order.created order.paid`.
                .col(text("topics"))
                // Signs deliveries; kept in clear, it is needed to sign.
                .col(string_len("secret", 64))
                // Exactly one of the two: who created it.
                .col(big_integer_null("created_by_staff_id"))
                .col(big_integer_null("created_by_token_id"))
                .col(boolean("active").default(true))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_subscription_token")
                .table("webhook_subscription")
                .col("created_by_token_id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("webhook_delivery")
                .col(big_pk_auto("id"))
                .col(big_integer("subscription_id"))
                .col(string_len("event_id", 36))
                .col(string_len("topic", 64))
                // The exact JSON body sent on every attempt.
                .col(text("payload"))
                // pending | succeeded | failed
                .col(string_len("status", 16))
                .col(integer("attempts").default(0))
                // Due time of a pending delivery (pushed forward while an
                // attempt is in flight: the claim's lease).
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(integer_null("last_response_status"))
                .col(text_null("last_error"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("delivered_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_webhook_delivery_subscription_id")
                        .from("webhook_delivery", "subscription_id")
                        .to("webhook_subscription", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_webhook_delivery_subscription_event")
                .table("webhook_delivery")
                .col("subscription_id")
                .col("event_id")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_delivery_due")
                .table("webhook_delivery")
                .col("status")
                .col("next_attempt_at")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("webhook_delivery").to_owned())
            .await?;
        m.drop_table(Table::drop().table("webhook_subscription").to_owned())
            .await
    }
}
