//! Catalog administration: products with their options, variants and
//! prices, changed by staff (`catalog:write`, `prices:write`) or partner
//! apps. Every input mistake is a field-level user error and nothing is
//! written; every change is audited in the same transaction.
//!
//! Invariants kept here:
//! - SKUs are unique; within a product no two variants share an option
//!   combination, and every variant has one value of every option.
//! - A product keeps at least one variant.
//! - A variant has at most one price per channel, customer group and
//!   quantity tier. A tier or customer-group price refines a base price (no
//!   group, from one unit): it needs one in its channel, and a variant keeps
//!   at least one base price.
//!
//! Where things live: `products` (a product's own fields and tags, and its
//! creation whole), `variants`, `prices` (by variant and by SKU), `options`,
//! `handle` (handles and codes), and `shape` (a product's options and
//! variants as the variant and option operations load them).

mod handle;
mod options;
mod prices;
mod products;
mod shape;
mod variants;

pub(crate) use handle::{check_handle, handle_or_slug};
pub use handle::{slug, valid_handle};
pub use options::{OptionInput, OptionUpdate, create_options, delete_options, update_option};
pub use prices::{
    PriceInput, PriceRow, SkuPrice, SkuPriceKey, delete_prices, price_lists, set_prices,
};
pub use products::{ProductInput, ProductUpdate, create_product, delete_product, update_product};
pub(crate) use products::{clean_tags, snapshot};
pub use variants::{
    VariantInput, VariantUpdate, create_variants, delete_variants, update_variants,
};

use crate::domain::error::{UserError, UserErrorCode};

/// Most options a product may have.
pub const MAX_OPTIONS: usize = 3;
/// Most variants one call may create.
pub const MAX_VARIANTS: usize = 250;

/// The one error of an operation on an object that does not exist.
pub fn not_found(field: &[&str], what: &str) -> Vec<UserError> {
    vec![UserError::new(
        field,
        UserErrorCode::NotFound,
        format!("no such {what}"),
    )]
}
