//! Demo checkout setup: tax rates, shipping zones and methods, promotions
//! and one gift card, so a seeded shop can be bought from at once.
//!
//! - Tax: the `default` channel (USD, prices without tax) ships to the US,
//!   where this demo taxes California (7.25 %) and New York (8.875 %) on
//!   the `standard` class and nothing elsewhere; the `eu` channel (EUR,
//!   prices with tax) uses the VAT of Germany (its default country),
//!   France, the Netherlands and Austria, standard and reduced; shipping in
//!   the EU is taxed at the standard rate.
//! - Shipping: `standard` (free over a threshold), `express` (flat) and, in
//!   the US, `freight` by weight; Canada and the UK get `international`.
//! - Promotions (codes are case-insensitive): `SAVE10` (10 % off, stackable),
//!   `WELCOME15` (15 % off, once per signed-in customer, exclusive),
//!   `FREESHIP` (free shipping from 30.00), `TAKE5` (5.00 off from 40.00,
//!   stackable), `HOME3FOR2` (buy 2 get 1 free in the `home` collection);
//!   the `eu` channel has `SAVE10` and `FREESHIP` in euros.
//! - Gift card `DEMO-GIFT-CARD-0001`: 50.00 USD.
//!
//! The promotions and the gift card are seeded only with `demo_codes`
//! (development mode): codes printed in the README must never be worth
//! money in a real shop.

use anyhow::Context;
use chrono::{DateTime, Utc};
use entity::{gift_card, gift_card_entry, promotion, shipping_method, shipping_zone, tax_rate};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::domain::checkout::setup::gift_card_hash;

/// The seeded demo gift card's code.
pub const DEMO_GIFT_CARD: &str = "DEMO-GIFT-CARD-0001";

const TAX: &[(&str, &str, &str, i64, &str)] = &[
    ("US", "CA", "standard", 72_500, "CA sales tax"),
    ("US", "CA", "reduced", 0, "CA sales tax"),
    ("US", "NY", "standard", 88_750, "NY sales tax"),
    ("US", "NY", "reduced", 0, "NY sales tax"),
    ("DE", "", "standard", 190_000, "MwSt."),
    ("DE", "", "reduced", 70_000, "MwSt."),
    ("FR", "", "standard", 200_000, "TVA"),
    ("FR", "", "reduced", 55_000, "TVA"),
    ("NL", "", "standard", 210_000, "BTW"),
    ("NL", "", "reduced", 90_000, "BTW"),
    ("AT", "", "standard", 200_000, "USt."),
    ("AT", "", "reduced", 100_000, "USt."),
];

const ZONES: &[(&str, &str)] = &[
    ("United States", "US"),
    ("Canada and United Kingdom", "CA GB"),
    ("European Union", "DE FR NL AT BE IT ES"),
];

struct Method {
    zone: usize,
    eu: bool,
    code: &'static str,
    name: &'static str,
    kind: &'static str,
    amount: i64,
    threshold: Option<i64>,
    brackets: Option<&'static str>,
    tax_class: Option<&'static str>,
}

const METHODS: &[Method] = &[
    Method {
        zone: 0,
        eu: false,
        code: "standard",
        name: "Standard (3-5 days)",
        kind: "free_over",
        amount: 599,
        threshold: Some(7500),
        brackets: None,
        tax_class: None,
    },
    Method {
        zone: 0,
        eu: false,
        code: "express",
        name: "Express (1-2 days)",
        kind: "flat",
        amount: 1499,
        threshold: None,
        brackets: None,
        tax_class: None,
    },
    Method {
        zone: 0,
        eu: false,
        code: "freight",
        name: "Freight by weight",
        kind: "by_weight",
        amount: 0,
        threshold: None,
        brackets: Some(
            r#"[{"upToGrams":1000,"amountMinor":800},{"upToGrams":5000,"amountMinor":1500},{"upToGrams":30000,"amountMinor":3500}]"#,
        ),
        tax_class: None,
    },
    Method {
        zone: 1,
        eu: false,
        code: "international",
        name: "International",
        kind: "flat",
        amount: 1999,
        threshold: None,
        brackets: None,
        tax_class: None,
    },
    Method {
        zone: 2,
        eu: true,
        code: "standard",
        name: "Standard (2-4 days)",
        kind: "free_over",
        amount: 490,
        threshold: Some(5000),
        brackets: None,
        tax_class: Some("standard"),
    },
    Method {
        zone: 2,
        eu: true,
        code: "express",
        name: "Express (next day)",
        kind: "flat",
        amount: 1290,
        threshold: None,
        brackets: None,
        tax_class: Some("standard"),
    },
];

