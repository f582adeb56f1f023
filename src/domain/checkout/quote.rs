//! Pricing a cart: gathers what the pricing engine needs from the database
//! (unit prices for the buyer's group and quantity, tax rules of the
//! destination, shipping methods, eligible promotions, gift cards, store
//! credit), runs it, and keeps the result with the rows it came from.
//!
//! A cart is priced on every read and again at checkout; nothing the client
//! sends is a price. Lines whose variant is gone or not for sale any more are
//! shown, unpriced, and block checkout.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{
    cart_line, collection_product, customer, gift_card, product, promotion, promotion_usage,
    shipping_method, variant,
};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::{
    setup::{self, Bracket, Targets},
    stock,
    stored::Cart,
};
use crate::domain::{
    catalog,
    channel::Channel,
    error::{DomainError, DomainResult},
    pricing::{
        self, BuyXGetY, CartInput, CartTotals, Discount, DiscountTarget, DiscountValue,
        GiftCardBalance, Ineligible, LineTotals, PriceRow, PromotionRules, PromotionUsage,
        Rejection, ShippingMethod, Stacking, TaxMode, TaxRule, Tenders, WeightBracket,
    },
};

/// A rate stored in parts per million as a fraction.
pub fn rate_of_ppm(ppm: i64) -> Decimal {
    Decimal::new(ppm, 6).normalize()
}

/// One cart line, priced.
#[derive(Debug, Clone)]
pub struct QuoteLine {
    /// The stored line.
    pub line: cart_line::Model,
    /// Its variant, if still for sale.
    pub variant: Option<variant::Model>,
    /// The variant's product.
    pub product: Option<product::Model>,
    /// Unit price for this buyer and quantity (`None`: not for sale).
    pub unit_price: Option<i64>,
    /// The line's amounts (zero when not for sale).
    pub totals: LineTotals,
    /// Tax rate applied.
    pub tax_rate: Decimal,
    /// Discount allocations on the line.
    pub allocations: Vec<Allocation>,
    /// Units available (tracked variants).
    pub available: Option<i64>,
}

/// A promotion's share of a line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Allocation {
    /// The promotion.
    pub promotion_id: i64,
    /// Its code, if entered by code.
    pub code: Option<String>,
    /// Minor units.
    pub amount_minor: i64,
}

/// A promotion that applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedPromotion {
    /// The promotion.
    pub promotion_id: i64,
    /// Display name.
    pub name: String,
    /// Its code; `None` for an automatic promotion.
    pub code: Option<String>,
    /// What it took off in all (lines and shipping).
    pub amount_minor: i64,
    /// Of which off shipping.
    pub shipping_minor: i64,
}

/// An entered discount code and whether it applies now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeStatus {
    /// The code, upper-cased.
    pub code: String,
    /// Whether it took something off.
    pub applicable: bool,
    /// Why not, for people.
    pub reason: Option<String>,
    /// Not applicable because this customer used it as often as allowed:
    /// checkout refuses rather than charge without it (a checkout of theirs
    /// that raced this one took it).
    pub customer_limit_reached: bool,
}

/// A shipping method offered for the cart.
#[derive(Debug, Clone)]
pub struct ShippingOption {
    /// The method.
    pub method: shipping_method::Model,
    /// What it costs for this cart (before shipping discounts); `None` when
    /// the cart is too heavy for it.
    pub amount: Option<i64>,
}

/// A gift card on the cart and what it pays.
#[derive(Debug, Clone)]
pub struct AppliedGiftCard {
    /// The card.
    pub card: gift_card::Model,
    /// Minor units it pays of this cart.
    pub amount: i64,
}

/// A priced cart.
#[derive(Debug, Clone)]
pub struct Quote {
    /// The channel the cart prices in.
    pub channel: Channel,
    /// Lines in cart order.
    pub lines: Vec<QuoteLine>,
    /// Engine totals.
    pub totals: CartTotals,
    /// Promotions that applied.
    pub promotions: Vec<AppliedPromotion>,
    /// Entered codes and their state.
    pub codes: Vec<CodeStatus>,
    /// Shipping methods offered for the destination.
    pub shipping_options: Vec<ShippingOption>,
    /// The chosen method, if still offered and able to carry the cart.
    pub shipping: Option<ShippingOption>,
    /// Gift cards and what they pay.
    pub gift_cards: Vec<AppliedGiftCard>,
    /// Store credit account id and what it pays.
    pub store_credit: Option<(i64, i64)>,
    /// What remains for the payment gateway.
    pub amount_due: i64,
    /// The destination country used for tax and shipping.
    pub country: Option<String>,
}

