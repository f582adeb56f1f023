//! SeaORM entities of emporium: one module per table, no GraphQL types.
//!
//! Money columns are integers in the currency's minor unit (`*_minor`), so both
//! SQLite and PostgreSQL store and compare them exactly.

pub mod api_token;
pub mod app_secret;
pub mod audit_entry;
pub mod audit_head;
pub mod auth_session;
pub mod cart;
pub mod cart_line;
pub mod catalog_version;
pub mod channel;
pub mod collection;
pub mod collection_product;
pub mod customer;
pub mod customer_address;
pub mod customer_group;
pub mod gift_card;
pub mod gift_card_entry;
pub mod idempotency_key;
pub mod inventory_movement;
pub mod job_lease;
pub mod media;
pub mod order_line;
pub mod order_transition;
pub mod outbox_event;
pub mod password_reset;
pub mod payment;
pub mod payment_transaction;
pub mod payment_undo;
pub mod payment_webhook_event;
pub mod prelude;
pub mod product;
pub mod product_option;
pub mod product_option_value;
pub mod product_status;
pub mod product_tag;
pub mod promotion;
pub mod promotion_claim;
pub mod promotion_usage;
pub mod refresh_token;
pub mod reservation;
pub mod shipping_method;
pub mod shipping_zone;
pub mod shop_order;
pub mod staff_user;
pub mod stock_level;
pub mod stock_location;
pub mod store_credit_account;
pub mod store_credit_entry;
pub mod tax_rate;
pub mod variant;
pub mod variant_option_value;
pub mod variant_price;
pub mod webhook_delivery;
pub mod webhook_subscription;