/// Inserts the demo checkout setup; `home` is the `home` collection's id.
/// Without `demo_codes`, no promotion and no gift card.
pub(super) async fn seed(
    txn: &impl ConnectionTrait,
    default_channel: i64,
    eu_channel: i64,
    home: i64,
    at: DateTime<Utc>,
    demo_codes: bool,
) -> anyhow::Result<()> {
    tax_rate::Entity::insert_many(TAX.iter().map(|(country, region, class, ppm, name)| {
        tax_rate::ActiveModel {
            country: Set((*country).to_owned()),
            region: Set((*region).to_owned()),
            tax_class: Set((*class).to_owned()),
            rate_ppm: Set(*ppm),
            name: Set((*name).to_owned()),
            ..Default::default()
        }
    }))
    .exec_without_returning(txn)
    .await
    .context("inserting tax rates")?;

    let mut zone_ids = Vec::new();
    for (name, countries) in ZONES {
        let id = shipping_zone::Entity::insert(shipping_zone::ActiveModel {
            name: Set((*name).to_owned()),
            countries: Set((*countries).to_owned()),
            ..Default::default()
        })
        .exec(txn)
        .await
        .context("inserting shipping zones")?
        .last_insert_id;
        zone_ids.push(id);
    }
    for (position, m) in METHODS.iter().enumerate() {
        shipping_method::Entity::insert(shipping_method::ActiveModel {
            zone_id: Set(zone_ids[m.zone]),
            channel_id: Set(if m.eu { eu_channel } else { default_channel }),
            code: Set(m.code.to_owned()),
            name: Set(m.name.to_owned()),
            kind: Set(m.kind.to_owned()),
            amount_minor: Set(m.amount),
            threshold_minor: Set(m.threshold),
            brackets: Set(m.brackets.map(str::to_owned)),
            tax_class: Set(m.tax_class.map(str::to_owned)),
            active: Set(true),
            position: Set(i32::try_from(position).unwrap_or(0)),
            ..Default::default()
        })
        .exec_without_returning(txn)
        .await
        .context("inserting shipping methods")?;
    }

    if !demo_codes {
        return Ok(());
    }
    let home_targets = format!(r#"{{"collections":[{home}]}}"#);
    let promos: Vec<promotion::ActiveModel> = vec![
        promo(
            default_channel,
            "10% off everything",
            "SAVE10",
            "percentage",
            100_000,
            0,
            None,
            false,
            at,
        ),
        promo(
            default_channel,
            "Welcome: 15% off your first order",
            "WELCOME15",
            "percentage",
            150_000,
            0,
            None,
            true,
            at,
        )
        .with_per_customer_limit(1),
        promo(
            default_channel,
            "Free shipping from $30",
            "FREESHIP",
            "free_shipping",
            0,
            0,
            None,
            false,
            at,
        )
        .with_min_subtotal(3000),
        promo(
            default_channel,
            "$5 off orders from $40",
            "TAKE5",
            "fixed_amount",
            0,
            500,
            None,
            false,
            at,
        )
        .with_min_subtotal(4000),
        promo(
            default_channel,
            "Home: buy 2, get 1 free",
            "HOME3FOR2",
            "buy_x_get_y",
            1_000_000,
            0,
            Some(home_targets),
            false,
            at,
        )
        .with_buy_get(2, 1),
        promo(
            eu_channel,
            "10 % Rabatt",
            "SAVE10",
            "percentage",
            100_000,
            0,
            None,
            false,
            at,
        ),
        promo(
            eu_channel,
            "Kostenloser Versand ab 30 €",
            "FREESHIP",
            "free_shipping",
            0,
            0,
            None,
            false,
            at,
        )
        .with_min_subtotal(3000),
    ];
    promotion::Entity::insert_many(promos)
        .exec_without_returning(txn)
        .await
        .context("inserting promotions")?;

    let card = gift_card::Entity::insert(gift_card::ActiveModel {
        code_hash: Set(gift_card_hash(DEMO_GIFT_CARD)),
        last_chars: Set("0001".into()),
        currency_code: Set("USD".into()),
        initial_minor: Set(5000),
        balance_minor: Set(5000),
        expires_at: Set(None),
        disabled: Set(false),
        created_at: Set(at),
        ..Default::default()
    })
    .exec(txn)
    .await
    .context("inserting the demo gift card")?
    .last_insert_id;
    gift_card_entry::Entity::insert(gift_card_entry::ActiveModel {
        gift_card_id: Set(card),
        amount_minor: Set(5000),
        order_id: Set(None),
        reason: Set("issued".into()),
        created_at: Set(at),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await
    .context("inserting the demo gift card's ledger")?;
    Ok(())
}

trait PromoExt {
    fn with_per_customer_limit(self, n: i32) -> Self;
    fn with_min_subtotal(self, minor: i64) -> Self;
    fn with_buy_get(self, buy: i32, get: i32) -> Self;
}

impl PromoExt for promotion::ActiveModel {
    fn with_per_customer_limit(mut self, n: i32) -> Self {
        self.per_customer_limit = Set(Some(n));
        self
    }
    fn with_min_subtotal(mut self, minor: i64) -> Self {
        self.min_subtotal_minor = Set(minor);
        self
    }
    fn with_buy_get(mut self, buy: i32, get: i32) -> Self {
        self.buy_quantity = Set(buy);
        self.get_quantity = Set(get);
        self
    }
}

#[allow(clippy::too_many_arguments)]
fn promo(
    channel: i64,
    name: &str,
    code: &str,
    kind: &str,
    percent_ppm: i64,
    amount_minor: i64,
    targets: Option<String>,
    exclusive: bool,
    at: DateTime<Utc>,
) -> promotion::ActiveModel {
    promotion::ActiveModel {
        channel_id: Set(channel),
        name: Set(name.to_owned()),
        code: Set(Some(code.to_owned())),
        kind: Set(kind.to_owned()),
        percent_ppm: Set(percent_ppm),
        amount_minor: Set(amount_minor),
        buy_quantity: Set(0),
        get_quantity: Set(0),
        targets: Set(targets),
        min_subtotal_minor: Set(0),
        exclusive: Set(exclusive),
        starts_at: Set(None),
        ends_at: Set(None),
        usage_limit: Set(None),
        per_customer_limit: Set(None),
        times_used: Set(0),
        active: Set(true),
        created_at: Set(at),
        ..Default::default()
    }
}
