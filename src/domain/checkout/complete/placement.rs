//! What placing an order checks and writes beside the order itself: the
//! payment's ledger entry, promotion usage, and
//! the checks a cart must pass before stock is held.

use super::*;
use crate::domain::error::{Checked, Outcome};

/// What the gateway's metadata calls the checkout of cart `cart_id` (the
/// order is `shop_order.cart_id`): the row id, never the cart token.
pub fn gateway_reference(cart_id: i64) -> String {
    format!("cart:{cart_id}")
}

/// The row id of the cart named `token`, if there is one.
pub(super) async fn cart_id_of(
    db: &impl ConnectionTrait,
    token: &str,
) -> DomainResult<Option<i64>> {
    Ok(cart_row::Entity::find()
        .select_only()
        .column(cart_row::Column::Id)
        .filter(cart_row::Column::Token.eq(token.trim()))
        .into_tuple::<i64>()
        .one(db)
        .await?)
}

pub(super) fn not_found() -> UserError {
    UserError::new(&["cartId"], UserErrorCode::NotFound, "no cart with this id")
}

pub(super) fn ledger(
    payment_id: i64,
    kind: &str,
    amount: i64,
    at: chrono::DateTime<Utc>,
) -> payment_transaction::ActiveModel {
    payment_transaction::ActiveModel {
        payment_id: Set(payment_id),
        kind: Set(kind.to_owned()),
        amount_minor: Set(amount),
        gateway_event_id: Set(None),
        detail: Set(None),
        created_at: Set(at),
        ..Default::default()
    }
}

/// Counts the use of every applied promotion, refusing one whose total limit
/// was reached meanwhile (the check is the update itself).
pub(super) async fn use_promotions(
    tx: &impl ConnectionTrait,
    quote: &Quote,
    order_id: i64,
    customer_id: Option<i64>,
) -> Outcome<()> {
    let now = Utc::now().trunc_subsecs(6);
    for p in &quote.promotions {
        let updated = promotion::Entity::update_many()
            .col_expr(
                promotion::Column::TimesUsed,
                Expr::col(promotion::Column::TimesUsed).add(1),
            )
            .filter(promotion::Column::Id.eq(p.promotion_id))
            .filter(
                sea_orm::Condition::any()
                    .add(promotion::Column::UsageLimit.is_null())
                    .add(
                        Expr::col(promotion::Column::TimesUsed)
                            .lt(Expr::col(promotion::Column::UsageLimit)),
                    ),
            )
            .exec(tx)
            .await?;
        if updated.rows_affected != 1 {
            return Ok(Err(vec![UserError::new(
                &["discountCodes"],
                UserErrorCode::InvalidCode,
                format!(
                    "`{}` has just been used up",
                    p.code.as_deref().unwrap_or(p.name.as_str())
                ),
            )]));
        }
        promotion_usage::Entity::insert(promotion_usage::ActiveModel {
            promotion_id: Set(p.promotion_id),
            order_id: Set(order_id),
            customer_id: Set(customer_id),
            created_at: Set(now),
            ..Default::default()
        })
        .exec_without_returning(tx)
        .await?;
    }
    Ok(Ok(()))
}

/// Checks a priced cart is ready to pay; returns the gateway to charge
/// (`None` when nothing is due).
pub(super) fn check(
    cart: &Cart,
    quote: &Quote,
    payment: &PaymentInput,
    gateways: &Gateways,
) -> Checked<Option<std::sync::Arc<dyn PaymentGateway>>> {
    let mut errors = Vec::new();
    if cart.lines.is_empty() {
        errors.push(UserError::new(
            &["cartId"],
            UserErrorCode::EmptyCart,
            "the cart is empty",
        ));
    }
    for (i, l) in quote.lines.iter().enumerate() {
        if l.unit_price.is_none() {
            errors.push(UserError::new(
                &["lines", &i.to_string(), "merchandiseId"],
                UserErrorCode::VariantNotFound,
                "this item is no longer for sale; remove it to check out",
            ));
        }
    }
    if cart.row.email.is_none() {
        errors.push(UserError::new(
            &["buyerIdentity", "email"],
            UserErrorCode::MissingEmail,
            "an email is needed to place the order",
        ));
    }
    if cart.shipping_address().is_none() {
        errors.push(UserError::new(
            &["buyerIdentity", "shippingAddress"],
            UserErrorCode::MissingShippingAddress,
            "a shipping address is needed for these items",
        ));
    } else {
        match &quote.shipping {
            None if cart.row.shipping_method_id.is_some() => errors.push(UserError::new(
                &["shippingMethodCode"],
                UserErrorCode::InvalidShippingMethod,
                "the chosen shipping method is not offered for this address; choose another",
            )),
            None => errors.push(UserError::new(
                &["shippingMethodCode"],
                UserErrorCode::MissingShippingMethod,
                "choose a shipping method",
            )),
            Some(s) => {
                let fits = quote
                    .shipping_options
                    .iter()
                    .any(|o| o.method.id == s.method.id && o.amount.is_some());
                if !fits {
                    errors.push(UserError::new(
                        &["shippingMethodCode"],
                        UserErrorCode::InvalidShippingMethod,
                        "this shipping method cannot carry this cart; choose another",
                    ));
                }
            }
        }
    }
    // A code the customer has used up meanwhile (another checkout of
    // theirs took it) would silently leave the price higher than they chose.
    for code in quote.codes.iter().filter(|c| c.customer_limit_reached) {
        errors.push(claims::used_up(&code.code));
    }
    let mut gateway = None;
    if quote.amount_due > 0 {
        match gateways.get(payment.gateway.trim()) {
            None => errors.push(UserError::new(
                &["payment", "gateway"],
                UserErrorCode::Invalid,
                format!(
                    "unknown payment gateway; use one of: {}",
                    gateways.codes().join(", ")
                ),
            )),
            Some(g) => {
                if g.code() != "manual"
                    && payment.token.as_deref().is_none_or(|t| t.trim().is_empty())
                {
                    errors.push(UserError::new(
                        &["payment", "token"],
                        UserErrorCode::Blank,
                        "a payment token from the gateway is required",
                    ));
                }
                gateway = Some(g);
            }
        }
    }
    if errors.is_empty() {
        Ok(gateway)
    } else {
        Err(errors)
    }
}
