//! Carts: lines, buyer identity, codes and the chosen shipping method.
//!
//! - A cart is named by an unguessable token (`cart_` + 256 random bits):
//!   whoever holds the token of a guest cart may use it. A cart that belongs
//!   to a customer is theirs alone: any other caller gets "not found".
//! - Prices are never taken from the client: a cart stores variants and
//!   quantities only, and is priced on every read (see `quote`).
//! - A completed cart (one that became an order) is read-only.
//! - With reservations on add to cart switched on
//!   (`EMPORIUM_CART_RESERVATION_SECS`), every change to the lines holds
//!   the whole cart's stock again for that long; the sweeper releases what
//!   expires, and checkout takes the holds over.
//! - Merging (a guest cart joins the customer's cart at login, or when a
//!   signed-in customer takes it over): the guest lines are added to the
//!   customer's most recent open cart, quantities of the same variant add up
//!   (capped at [`MAX_QUANTITY`]); its codes are added; the customer's cart
//!   keeps its buyer details where set and takes the guest's otherwise; the
//!   guest cart's stock holds move to it, and the guest cart is then
//!   deleted. Without an open cart of the customer, the guest cart simply
//!   becomes theirs.

use crate::domain::tx::{Attempt, begin_write, retrying};
use std::collections::HashMap;
use tracing::{Span, field, instrument};

use chrono::{DateTime, SubsecRound, Utc};
use entity::{cart, cart_line, gift_card, promotion, variant};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, OnConflict},
};

pub use super::stored::Cart;
use super::{quote, setup, stock};
use crate::domain::{
    catalog,
    channel::Channel,
    error::{DomainResult, Outcome, UserError, UserErrorCode},
    identity::{
        access::Principal,
        customer::{self, AddressInput},
        secret,
    },
    pricing::Ineligible,
};

/// Most lines in a cart.
mod buyer;

use buyer::{apply_buyer, check_discount_codes, json};
pub use buyer::{
    buyer_identity_update, discount_codes_update, gift_card_codes_update, merge_into_customer,
    shipping_method_select,
};

pub const MAX_LINES: usize = 250;
/// Most units of one variant in a cart.
pub const MAX_QUANTITY: i32 = 999;
/// Most discount or gift card codes on a cart.
pub const MAX_CODES: usize = 10;

/// Who is asking for a cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// Anyone holding the token (guest carts only).
    Guest,
    /// A signed-in customer: their carts and guest carts.
    Customer(i64),
}

impl Viewer {
    /// The viewer a request's principal is: a signed-in customer, or a
    /// guest (staff and partner apps see carts as guests do).
    pub fn of(principal: &Principal) -> Self {
        match principal.customer_id() {
            Some(id) => Self::Customer(id),
            None => Self::Guest,
        }
    }

    fn customer(self) -> Option<i64> {
        match self {
            Self::Guest => None,
            Self::Customer(id) => Some(id),
        }
    }
}

/// A line to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LineInput {
    /// The variant.
    pub variant_id: i64,
    /// Units (at least 1).
    pub quantity: i32,
}

/// A line's new quantity (0 removes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineUpdate {
    /// The line.
    pub line_id: i64,
    /// New units.
    pub quantity: i32,
}

/// Buyer details (absent fields are left alone; an empty email clears it).
#[derive(Debug, Clone, Default)]
pub struct BuyerIdentity {
    /// Email for the order.
    pub email: Option<String>,
    /// ISO 3166-1 alpha-2 country, for prices before an address is known.
    pub country_code: Option<String>,
    /// Shipping address.
    pub shipping_address: Option<AddressInput>,
    /// Billing address.
    pub billing_address: Option<AddressInput>,
}

fn not_found() -> Vec<UserError> {
    vec![UserError::new(
        &["cartId"],
        UserErrorCode::NotFound,
        "no cart with this id",
    )]
}

