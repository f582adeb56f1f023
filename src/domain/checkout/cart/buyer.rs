//! What a cart says about the purchase beyond its lines: the buyer and
//! their addresses, a guest cart merging into the customer's at login,
//! discount and gift card codes, and the shipping method.

use super::*;
use crate::domain::error::Outcome;
use tracing::{field, instrument};

pub(super) fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

pub(super) fn apply_buyer(
    row: &mut cart::ActiveModel,
    buyer: BuyerIdentity,
    errors: &mut Vec<UserError>,
) {
    if let Some(email) = buyer.email {
        if email.trim().is_empty() {
            row.email = Set(None);
        } else {
            match customer::normalize_email(&email, &["buyerIdentity", "email"]) {
                Ok(e) => row.email = Set(Some(e)),
                Err(e) => errors.push(e),
            }
        }
    }
    if let Some(country) = buyer.country_code {
        let code = country.trim().to_ascii_uppercase();
        if code.is_empty() {
            row.country = Set(None);
        } else if code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase()) {
            row.country = Set(Some(code));
        } else {
            errors.push(UserError::new(
                &["buyerIdentity", "countryCode"],
                UserErrorCode::Invalid,
                "the country is a two-letter ISO 3166-1 code, e.g. US",
            ));
        }
    }
    for (input, column, name) in [
        (
            buyer.shipping_address,
            &mut row.shipping_address,
            "shippingAddress",
        ),
        (
            buyer.billing_address,
            &mut row.billing_address,
            "billingAddress",
        ),
    ] {
        let Some(input) = input else { continue };
        match customer::validate_address(input) {
            Ok(a) => *column = Set(Some(json(&a))),
            Err(es) => errors.extend(es.into_iter().map(|mut e| {
                e.field[0] = name.to_owned();
                e.field.insert(0, "buyerIdentity".into());
                e
            })),
        }
    }
}

/// Updates the buyer's details. A signed-in customer who uses a guest cart
/// takes it over (merged into their open cart, see the module rules); the
/// answer is then the cart they own.
#[instrument(name = "cart.buyer_identity_update", skip_all, fields(cart_id = field::Empty))]
pub async fn buyer_identity_update(
    db: &DatabaseConnection,
    token: &str,
    viewer: Viewer,
    buyer: BuyerIdentity,
) -> Outcome<Cart> {
    let cart = match open_cart(db, token, viewer).await? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let mut row: cart::ActiveModel = cart.row.clone().into();
    let mut errors = Vec::new();
    apply_buyer(&mut row, buyer, &mut errors);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    // A changed address may drop the chosen shipping method (checked again
    // on every read and at checkout).
    row.updated_at = Set(now());
    cart::Entity::update(row).exec(db).await?;
    if let (Viewer::Customer(customer_id), None) = (viewer, cart.row.customer_id) {
        let token = merge_into_customer(db, &cart.row.token, customer_id).await?;
        return open_cart(db, &token, viewer).await;
    }
    open_cart(db, token, viewer).await
}