impl Quote {
    /// Whether every line is for sale.
    pub fn all_lines_for_sale(&self) -> bool {
        self.lines.iter().all(|l| l.unit_price.is_some())
    }

    /// Units per variant, for reservations.
    pub fn needs(&self) -> Vec<stock::Need> {
        self.lines
            .iter()
            .filter(|l| l.variant.is_some())
            .map(|l| stock::Need {
                variant_id: l.line.variant_id,
                quantity: l.line.quantity,
            })
            .collect()
    }
}

fn shipping_method_of(m: &shipping_method::Model) -> DomainResult<ShippingMethod> {
    Ok(match m.kind.as_str() {
        "flat" => ShippingMethod::Flat {
            amount: m.amount_minor,
        },
        "free_over" => ShippingMethod::FreeOver {
            amount: m.amount_minor,
            threshold: m.threshold_minor.unwrap_or(i64::MAX),
        },
        "by_weight" => {
            let brackets: Vec<Bracket> = m
                .brackets
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| DomainError::Inconsistent(format!("shipping method {}: {e}", m.code)))?
                .unwrap_or_default();
            ShippingMethod::ByWeight {
                brackets: brackets
                    .into_iter()
                    .map(|b| WeightBracket {
                        up_to_grams: b.up_to_grams,
                        amount: b.amount_minor,
                    })
                    .collect(),
            }
        }
        other => {
            return Err(DomainError::Inconsistent(format!(
                "shipping method {}: unknown kind `{other}`",
                m.code
            )));
        }
    })
}

/// Whether the shipping method `m` can carry a cart of `weight_grams`
/// (a weight-based method only up to its heaviest bracket).
pub fn carries(m: &shipping_method::Model, weight_grams: u64) -> bool {
    shipping_method_of(m)
        .ok()
        .is_some_and(|sm| pricing::shipping_amount(&sm, 0, weight_grams).is_ok())
}

fn discount_of(
    p: &promotion::Model,
    collection_products: &HashMap<i64, Vec<i64>>,
) -> DomainResult<Discount> {
    let pct = rate_of_ppm(p.percent_ppm);
    let value = match p.kind.as_str() {
        "percentage" => DiscountValue::Percentage(pct),
        "fixed_amount" => DiscountValue::FixedAmount(p.amount_minor),
        "free_shipping" => DiscountValue::FreeShipping,
        "buy_x_get_y" => DiscountValue::BuyXGetY(BuyXGetY {
            buy: u32::try_from(p.buy_quantity).unwrap_or(0),
            get: u32::try_from(p.get_quantity).unwrap_or(1).max(1),
            percentage: pct,
            max_applications: None,
        }),
        other => {
            return Err(DomainError::Inconsistent(format!(
                "promotion {}: unknown kind `{other}`",
                p.id
            )));
        }
    };
    let target = match targets_of(p) {
        None => DiscountTarget::Order,
        Some(t) => {
            let mut product_ids = t.products.clone();
            for c in &t.collections {
                product_ids.extend(collection_products.get(c).into_iter().flatten().copied());
            }
            DiscountTarget::Lines {
                variant_ids: t.variants,
                product_ids,
            }
        }
    };
    Ok(Discount {
        id: p.id,
        value,
        target,
        min_subtotal: p.min_subtotal_minor,
        stacking: if p.exclusive {
            Stacking::Exclusive
        } else {
            Stacking::Stackable
        },
    })
}

/// Whether promotion `p` may be used at `now` by a customer who used it
/// `customer_uses` times (`None`: a guest, or uses not counted).
pub fn eligibility(
    p: &promotion::Model,
    customer_uses: Option<u32>,
    now: chrono::DateTime<Utc>,
) -> Result<(), Ineligible> {
    let rules = PromotionRules {
        starts_at: p.starts_at,
        ends_at: p.ends_at,
        usage_limit: p.usage_limit.map(|l| u32::try_from(l).unwrap_or(0)),
        per_customer_limit: p.per_customer_limit.map(|l| u32::try_from(l).unwrap_or(0)),
    };
    let usage = PromotionUsage {
        times_used: u32::try_from(p.times_used).unwrap_or(0),
        customer_uses,
    };
    pricing::promotion::check(&rules, &usage, now)
}