fn completed() -> Vec<UserError> {
    vec![UserError::new(
        &["cartId"],
        UserErrorCode::CartCompleted,
        "this cart was checked out; create a new cart",
    )]
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The cart named `token`, if `viewer` may see it.
pub async fn get(
    db: &impl ConnectionTrait,
    token: &str,
    viewer: Viewer,
) -> DomainResult<Option<Cart>> {
    let Some(row) = cart::Entity::find()
        .filter(cart::Column::Token.eq(token.trim()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if row.customer_id.is_some() && row.customer_id != viewer.customer() {
        return Ok(None);
    }
    let lines = cart_line::Entity::find()
        .filter(cart_line::Column::CartId.eq(row.id))
        .order_by_asc(cart_line::Column::Id)
        .all(db)
        .await?;
    Span::current().record("cart_id", row.id);
    Ok(Some(Cart { row, lines }))
}

/// An open cart `viewer` may change, or the user errors to answer with.
async fn open_cart(db: &impl ConnectionTrait, token: &str, viewer: Viewer) -> Outcome<Cart> {
    Ok(match get(db, token, viewer).await? {
        None => Err(not_found()),
        Some(c) if c.is_completed() => Err(completed()),
        Some(c) => Ok(c),
    })
}

/// Creates a cart in `channel`, owned by the signed-in customer if any.
/// With reservations on add to cart, its lines hold stock until `hold`
/// (as do those of the line mutations below).
#[instrument(name = "cart.create", skip_all, fields(cart_id = field::Empty))]
pub async fn create(
    db: &DatabaseConnection,
    channel: &Channel,
    viewer: Viewer,
    lines: &[LineInput],
    buyer: BuyerIdentity,
    discount_codes: &[String],
    hold: Option<DateTime<Utc>>,
) -> Outcome<Cart> {
    retrying(|attempt| {
        let buyer = buyer.clone();
        create_once(
            attempt,
            db,
            channel,
            viewer,
            lines,
            buyer,
            discount_codes,
            hold,
        )
    })
    .await
}

#[allow(clippy::too_many_arguments)]
async fn create_once(
    attempt: Attempt,
    db: &DatabaseConnection,
    channel: &Channel,
    viewer: Viewer,
    lines: &[LineInput],
    buyer: BuyerIdentity,
    discount_codes: &[String],
    hold: Option<DateTime<Utc>>,
) -> Outcome<Cart> {
    let mut errors = Vec::new();
    let checked = check_lines(db, channel, lines, &[], None, &mut errors).await?;
    let mut row = cart::ActiveModel {
        token: Set(secret::random_token("cart_")),
        channel_id: Set(channel.id),
        customer_id: Set(viewer.customer()),
        email: Set(None),
        shipping_address: Set(None),
        billing_address: Set(None),
        country: Set(None),
        shipping_method_id: Set(None),
        discount_codes: Set("[]".into()),
        gift_card_ids: Set("[]".into()),
        order_id: Set(None),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    };
    if let (Some(id), None) = (viewer.customer(), &buyer.email)
        && let Some(c) = customer::get(db, id).await?
    {
        row.email = Set(Some(c.email));
    }
    apply_buyer(&mut row, buyer, &mut errors);
    let codes = check_discount_codes(db, channel.id, discount_codes, &mut errors).await?;
    row.discount_codes = Set(json(&codes));
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = attempt.begin(db).await?;
    let id = cart::Entity::insert(row).exec(&tx).await?.last_insert_id;
    Span::current().record("cart_id", id);
    add_lines(&tx, id, &checked).await?;
    if let Err(e) = rehold(&tx, id, hold).await? {
        tx.rollback().await?;
        return Ok(Err(e));
    }
    tx.commit().await?;
    let token = cart::Entity::find_by_id(id).one(db).await?.map(|c| c.token);
    Ok(match token {
        Some(t) => open_cart(db, &t, viewer).await?,
        None => Err(not_found()),
    })
}

/// Checks lines to add to a cart holding `existing`: the variant is for
/// sale in the channel, the quantity in range and, for tracked variants
/// without backorder, in stock.
async fn check_lines(
    db: &impl ConnectionTrait,
    channel: &Channel,
    lines: &[LineInput],
    existing: &[cart_line::Model],
    // The cart whose own holds count as available (with holds on add).
    own_cart: Option<i64>,
    errors: &mut Vec<UserError>,
) -> DomainResult<Vec<LineInput>> {
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = lines.iter().map(|l| l.variant_id).collect();
    let variants: HashMap<i64, variant::Model> = catalog::variants_by_ids(db, &ids)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let priced: std::collections::HashSet<i64> =
        setup::priced_variants(db, channel.id, &ids).await?;
    let stock = catalog::stock_of_variants(db, &ids).await?;
    let mut stock: HashMap<i64, i64> = stock
        .into_iter()
        .map(|s| (s.variant_id, s.available))
        .collect();
    if let Some(cart_id) = own_cart {
        // What this cart holds itself is available to it.
        for r in entity::reservation::Entity::find()
            .filter(entity::reservation::Column::CartId.eq(cart_id))
            .all(db)
            .await?
        {
            *stock.entry(r.variant_id).or_default() += i64::from(r.quantity);
        }
    }
    let mut wanted: HashMap<i64, i32> = existing
        .iter()
        .map(|l| (l.variant_id, l.quantity))
        .collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let idx = i.to_string();
        let field = ["lines", idx.as_str()];
        let Some(v) = variants
            .get(&line.variant_id)
            .filter(|_| priced.contains(&line.variant_id))
        else {
            errors.push(UserError::new(
                &[field[0], field[1], "merchandiseId"],
                UserErrorCode::VariantNotFound,
                "this variant does not exist or is not for sale in this channel",
            ));
            continue;
        };
        if line.quantity < 1 {
            errors.push(UserError::new(
                &[field[0], field[1], "quantity"],
                UserErrorCode::Invalid,
                "the quantity must be at least 1",
            ));
            continue;
        }
        let total = wanted
            .get(&v.id)
            .copied()
            .unwrap_or(0)
            .saturating_add(line.quantity);
        if total > MAX_QUANTITY {
            errors.push(UserError::new(
                &[field[0], field[1], "quantity"],
                UserErrorCode::Invalid,
                format!("at most {MAX_QUANTITY} units of one variant per cart"),
            ));
            continue;
        }
        let available = stock.get(&v.id).copied().unwrap_or(0);
        if v.track_inventory && !v.allow_backorder && i64::from(total) > available {
            errors.push(UserError::out_of_stock(
                &[field[0], field[1], "quantity"],
                available,
                format!("only {} left in stock", available.max(0)),
            ));
            continue;
        }
        wanted.insert(v.id, total);
        out.push(*line);
    }
    let distinct = wanted.len();
    if distinct > MAX_LINES {
        errors.push(UserError::new(
            &["lines"],
            UserErrorCode::Invalid,
            format!("a cart holds at most {MAX_LINES} lines"),
        ));
    }
    Ok(out)
}

async fn add_lines(
    tx: &impl ConnectionTrait,
    cart_id: i64,
    lines: &[LineInput],
) -> DomainResult<()> {
    let at = now();
    for line in lines {
        cart_line::Entity::insert(cart_line::ActiveModel {
            cart_id: Set(cart_id),
            variant_id: Set(line.variant_id),
            quantity: Set(line.quantity),
            created_at: Set(at),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::columns([cart_line::Column::CartId, cart_line::Column::VariantId])
                .value(
                    cart_line::Column::Quantity,
                    Expr::cust(format!(
                        "CASE WHEN cart_line.quantity + excluded.quantity > {MAX_QUANTITY} \
                         THEN {MAX_QUANTITY} ELSE cart_line.quantity + excluded.quantity END"
                    )),
                )
                .to_owned(),
        )
        .exec_without_returning(tx)
        .await?;
    }
    Ok(())
}

async fn touch(tx: &impl ConnectionTrait, cart_id: i64) -> DomainResult<()> {
    cart::Entity::update_many()
        .col_expr(cart::Column::UpdatedAt, Expr::value(now()))
        .filter(cart::Column::Id.eq(cart_id))
        .exec(tx)
        .await?;
    Ok(())
}

/// With reservations on add to cart (`hold`: until when), holds the cart's
/// lines again until `hold`, in the caller's transaction (which has written
/// first). A shortage is returned as out-of-stock errors; the caller rolls
/// back.
async fn rehold(
    tx: &impl ConnectionTrait,
    cart_id: i64,
    hold: Option<DateTime<Utc>>,
) -> Outcome<()> {
    let Some(expires_at) = hold else {
        return Ok(Ok(()));
    };
    stock::release_cart(tx, cart_id).await?;
    let lines = cart_line::Entity::find()
        .filter(cart_line::Column::CartId.eq(cart_id))
        .order_by_asc(cart_line::Column::Id)
        .all(tx)
        .await?;
    let ids: Vec<i64> = lines.iter().map(|l| l.variant_id).collect();
    let variants: HashMap<i64, variant::Model> = variant::Entity::find()
        .filter(variant::Column::Id.is_in(ids.clone()))
        .all(tx)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let levels = stock::levels(tx, &ids).await?;
    let needs: Vec<stock::Need> = lines
        .iter()
        .map(|l| stock::Need {
            variant_id: l.variant_id,
            quantity: l.quantity,
        })
        .collect();
    let held = stock::reserve(
        tx,
        &levels,
        &needs,
        &variants,
        stock::Hold::Cart {
            cart_id,
            expires_at,
        },
    )
    .await?;
    Ok(held
        .map_err(|shortages| stock::out_of_stock(&shortages, lines.iter().map(|l| l.variant_id))))
}

/// Adds lines (the same variant again adds to its line).
#[instrument(name = "cart.lines_add", skip_all, fields(cart_id = field::Empty))]
pub async fn lines_add(
    db: &DatabaseConnection,
    channel: &Channel,
    token: &str,
    viewer: Viewer,
    lines: &[LineInput],
    hold: Option<DateTime<Utc>>,
) -> Outcome<Cart> {
    retrying(|attempt| lines_add_once(attempt, db, channel, token, viewer, lines, hold)).await
}

async fn lines_add_once(
    attempt: Attempt,
    db: &DatabaseConnection,
    channel: &Channel,
    token: &str,
    viewer: Viewer,
    lines: &[LineInput],
    hold: Option<DateTime<Utc>>,
) -> Outcome<Cart> {
    let cart = match open_cart(db, token, viewer).await? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    if lines.is_empty() {
        return Ok(Err(vec![UserError::new(
            &["lines"],
            UserErrorCode::Blank,
            "no lines given",
        )]));
    }
    let mut errors = Vec::new();
    let channel = cart_channel(db, channel, &cart).await?;
    let checked = check_lines(
        db,
        &channel,
        lines,
        &cart.lines,
        hold.map(|_| cart.row.id),
        &mut errors,
    )
    .await?;
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = attempt.begin(db).await?;
    touch(&tx, cart.row.id).await?;
    add_lines(&tx, cart.row.id, &checked).await?;
    if let Err(e) = rehold(&tx, cart.row.id, hold).await? {
        tx.rollback().await?;
        return Ok(Err(e));
    }
    tx.commit().await?;
    open_cart(db, token, viewer).await
}

/// The cart's own channel (a cart keeps the channel it was created in).
async fn cart_channel(
    db: &impl ConnectionTrait,
    requested: &Channel,
    cart: &Cart,
) -> DomainResult<Channel> {
    if requested.id == cart.row.channel_id {
        return Ok(requested.clone());
    }
    setup::channel_by_id(db, cart.row.channel_id).await
}

/// Sets line quantities (0 removes the line).
#[instrument(name = "cart.lines_update", skip_all, fields(cart_id = field::Empty))]
pub async fn lines_update(
    db: &DatabaseConnection,
    channel: &Channel,
    token: &str,
    viewer: Viewer,
    updates: &[LineUpdate],
    hold: Option<DateTime<Utc>>,
) -> Outcome<Cart> {
    retrying(|attempt| lines_update_once(attempt, db, channel, token, viewer, updates, hold)).await
}

async fn lines_update_once(
    attempt: Attempt,
    db: &DatabaseConnection,
    channel: &Channel,
    token: &str,
    viewer: Viewer,
    updates: &[LineUpdate],
    hold: Option<DateTime<Utc>>,
) -> Outcome<Cart> {
    let cart = match open_cart(db, token, viewer).await? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let channel = cart_channel(db, channel, &cart).await?;
    let mut errors = Vec::new();
    let mut sets = Vec::new();
    let mut removals = Vec::new();
    for (i, u) in updates.iter().enumerate() {
        let idx = i.to_string();
        let Some(line) = cart.lines.iter().find(|l| l.id == u.line_id) else {
            errors.push(UserError::new(
                &["lines", &idx, "id"],
                UserErrorCode::NotFound,
                "no such line in this cart",
            ));
            continue;
        };
        if u.quantity < 0 || u.quantity > MAX_QUANTITY {
            errors.push(UserError::new(
                &["lines", &idx, "quantity"],
                UserErrorCode::Invalid,
                format!("the quantity is between 0 and {MAX_QUANTITY}"),
            ));
        } else if u.quantity == 0 {
            removals.push(line.id);
        } else {
            sets.push((line.variant_id, line.id, u.quantity));
        }
    }
    // Stock check on the new quantities (as if added to an empty cart).
    let as_lines: Vec<LineInput> = sets
        .iter()
        .map(|(variant_id, _, quantity)| LineInput {
            variant_id: *variant_id,
            quantity: *quantity,
        })
        .collect();
    let mut stock_errors = Vec::new();
    check_lines(
        db,
        &channel,
        &as_lines,
        &[],
        hold.map(|_| cart.row.id),
        &mut stock_errors,
    )
    .await?;
    for mut e in stock_errors {
        if let Some(pos) = e.field.get(1).and_then(|i| i.parse::<usize>().ok()) {
            // Re-point the error at the update that caused it.
            if let Some(orig) = updates
                .iter()
                .position(|u| sets.get(pos).is_some_and(|s| s.1 == u.line_id))
            {
                e.field[1] = orig.to_string();
            }
        }
        errors.push(e);
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = attempt.begin(db).await?;
    touch(&tx, cart.row.id).await?;
    for (_, line_id, quantity) in &sets {
        cart_line::Entity::update_many()
            .col_expr(cart_line::Column::Quantity, Expr::value(*quantity))
            .filter(cart_line::Column::Id.eq(*line_id))
            .exec(&tx)
            .await?;
    }
    if !removals.is_empty() {
        cart_line::Entity::delete_many()
            .filter(cart_line::Column::Id.is_in(removals))
            .exec(&tx)
            .await?;
    }
    if let Err(e) = rehold(&tx, cart.row.id, hold).await? {
        tx.rollback().await?;
        return Ok(Err(e));
    }
    tx.commit().await?;
    open_cart(db, token, viewer).await
}

/// Removes lines.
#[instrument(name = "cart.lines_remove", skip_all, fields(cart_id = field::Empty))]
pub async fn lines_remove(
    db: &DatabaseConnection,
    token: &str,
    viewer: Viewer,
    line_ids: &[i64],
    hold: Option<DateTime<Utc>>,
) -> Outcome<Cart> {
    retrying(|attempt| lines_remove_once(attempt, db, token, viewer, line_ids, hold)).await
}

async fn lines_remove_once(
    attempt: Attempt,
    db: &DatabaseConnection,
    token: &str,
    viewer: Viewer,
    line_ids: &[i64],
    hold: Option<DateTime<Utc>>,
) -> Outcome<Cart> {
    let cart = match open_cart(db, token, viewer).await? {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let errors: Vec<UserError> = line_ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !cart.lines.iter().any(|l| l.id == **id))
        .map(|(i, _)| {
            UserError::new(
                &["lineIds", &i.to_string()],
                UserErrorCode::NotFound,
                "no such line in this cart",
            )
        })
        .collect();
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = attempt.begin(db).await?;
    touch(&tx, cart.row.id).await?;
    cart_line::Entity::delete_many()
        .filter(cart_line::Column::CartId.eq(cart.row.id))
        .filter(cart_line::Column::Id.is_in(line_ids.iter().copied()))
        .exec(&tx)
        .await?;
    if let Err(e) = rehold(&tx, cart.row.id, hold).await? {
        tx.rollback().await?;
        return Ok(Err(e));
    }
    tx.commit().await?;
    open_cart(db, token, viewer).await
}
