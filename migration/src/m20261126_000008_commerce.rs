//! The revenue path: tax rates, shipping, promotions, gift cards, store
//! credit, carts, stock reservations, orders and payments.
//!
//! Money is in minor units (`*_minor`); tax rates are parts per million
//! (`rate_ppm`, 200000 = 20 %), so both backends store them exactly.
//! Gift cards and store credit are ledgers: entries are appended, and the
//! balance column is kept equal to their sum in the same transaction (it is
//! what a debit checks atomically).

use sea_orm_migration::{prelude::*, schema::*};

/// Creates the cart, checkout and order tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    table: &'static str,
    column: &'static str,
    to: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(table, column)
        .to(to, "id")
        .on_delete(on_delete)
        .to_owned()
}

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

const TABLES: &[&str] = &[
    "payment_webhook_event",
    "payment_transaction",
    "payment",
    "order_transition",
    "order_line",
    "shop_order",
    "reservation",
    "cart_line",
    "cart",
    "store_credit_entry",
    "store_credit_account",
    "gift_card_entry",
    "gift_card",
    "promotion_usage",
    "promotion",
    "shipping_method",
    "shipping_zone",
    "tax_rate",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, Restrict, SetNull};

        // Where a channel's prices are taxed before a shopper gives an address.
        m.alter_table(
            Table::alter()
                .table("channel")
                .add_column(string_len_null("default_country", 2))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("tax_rate")
                .col(big_pk_auto("id"))
                .col(string_len("country", 2))
                .col(string_len("region", 16).default(""))
                .col(string_len("tax_class", 64))
                .col(big_integer("rate_ppm"))
                .col(string_len("name", 128))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_tax_rate_place_class",
            "tax_rate",
            &["country", "region", "tax_class"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("shipping_zone")
                .col(big_pk_auto("id"))
                .col(string_len("name", 128))
                // Space-separated ISO 3166 alpha-2 codes.
                .col(text("countries"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("shipping_method")
                .col(big_pk_auto("id"))
                .col(big_integer("zone_id"))
                .col(big_integer("channel_id"))
                .col(string_len("code", 64))
                .col(string_len("name", 128))
                // flat | free_over | by_weight
                .col(string_len("kind", 16))
                .col(big_integer("amount_minor"))
                .col(big_integer_null("threshold_minor"))
                // JSON [{"upToGrams":..,"amountMinor":..}] for by_weight.
                .col(text_null("brackets"))
                .col(string_len_null("tax_class", 64))
                .col(boolean("active").default(true))
                .col(integer("position").default(0))
                .foreign_key(&mut fk(
                    "shipping_method",
                    "zone_id",
                    "shipping_zone",
                    Cascade,
                ))
                .foreign_key(&mut fk("shipping_method", "channel_id", "channel", Cascade))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_shipping_method_channel_code",
            "shipping_method",
            &["channel_id", "code"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("promotion")
                .col(big_pk_auto("id"))
                .col(big_integer("channel_id"))
                .col(string_len("name", 255))
                // Upper-cased; NULL for an automatic promotion.
                .col(string_len_null("code", 64))
                // percentage | fixed_amount | free_shipping | buy_x_get_y
                .col(string_len("kind", 16))
                .col(big_integer("percent_ppm").default(0))
                .col(big_integer("amount_minor").default(0))
                .col(integer("buy_quantity").default(0))
                .col(integer("get_quantity").default(0))
                // JSON {"variants":[..],"products":[..],"collections":[..]};
                // NULL applies to the whole order.
                .col(text_null("targets"))
                .col(big_integer("min_subtotal_minor").default(0))
                .col(boolean("exclusive").default(false))
                .col(timestamp_with_time_zone_null("starts_at"))
                .col(timestamp_with_time_zone_null("ends_at"))
                .col(integer_null("usage_limit"))
                .col(integer_null("per_customer_limit"))
                .col(integer("times_used").default(0))
                .col(boolean("active").default(true))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("promotion", "channel_id", "channel", Cascade))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_promotion_channel_code",
            "promotion",
            &["channel_id", "code"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("gift_card")
                .col(big_pk_auto("id"))
                .col(string_len_uniq("code_hash", 64))
                .col(string_len("last_chars", 8))
                .col(string_len("currency_code", 3))
                .col(big_integer("initial_minor"))
                .col(big_integer("balance_minor"))
                .col(timestamp_with_time_zone_null("expires_at"))
                .col(boolean("disabled").default(false))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("gift_card_entry")
                .col(big_pk_auto("id"))
                .col(big_integer("gift_card_id"))
                .col(big_integer("amount_minor"))
                .col(big_integer_null("order_id"))
                .col(string_len("reason", 64))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "gift_card_entry",
                    "gift_card_id",
                    "gift_card",
                    Cascade,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("store_credit_account")
                .col(big_pk_auto("id"))
                .col(big_integer("customer_id"))
                .col(string_len("currency_code", 3))
                .col(big_integer("balance_minor"))
                .foreign_key(&mut fk(
                    "store_credit_account",
                    "customer_id",
                    "customer",
                    Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_store_credit_account_customer_currency",
            "store_credit_account",
            &["customer_id", "currency_code"],
            true,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("store_credit_entry")
                .col(big_pk_auto("id"))
                .col(big_integer("account_id"))
                .col(big_integer("amount_minor"))
                .col(big_integer_null("order_id"))
                .col(string_len("reason", 64))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "store_credit_entry",
                    "account_id",
                    "store_credit_account",
                    Cascade,
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("cart")
                .col(big_pk_auto("id"))
                .col(string_len_uniq("token", 48))
                .col(big_integer("channel_id"))
                .col(big_integer_null("customer_id"))
                .col(string_len_null("email", 320))
                // JSON mailing addresses.
                .col(text_null("shipping_address"))
                .col(text_null("billing_address"))
                .col(string_len_null("country", 2))
                .col(big_integer_null("shipping_method_id"))
                // JSON arrays: upper-cased discount codes; gift card ids.
                .col(text("discount_codes").default("[]"))
                .col(text("gift_card_ids").default("[]"))
                .col(big_integer_null("order_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("cart", "channel_id", "channel", Cascade))
                .foreign_key(&mut fk("cart", "customer_id", "customer", SetNull))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_cart_customer_id",
            "cart",
            &["customer_id"],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("cart_line")
                .col(big_pk_auto("id"))
                .col(big_integer("cart_id"))
                .col(big_integer("variant_id"))
                .col(integer("quantity"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk("cart_line", "cart_id", "cart", Cascade))
                .foreign_key(&mut fk("cart_line", "variant_id", "variant", Cascade))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_cart_line_cart_variant",
            "cart_line",
            &["cart_id", "variant_id"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("shop_order")
                .col(big_pk_auto("id"))
                .col(big_integer("channel_id"))
                .col(big_integer_null("customer_id"))
                .col(big_integer_null("cart_id"))
                .col(string_len("email", 320))
                .col(string_len("currency_code", 3))
                .col(boolean("prices_include_tax"))
                .col(text_null("shipping_address"))
                .col(text_null("billing_address"))
                .col(string_len_null("shipping_method_code", 64))
                .col(string_len_null("shipping_method_name", 128))
                // JSON snapshot of the applied discounts.
                .col(text("discounts").default("[]"))
                .col(big_integer("subtotal_minor"))
                .col(big_integer("discounts_minor"))
                .col(big_integer("shipping_minor"))
                .col(big_integer("tax_minor"))
                .col(big_integer("total_minor"))
                .col(big_integer("gift_card_minor"))
                .col(big_integer("store_credit_minor"))
                // What the payment gateway is asked for.
                .col(big_integer("amount_due_minor"))
                .col(string_len("status", 16))
                .col(string_len("payment_status", 24))
                .col(string_len("fulfillment_status", 24))
                // The order state machine's numbers (see domain::order_state).
                .col(big_integer("authorized_minor"))
                .col(big_integer("captured_minor"))
                .col(big_integer("refunded_minor"))
                .col(integer("ordered_quantity"))
                .col(integer("fulfilled_quantity"))
                .col(integer("returned_quantity"))
                .col(string_len_null("closure", 16))
                .col(string_len_null("payment_mark", 16))
                // Bumped by every state change: writers compare and set it.
                .col(integer("lock_version").default(0))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("shop_order", "channel_id", "channel", Restrict))
                .foreign_key(&mut fk("shop_order", "customer_id", "customer", SetNull))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_shop_order_customer_id",
            "shop_order",
            &["customer_id", "id"],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("order_line")
                .col(big_pk_auto("id"))
                .col(big_integer("order_id"))
                .col(big_integer_null("variant_id"))
                .col(big_integer_null("product_id"))
                .col(string_len("sku", 255))
                .col(string_len("product_title", 255))
                .col(string_len("variant_title", 255))
                .col(integer("quantity"))
                .col(big_integer("unit_price_minor"))
                .col(big_integer("subtotal_minor"))
                .col(big_integer("discount_minor"))
                .col(big_integer("tax_minor"))
                .col(big_integer("total_minor"))
                .col(string_len("tax_class", 64))
                .col(big_integer("tax_rate_ppm"))
                // JSON [{"promotionId":..,"code":..,"amountMinor":..}].
                .col(text("discount_allocations").default("[]"))
                .col(integer("position"))
                .foreign_key(&mut fk("order_line", "order_id", "shop_order", Cascade))
                .foreign_key(&mut fk("order_line", "variant_id", "variant", SetNull))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_order_line_order_id",
            "order_line",
            &["order_id"],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("order_transition")
                .col(big_pk_auto("id"))
                .col(big_integer("order_id"))
                .col(string_len("event", 32))
                // JSON of the event and of the statuses before and after.
                .col(text("detail"))
                .col(string_len("from_status", 80))
                .col(string_len("to_status", 80))
                .col(string_len("actor", 255))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "order_transition",
                    "order_id",
                    "shop_order",
                    Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_order_transition_order_id",
            "order_transition",
            &["order_id", "id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("promotion_usage")
                .col(big_pk_auto("id"))
                .col(big_integer("promotion_id"))
                .col(big_integer("order_id"))
                .col(big_integer_null("customer_id"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "promotion_usage",
                    "promotion_id",
                    "promotion",
                    Cascade,
                ))
                .foreign_key(&mut fk(
                    "promotion_usage",
                    "order_id",
                    "shop_order",
                    Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_promotion_usage_promotion_customer",
            "promotion_usage",
            &["promotion_id", "customer_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("reservation")
                .col(big_pk_auto("id"))
                .col(big_integer("stock_level_id"))
                .col(big_integer("variant_id"))
                .col(integer("quantity"))
                .col(big_integer_null("cart_id"))
                .col(big_integer_null("order_id"))
                // NULL: held until the order is fulfilled or cancelled.
                .col(timestamp_with_time_zone_null("expires_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "reservation",
                    "stock_level_id",
                    "stock_level",
                    Cascade,
                ))
                .foreign_key(&mut fk("reservation", "cart_id", "cart", Cascade))
                .foreign_key(&mut fk("reservation", "order_id", "shop_order", Cascade))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_reservation_expires_at",
            "reservation",
            &["expires_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_reservation_cart_id",
            "reservation",
            &["cart_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "ix_reservation_order_id",
            "reservation",
            &["order_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("payment")
                .col(big_pk_auto("id"))
                .col(big_integer("order_id"))
                .col(string_len("gateway", 32))
                .col(string_len("reference", 255))
                .col(string_len("currency_code", 3))
                .col(big_integer("amount_minor"))
                // pending | requires_action | authorized | captured | voided | failed
                .col(string_len("status", 24))
                .col(string_len_null("client_secret", 255))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("payment", "order_id", "shop_order", Cascade))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_payment_gateway_reference",
            "payment",
            &["gateway", "reference"],
            true,
        ))
        .await?;
        m.create_index(index(
            "ix_payment_order_id",
            "payment",
            &["order_id"],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("payment_transaction")
                .col(big_pk_auto("id"))
                .col(big_integer("payment_id"))
                // authorization | capture | void | refund | failure
                .col(string_len("kind", 16))
                .col(big_integer("amount_minor"))
                .col(string_len_null("gateway_event_id", 255))
                .col(string_len_null("detail", 255))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(&mut fk(
                    "payment_transaction",
                    "payment_id",
                    "payment",
                    Cascade,
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("payment_webhook_event")
                .col(big_pk_auto("id"))
                .col(string_len("gateway", 32))
                .col(string_len("event_id", 255))
                .col(string_len("event_type", 64))
                .col(timestamp_with_time_zone("received_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ux_payment_webhook_event_gateway_event",
            "payment_webhook_event",
            &["gateway", "event_id"],
            true,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            m.drop_table(Table::drop().table(*table).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table("channel")
                .drop_column("default_country")
                .to_owned(),
        )
        .await
    }
}