/// Joins a guest cart to `customer_id`'s carts (module rules); returns the
/// token of the cart the customer now has. Does nothing to a completed or
/// someone else's cart (returns the token unchanged).
#[instrument(name = "cart.merge_into_customer", skip_all, fields(customer_id, cart_id = field::Empty))]
pub async fn merge_into_customer(
    db: &DatabaseConnection,
    guest_token: &str,
    customer_id: i64,
) -> DomainResult<String> {
    let Some(guest) = get(db, guest_token, Viewer::Guest).await? else {
        return Ok(guest_token.to_owned());
    };
    if guest.is_completed() || guest.row.customer_id.is_some() {
        return Ok(guest_token.to_owned());
    }
    let target = cart::Entity::find()
        .filter(cart::Column::CustomerId.eq(customer_id))
        .filter(cart::Column::ChannelId.eq(guest.row.channel_id))
        .filter(cart::Column::OrderId.is_null())
        .order_by_desc(cart::Column::UpdatedAt)
        .one(db)
        .await?;
    let tx = begin_write(db).await?;
    let Some(target) = target else {
        let email = customer::get(&tx, customer_id).await?.map(|c| c.email);
        let mut row: cart::ActiveModel = guest.row.clone().into();
        row.customer_id = Set(Some(customer_id));
        if guest.row.email.is_none() {
            row.email = Set(email);
        }
        row.updated_at = Set(now());
        cart::Entity::update(row).exec(&tx).await?;
        tx.commit().await?;
        return Ok(guest.row.token);
    };
    let lines: Vec<LineInput> = guest
        .lines
        .iter()
        .map(|l| LineInput {
            variant_id: l.variant_id,
            quantity: l.quantity,
        })
        .collect();
    add_lines(&tx, target.id, &lines).await?;
    let mut codes: Vec<String> = serde_json::from_str(&target.discount_codes).unwrap_or_default();
    for c in guest.discount_codes() {
        if !codes.contains(&c) && codes.len() < MAX_CODES {
            codes.push(c);
        }
    }
    let mut cards: Vec<i64> = serde_json::from_str(&target.gift_card_ids).unwrap_or_default();
    for c in guest.gift_card_ids() {
        if !cards.contains(&c) && cards.len() < MAX_CODES {
            cards.push(c);
        }
    }
    let mut row: cart::ActiveModel = target.clone().into();
    row.discount_codes = Set(json(&codes));
    row.gift_card_ids = Set(json(&cards));
    if target.shipping_address.is_none() {
        row.shipping_address = Set(guest.row.shipping_address.clone());
    }
    if target.billing_address.is_none() {
        row.billing_address = Set(guest.row.billing_address.clone());
    }
    if target.country.is_none() {
        row.country = Set(guest.row.country.clone());
    }
    if target.shipping_method_id.is_none() {
        row.shipping_method_id = Set(guest.row.shipping_method_id);
    }
    row.updated_at = Set(now());
    cart::Entity::update(row).exec(&tx).await?;
    // The guest cart's stock holds go with its lines: deleting the cart
    // would delete their rows and leave the units reserved for nobody.
    entity::reservation::Entity::update_many()
        .col_expr(entity::reservation::Column::CartId, Expr::value(target.id))
        .filter(entity::reservation::Column::CartId.eq(guest.row.id))
        .exec(&tx)
        .await?;
    cart::Entity::delete_by_id(guest.row.id).exec(&tx).await?;
    tx.commit().await?;
    Ok(target.token)
}

/// Looks up discount codes: unknown or currently unusable ones are errors;
/// the rest come back upper-cased and de-duplicated.
pub(super) async fn check_discount_codes(
    db: &impl ConnectionTrait,
    channel_id: i64,
    codes: &[String],
    errors: &mut Vec<UserError>,
) -> DomainResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let wanted: Vec<String> = codes
        .iter()
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
        .collect();
    if wanted.len() > MAX_CODES {
        errors.push(UserError::new(
            &["discountCodes"],
            UserErrorCode::Invalid,
            format!("at most {MAX_CODES} codes"),
        ));
        return Ok(out);
    }
    let found: HashMap<String, promotion::Model> = promotion::Entity::find()
        .filter(promotion::Column::ChannelId.eq(channel_id))
        .filter(promotion::Column::Code.is_in(wanted.clone()))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|p| p.code.clone().map(|c| (c, p)))
        .collect();
    let now = Utc::now();
    for (i, code) in wanted.into_iter().enumerate() {
        // Per-customer limits depend on who checks out: the quote says
        // whether the code applies to this buyer.
        let usable = found.get(&code).is_some_and(|p| {
            p.active
                && matches!(
                    quote::eligibility(p, None, now),
                    Ok(()) | Err(Ineligible::SignInRequired | Ineligible::CustomerLimitReached)
                )
        });
        if !usable {
            errors.push(UserError::new(
                &["discountCodes", &i.to_string()],
                UserErrorCode::InvalidCode,
                format!("`{code}` is not a valid discount code"),
            ));
        } else if !out.contains(&code) {
            out.push(code);
        }
    }
    Ok(out)
}

/// Sets one column of an open cart (and its change time), then reads the
/// cart back as `viewer` sees it.
async fn save(
    db: &DatabaseConnection,
    cart_id: i64,
    column: cart::Column,
    value: sea_orm::Value,
    token: &str,
    viewer: Viewer,
) -> Outcome<Cart> {
    cart::Entity::update_many()
        .col_expr(column, Expr::value(value))
        .col_expr(cart::Column::UpdatedAt, Expr::value(now()))
        .filter(cart::Column::Id.eq(cart_id))
        .exec(db)
        .await?;
    open_cart(db, token, viewer).await
}