/// A promotion's targets (`None`: the whole order).
pub fn targets_of(p: &promotion::Model) -> Option<Targets> {
    p.targets
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
}

fn rejection_text(r: Rejection) -> &'static str {
    match r {
        Rejection::NoMatchingLines => "no item in the cart qualifies for this code",
        Rejection::BelowMinimumSubtotal => "the cart is below this code's minimum amount",
        Rejection::NoShippingMethod => "choose a shipping method first",
        Rejection::NotEnoughUnits => "add more qualifying items to use this code",
        Rejection::NothingToDiscount => "nothing left to discount",
        Rejection::LostToExclusive => "a better offer that does not combine applies instead",
    }
}

/// Prices `cart` for `customer_id` (signed in, if any). `known` is a channel
/// the caller already has: used when it is the cart's, read otherwise.
pub async fn quote(
    db: &impl ConnectionTrait,
    cart: &Cart,
    customer_id: Option<i64>,
    known: Option<&Channel>,
) -> DomainResult<Quote> {
    let channel = match known {
        Some(c) if c.id == cart.row.channel_id => c.clone(),
        _ => setup::channel_by_id(db, cart.row.channel_id).await?,
    };
    let ids: Vec<i64> = cart.lines.iter().map(|l| l.variant_id).collect();
    let variants: HashMap<i64, variant::Model> = catalog::variants_by_ids(db, &ids)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let product_ids: Vec<i64> = variants.values().map(|v| v.product_id).collect();
    let products: HashMap<i64, product::Model> = catalog::products_by_ids(db, &product_ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let mut rows_of: HashMap<i64, Vec<PriceRow>> = HashMap::new();
    for r in setup::price_rows(db, channel.id, &ids).await? {
        rows_of.entry(r.variant_id).or_default().push(PriceRow {
            channel_id: r.channel_id,
            customer_group_id: r.customer_group_id,
            min_quantity: r.min_quantity,
            amount_minor: r.amount_minor,
        });
    }
    let buyer = match customer_id {
        Some(id) => customer::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    let group = buyer.as_ref().and_then(|c| c.customer_group_id);
    let available = stock::available(db, &ids).await?;

    // Lines the engine prices: those for sale.
    let mut engine_lines = Vec::new();
    let mut engine_index = Vec::new();
    let mut unit_prices = Vec::with_capacity(cart.lines.len());
    for (i, line) in cart.lines.iter().enumerate() {
        let quantity = u32::try_from(line.quantity).unwrap_or(0);
        let priced = variants.get(&line.variant_id).and_then(|v| {
            let rows = rows_of.get(&v.id)?;
            pricing::unit_price(rows, channel.id, group, quantity).map(|p| (v, p))
        });
        unit_prices.push(priced.map(|(_, p)| p));
        if let Some((v, price)) = priced {
            engine_index.push(i);
            engine_lines.push(pricing::Line {
                variant_id: v.id,
                product_id: v.product_id,
                unit_price: price,
                quantity,
                tax_class: v.tax_class.clone(),
                weight_grams: u32::try_from(v.weight_grams.unwrap_or(0)).unwrap_or(0),
            });
        }
    }

    // Destination, tax rules and shipping.
    let country = cart.country().or_else(|| channel.default_country.clone());
    let tax_rows = match &country {
        Some(c) => setup::tax_rates_in(db, c).await?,
        None => Vec::new(),
    };
    let rules: Vec<TaxRule> = tax_rows
        .iter()
        .map(|r| TaxRule {
            country: r.country.clone(),
            region: (!r.region.is_empty()).then(|| r.region.clone()),
            tax_class: r.tax_class.clone(),
            rate: rate_of_ppm(r.rate_ppm),
        })
        .collect();
    let region = cart.region();
    let methods = match cart.country() {
        Some(c) => setup::shipping_methods_for(db, channel.id, &c).await?,
        None => Vec::new(),
    };
    let mut rates = pricing::rates_for(&rules, country.as_deref().unwrap_or(""), region.as_deref());
    // A class the destination has no rule for is not taxed there.
    let classes = engine_lines
        .iter()
        .map(|l| l.tax_class.as_str())
        .chain(cart_shipping_class(cart, &methods));
    let missing: Vec<String> = classes
        .filter(|c| rates.rate(c).is_none())
        .map(str::to_owned)
        .collect();
    for class in missing {
        rates = rates.with_rate(class, Decimal::ZERO);
    }
    let weight: u64 = engine_lines
        .iter()
        .map(|l| u64::from(l.weight_grams) * u64::from(l.quantity))
        .sum();
    // A method that cannot carry the cart (too heavy for its brackets) is
    // not chosen any more: the cart still prices, and checkout asks for
    // another method.
    let chosen = cart
        .row
        .shipping_method_id
        .and_then(|id| methods.iter().find(|m| m.id == id))
        .filter(|m| carries(m, weight));
    let chosen_engine = chosen.map(shipping_method_of).transpose()?;

    // Promotions: automatic ones and entered codes, if eligible.
    let codes = cart.discount_codes();
    let promos = setup::promotions_for(db, channel.id, &codes).await?;
    let collection_ids: HashSet<i64> = promos
        .iter()
        .filter_map(targets_of)
        .flat_map(|t| t.collections)
        .collect();
    let collection_products = collection_products_of(db, &collection_ids).await?;
    let now = Utc::now();
    let mut discounts = Vec::new();
    let mut code_status: HashMap<String, CodeStatus> = HashMap::new();
    for p in &promos {
        let uses = match (p.per_customer_limit, customer_id) {
            (Some(_), Some(c)) => Some(
                u32::try_from(
                    promotion_usage::Entity::find()
                        .filter(promotion_usage::Column::PromotionId.eq(p.id))
                        .filter(promotion_usage::Column::CustomerId.eq(c))
                        .count(db)
                        .await?,
                )
                .unwrap_or(u32::MAX),
            ),
            _ => None,
        };
        match eligibility(p, uses, now) {
            Ok(()) => discounts.push(discount_of(p, &collection_products)?),
            Err(why) => {
                if let Some(code) = &p.code {
                    code_status.insert(code.clone(), not_applicable(code, why));
                }
            }
        }
    }

    let tax_mode = if channel.prices_include_tax {
        TaxMode::Inclusive
    } else {
        TaxMode::Exclusive
    };
    let input = CartInput {
        tax_mode,
        lines: &engine_lines,
        tax_rates: &rates,
        discounts: &discounts,
        shipping: chosen_engine.as_ref(),
        shipping_tax_class: chosen.and_then(|m| m.tax_class.as_deref()),
    };
    let totals = pricing::price_cart(&input).map_err(|e| {
        DomainError::Inconsistent(format!("cart {} cannot be priced: {e}", cart.row.id))
    })?;

    // Shipping options with their price for this cart.
    let discounted = totals.subtotal - (totals.discounts - totals.shipping_discount);
    let shipping_options = methods
        .iter()
        .map(|m| {
            let amount = shipping_method_of(m)
                .ok()
                .and_then(|sm| pricing::shipping_amount(&sm, discounted, weight).ok());
            ShippingOption {
                method: m.clone(),
                amount,
            }
        })
        .collect::<Vec<_>>();
    let shipping = chosen.map(|m| ShippingOption {
        method: m.clone(),
        amount: Some(totals.shipping),
    });

    // Which promotion applied, and where.
    let by_id: HashMap<i64, &promotion::Model> = promos.iter().map(|p| (p.id, p)).collect();
    let promotions: Vec<AppliedPromotion> = totals
        .applied_discounts
        .iter()
        .filter_map(|a| {
            let p = by_id.get(&a.id)?;
            Some(AppliedPromotion {
                promotion_id: p.id,
                name: p.name.clone(),
                code: p.code.clone(),
                amount_minor: a.amount,
                shipping_minor: a.shipping,
            })
        })
        .collect();
    for a in &promotions {
        if let Some(code) = &a.code {
            code_status.insert(
                code.clone(),
                CodeStatus {
                    code: code.clone(),
                    applicable: true,
                    reason: None,
                    customer_limit_reached: false,
                },
            );
        }
    }
    for r in &totals.rejected_discounts {
        if let Some(code) = by_id.get(&r.id).and_then(|p| p.code.clone()) {
            code_status.entry(code.clone()).or_insert(CodeStatus {
                code,
                applicable: false,
                reason: Some(rejection_text(r.reason).to_owned()),
                customer_limit_reached: false,
            });
        }
    }
    let codes = codes
        .into_iter()
        .map(|c| {
            code_status.remove(&c).unwrap_or(CodeStatus {
                code: c,
                applicable: false,
                reason: Some("this code is no longer valid".into()),
                customer_limit_reached: false,
            })
        })
        .collect();

    let mut lines = Vec::with_capacity(cart.lines.len());
    let zero = LineTotals {
        subtotal: 0,
        discount: 0,
        tax: 0,
        total: 0,
    };
    for (i, line) in cart.lines.iter().enumerate() {
        let variant = variants.get(&line.variant_id).cloned();
        let product = variant
            .as_ref()
            .and_then(|v| products.get(&v.product_id).cloned());
        let pos = engine_index.iter().position(|&x| x == i);
        let totals_line = pos
            .and_then(|p| totals.lines.get(p))
            .copied()
            .unwrap_or(zero);
        let allocations = pos
            .map(|p| {
                totals
                    .applied_discounts
                    .iter()
                    .filter_map(|a| {
                        let amount = *a.allocations.get(p)?;
                        (amount > 0).then(|| Allocation {
                            promotion_id: a.id,
                            code: by_id.get(&a.id).and_then(|p| p.code.clone()),
                            amount_minor: amount,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let tax_rate = variant
            .as_ref()
            .and_then(|v| rates.rate(&v.tax_class))
            .unwrap_or_default();
        lines.push(QuoteLine {
            available: variant
                .as_ref()
                .filter(|v| v.track_inventory)
                .map(|v| available.get(&v.id).copied().unwrap_or(0)),
            line: line.clone(),
            variant,
            product,
            unit_price: unit_prices.get(i).copied().flatten(),
            totals: totals_line,
            tax_rate,
            allocations,
        });
    }

    // Gift cards, then store credit, pay what they can.
    let cards: Vec<gift_card::Model> = {
        let ids = cart.gift_card_ids();
        if ids.is_empty() {
            Vec::new()
        } else {
            let found: HashMap<i64, gift_card::Model> = gift_card::Entity::find()
                .filter(gift_card::Column::Id.is_in(ids.clone()))
                .all(db)
                .await?
                .into_iter()
                .map(|c| (c.id, c))
                .collect();
            ids.iter()
                .filter_map(|id| found.get(id).cloned())
                .filter(|c| {
                    !c.disabled
                        && c.balance_minor > 0
                        && c.expires_at.is_none_or(|e| e > now)
                        && c.currency_code == channel.currency.code()
                })
                .collect()
        }
    };
    let credit = match customer_id {
        Some(c) => setup::store_credit(db, c, channel.currency)
            .await?
            .filter(|a| a.balance_minor > 0),
        None => None,
    };
    let tenders: Tenders = pricing::apply_tenders(
        totals.total,
        channel.currency,
        &cards
            .iter()
            .map(|c| GiftCardBalance {
                id: c.id,
                balance: c.balance_minor,
                currency: channel.currency,
            })
            .collect::<Vec<_>>(),
        credit.as_ref().map(|a| pricing::Balance {
            balance: a.balance_minor,
            currency: channel.currency,
        }),
    )
    .map_err(|e| DomainError::Inconsistent(format!("cart {} tenders: {e}", cart.row.id)))?;
    let gift_cards = cards
        .into_iter()
        .map(|card| {
            let amount = tenders
                .gift_cards
                .iter()
                .find(|d| d.id == card.id)
                .map_or(0, |d| d.amount);
            AppliedGiftCard { card, amount }
        })
        .collect();
    let store_credit = credit
        .filter(|_| tenders.store_credit > 0)
        .map(|a| (a.id, tenders.store_credit));

    Ok(Quote {
        channel,
        lines,
        amount_due: tenders.amount_due,
        totals,
        promotions,
        codes,
        shipping_options,
        shipping,
        gift_cards,
        store_credit,
        country,
    })
}

fn cart_shipping_class<'a>(cart: &Cart, methods: &'a [shipping_method::Model]) -> Option<&'a str> {
    let id = cart.row.shipping_method_id?;
    methods.iter().find(|m| m.id == id)?.tax_class.as_deref()
}

fn not_applicable(code: &str, why: Ineligible) -> CodeStatus {
    CodeStatus {
        code: code.to_owned(),
        applicable: false,
        reason: Some(why.to_string()),
        customer_limit_reached: why == Ineligible::CustomerLimitReached,
    }
}

async fn collection_products_of(
    db: &impl ConnectionTrait,
    collections: &HashSet<i64>,
) -> DomainResult<HashMap<i64, Vec<i64>>> {
    if collections.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = collection_product::Entity::find()
        .filter(collection_product::Column::CollectionId.is_in(collections.iter().copied()))
        .all(db)
        .await?;
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in rows {
        out.entry(r.collection_id).or_default().push(r.product_id);
    }
    Ok(out)
}
