//! Merchandising administration around the products: collections and their
//! ordered products, product media, channels, stock locations and customer
//! groups (with the customers in them).
//!
//! Invariants kept here:
//! - Handles and codes are unique and slug-like (see
//!   [`crate::domain::catalog_admin::valid_handle`]).
//! - A collection's products and a product's media are an ordered list:
//!   positions run 1, 2, 3 ... with no gaps after every change, and a reorder
//!   must name exactly the current members.
//! - Media URLs are absolute `http`/`https` URLs.
//! - A channel's currency is one [`Currency`](crate::domain::money::Currency)
//!   knows, and it cannot change once prices exist in the channel.
//! - A stock location holding stock (on hand or reserved) cannot be deleted.
//!
//! Like the catalog operations, every mistake is a field-level user error
//! with nothing written, every change one audit entry in the same
//! transaction, checked after the audit head is locked so concurrent
//! writers see each other's results.
//!
//! One module per subject: `collections` (with their ordered products),
//! `media` (a product's images), `channels`, `stock_locations` and
//! `customer_groups`; the checks they share are here.

mod channels;
mod collections;
mod customer_groups;
mod media;
mod stock_locations;

pub use channels::{ChannelInput, create_channel, update_channel};
pub use collections::{
    CollectionInput, add_collection_products, create_collection, delete_collection,
    remove_collection_products, reorder_collection_products, update_collection,
};
pub use customer_groups::{assign_customer_group, create_customer_group, customer_groups};
pub use media::{MediaInput, add_media, delete_media, reorder_media, valid_web_url};
pub use stock_locations::{
    create_stock_location, delete_stock_location, stock_locations, update_stock_location,
};

use std::collections::HashSet;

use crate::domain::{
    catalog_admin::valid_handle,
    error::{Outcome, UserError, UserErrorCode},
};

/// Most products or media one call may name.
pub const MAX_ITEMS: usize = 250;

/// Checks a code (channel, stock location, customer group): slug-like, at
/// most 64 characters.
fn check_code(code: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let code = code.trim().to_owned();
    if !valid_handle(&code) || code.len() > 64 {
        errors.push(UserError::new(
            field,
            UserErrorCode::Invalid,
            "a code is 1 to 64 lower-case letters, digits and dashes",
        ));
    }
    code
}

/// Checks a required name or title.
fn check_name(name: &str, field: &[&str], errors: &mut Vec<UserError>) -> String {
    let name = name.trim().to_owned();
    if name.is_empty() {
        errors.push(UserError::new(
            field,
            UserErrorCode::Blank,
            "a name is required",
        ));
    }
    name
}

fn taken(field: &[&str], what: &str, value: &str) -> UserError {
    UserError::new(
        field,
        UserErrorCode::Taken,
        format!("{what} `{value}` is taken"),
    )
}

fn at(field: &str, i: usize) -> [String; 2] {
    [field.to_owned(), i.to_string()]
}

fn error_at(field: &str, i: usize, code: UserErrorCode, message: &str) -> UserError {
    let [f, i] = at(field, i);
    UserError::new(&[&f, &i], code, message)
}

/// Checks that `given` lists exactly the members of `current`, each once.
fn check_exact_order(given: &[i64], current: &[i64], field: &str) -> Vec<UserError> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (i, id) in given.iter().enumerate() {
        if !current.contains(id) {
            errors.push(error_at(
                field,
                i,
                UserErrorCode::NotFound,
                "not one of the items",
            ));
        } else if !seen.insert(*id) {
            errors.push(error_at(field, i, UserErrorCode::Invalid, "listed twice"));
        }
    }
    if errors.is_empty() && seen.len() != current.len() {
        errors.push(UserError::new(
            &[field],
            UserErrorCode::Invalid,
            format!(
                "list every one of the {} items exactly once ({} missing)",
                current.len(),
                current.len() - seen.len()
            ),
        ));
    }
    errors
}

fn check_count(n: usize, field: &str, errors: &mut Vec<UserError>) {
    if n == 0 || n > MAX_ITEMS {
        errors.push(UserError::new(
            &[field],
            UserErrorCode::Invalid,
            format!("give 1 to {MAX_ITEMS} items"),
        ));
    }
}

fn position(i: usize) -> i32 {
    i32::try_from(i + 1).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reorder_names_every_item_once() {
        assert!(check_exact_order(&[2, 1, 3], &[1, 2, 3], "ids").is_empty());
        let missing = check_exact_order(&[2, 1], &[1, 2, 3], "ids");
        assert_eq!(missing[0].field, ["ids"]);
        let codes: Vec<UserErrorCode> = check_exact_order(&[1, 1, 9], &[1, 2, 3], "ids")
            .into_iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, [UserErrorCode::Invalid, UserErrorCode::NotFound]);
    }
}
