//! The catalog: channels, customer groups, products with options and
//! variants, prices per channel, collections, media, stock locations and
//! stock levels.
//!
//! Money is stored as integers in the currency's minor unit so SQLite and
//! PostgreSQL compare and sum it exactly. Stock quantities may never be
//! negative; the CHECK constraints hold that even against a buggy writer.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates the catalog tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    from_table: &'static str,
    from_col: &'static str,
    to_table: &'static str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from_table}_{from_col}"))
        .from(from_table, from_col)
        .to(to_table, "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(table: &'static str, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(format!("ix_{table}_{}", cols.join("_")))
        .table(table);
    for col in cols {
        idx.col(*col);
    }
    if unique {
        idx.unique();
    }
    idx.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("channel")
                .col(big_pk_auto("id"))
                .col(string_len_uniq("code", 64))
                .col(string("name"))
                .col(char_len("currency_code", 3))
                .col(boolean("prices_include_tax"))
                .col(boolean("is_default"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("customer_group")
                .col(big_pk_auto("id"))
                .col(string_len_uniq("code", 64))
                .col(string("name"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("product")
                .col(big_pk_auto("id"))
                .col(string_len_uniq("handle", 255))
                .col(string("title"))
                .col(text("description"))
                .col(
                    string_len("status", 16)
                        .check(Expr::col("status").is_in(["draft", "active", "archived"])),
                )
                .col(string_null("vendor"))
                .col(string_null("product_type"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("published_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("product", &["status", "title"], false))
            .await?;
        m.create_index(index("product", &["status", "created_at"], false))
            .await?;
        m.create_table(
            Table::create()
                .table("product_tag")
                .col(big_integer("product_id"))
                .col(string_len("tag", 255))
                .primary_key(Index::create().col("product_id").col("tag"))
                .foreign_key(&mut fk("product_tag", "product_id", "product"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("product_tag", &["tag"], false))
            .await?;
        m.create_table(
            Table::create()
                .table("product_option")
                .col(big_pk_auto("id"))
                .col(big_integer("product_id"))
                .col(string("name"))
                .col(integer("position"))
                .foreign_key(&mut fk("product_option", "product_id", "product"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("product_option", &["product_id", "name"], true))
            .await?;
        m.create_table(
            Table::create()
                .table("product_option_value")
                .col(big_pk_auto("id"))
                .col(big_integer("option_id"))
                .col(string("value"))
                .col(integer("position"))
                .foreign_key(&mut fk(
                    "product_option_value",
                    "option_id",
                    "product_option",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index("product_option_value", &["option_id", "value"], true))
            .await?;
        m.create_table(
            Table::create()
                .table("variant")
                .col(big_pk_auto("id"))
                .col(big_integer("product_id"))
                .col(string_len_uniq("sku", 128))
                .col(string("title"))
                .col(integer("position"))
                .col(integer_null("weight_grams").check(Expr::col("weight_grams").gte(0)))
                .col(string_len_null("barcode", 64))
                .col(boolean("track_inventory"))
                .col(boolean("allow_backorder"))
                .col(string_len("tax_class", 64))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(&mut fk("variant", "product_id", "product"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("variant", &["product_id", "position"], false))
            .await?;
        m.create_table(
            Table::create()
                .table("variant_option_value")
                .col(big_integer("variant_id"))
                .col(big_integer("option_value_id"))
                .primary_key(Index::create().col("variant_id").col("option_value_id"))
                .foreign_key(&mut fk("variant_option_value", "variant_id", "variant"))
                .foreign_key(&mut fk(
                    "variant_option_value",
                    "option_value_id",
                    "product_option_value",
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("variant_price")
                .col(big_pk_auto("id"))
                .col(big_integer("variant_id"))
                .col(big_integer("channel_id"))
                .col(big_integer_null("customer_group_id"))
                .col(integer("min_quantity").check(Expr::col("min_quantity").gte(1)))
                .col(big_integer("amount_minor").check(Expr::col("amount_minor").gte(0)))
                .col(big_integer_null("compare_at_minor"))
                .foreign_key(&mut fk("variant_price", "variant_id", "variant"))
                .foreign_key(&mut fk("variant_price", "channel_id", "channel"))
                .foreign_key(&mut fk(
                    "variant_price",
                    "customer_group_id",
                    "customer_group",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "variant_price",
            &[
                "variant_id",
                "channel_id",
                "customer_group_id",
                "min_quantity",
            ],
            true,
        ))
        .await?;
        m.create_index(index(
            "variant_price",
            &["channel_id", "amount_minor"],
            false,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table("collection")
                .col(big_pk_auto("id"))
                .col(string_len_uniq("handle", 255))
                .col(string("title"))
                .col(text("description"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("collection_product")
                .col(big_integer("collection_id"))
                .col(big_integer("product_id"))
                .col(integer("position"))
                .primary_key(Index::create().col("collection_id").col("product_id"))
                .foreign_key(&mut fk("collection_product", "collection_id", "collection"))
                .foreign_key(&mut fk("collection_product", "product_id", "product"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("collection_product", &["product_id"], false))
            .await?;
        m.create_table(
            Table::create()
                .table("media")
                .col(big_pk_auto("id"))
                .col(big_integer("product_id"))
                .col(string_len("url", 2048))
                .col(string_null("alt"))
                .col(integer("position"))
                .col(string_len("media_type", 16))
                .foreign_key(&mut fk("media", "product_id", "product"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("media", &["product_id", "position"], false))
            .await?;
        m.create_table(
            Table::create()
                .table("stock_location")
                .col(big_pk_auto("id"))
                .col(string_len_uniq("code", 64))
                .col(string("name"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("stock_level")
                .col(big_pk_auto("id"))
                .col(big_integer("variant_id"))
                .col(big_integer("location_id"))
                .col(integer("on_hand").check(Expr::col("on_hand").gte(0)))
                .col(integer("reserved").check(Expr::col("reserved").gte(0)))
                .foreign_key(&mut fk("stock_level", "variant_id", "variant"))
                .foreign_key(&mut fk("stock_level", "location_id", "stock_location"))
                .to_owned(),
        )
        .await?;
        m.create_index(index("stock_level", &["variant_id", "location_id"], true))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "stock_level",
            "stock_location",
            "media",
            "collection_product",
            "collection",
            "variant_price",
            "variant_option_value",
            "variant",
            "product_option_value",
            "product_option",
            "product_tag",
            "product",
            "customer_group",
            "channel",
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