/// Replaces the cart's discount codes (an empty list removes them all).
#[instrument(name = "cart.discount_codes_update", skip_all, fields(cart_id = field::Empty))]
pub async fn discount_codes_update(
    db: &DatabaseConnection,
    token: &str,
    viewer: Viewer,
    codes: &[String],
) -> Outcome<Cart> {
    let cart = match open_cart(db, token, viewer).await? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let mut errors = Vec::new();
    let codes = check_discount_codes(db, cart.row.channel_id, codes, &mut errors).await?;
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let codes = json(&codes);
    save(
        db,
        cart.row.id,
        cart::Column::DiscountCodes,
        codes.into(),
        token,
        viewer,
    )
    .await
}

/// Replaces the cart's gift cards, given by code (an empty list removes
/// them all). Unknown, disabled, expired or empty cards, and cards in
/// another currency, are all the same INVALID_CODE: a guesser learns
/// nothing about which codes exist.
#[instrument(name = "cart.gift_card_codes_update", skip_all, fields(cart_id = field::Empty))]
pub async fn gift_card_codes_update(
    db: &DatabaseConnection,
    token: &str,
    viewer: Viewer,
    codes: &[String],
) -> Outcome<Cart> {
    let cart = match open_cart(db, token, viewer).await? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let channel = setup::channel_by_id(db, cart.row.channel_id).await?;
    let mut errors = Vec::new();
    if codes.len() > MAX_CODES {
        return Ok(Err(vec![UserError::new(
            &["giftCardCodes"],
            UserErrorCode::Invalid,
            format!("at most {MAX_CODES} codes"),
        )]));
    }
    let at = Utc::now();
    let mut ids = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let field = ["giftCardCodes".to_owned(), i.to_string()];
        let field: Vec<&str> = field.iter().map(String::as_str).collect();
        let card = gift_card::Entity::find()
            .filter(gift_card::Column::CodeHash.eq(setup::gift_card_hash(code)))
            .one(db)
            .await?;
        match card {
            Some(c)
                if c.currency_code == channel.currency.code()
                    && !c.disabled
                    && c.balance_minor > 0
                    && c.expires_at.is_none_or(|e| e > at) =>
            {
                if !ids.contains(&c.id) {
                    ids.push(c.id);
                }
            }
            _ => errors.push(UserError::new(
                &field,
                UserErrorCode::InvalidCode,
                "this gift card code is not valid here or has no balance left",
            )),
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let ids = json(&ids);
    save(
        db,
        cart.row.id,
        cart::Column::GiftCardIds,
        ids.into(),
        token,
        viewer,
    )
    .await
}

/// Chooses a shipping method by code; it must be among the methods offered
/// for the cart's destination, and able to carry the cart's weight.
#[instrument(name = "cart.shipping_method_select", skip_all, fields(cart_id = field::Empty))]
pub async fn shipping_method_select(
    db: &DatabaseConnection,
    token: &str,
    viewer: Viewer,
    method_code: &str,
) -> Outcome<Cart> {
    let cart = match open_cart(db, token, viewer).await? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let Some(country) = cart.country() else {
        return Ok(Err(vec![UserError::new(
            &["buyerIdentity", "shippingAddress"],
            UserErrorCode::MissingShippingAddress,
            "set a shipping address (or a country) first",
        )]));
    };
    let methods = setup::shipping_methods_for(db, cart.row.channel_id, &country).await?;
    let Some(method) = methods
        .iter()
        .find(|m| m.code.eq_ignore_ascii_case(method_code.trim()))
    else {
        return Ok(Err(vec![UserError::new(
            &["shippingMethodCode"],
            UserErrorCode::InvalidShippingMethod,
            format!("`{}` is not offered for this cart", method_code.trim()),
        )]));
    };
    let ids: Vec<i64> = cart.lines.iter().map(|l| l.variant_id).collect();
    let grams: HashMap<i64, i64> = catalog::variants_by_ids(db, &ids)
        .await?
        .into_iter()
        .map(|v| (v.id, i64::from(v.weight_grams.unwrap_or(0))))
        .collect();
    let weight: u64 = cart
        .lines
        .iter()
        .map(|l| {
            let grams = grams.get(&l.variant_id).copied().unwrap_or(0);
            u64::try_from(grams * i64::from(l.quantity)).unwrap_or(0)
        })
        .sum();
    if !quote::carries(method, weight) {
        return Ok(Err(vec![UserError::new(
            &["shippingMethodCode"],
            UserErrorCode::InvalidShippingMethod,
            format!("`{}` cannot carry this cart", method.code),
        )]));
    }
    let method = method.id;
    save(
        db,
        cart.row.id,
        cart::Column::ShippingMethodId,
        method.into(),
        token,
        viewer,
    )
    .await
}
