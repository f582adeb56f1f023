//! Promotions (`promotions:write`), gift cards and store credit
//! (`giftcards:write`).

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{gift_card, promotion};

use crate::domain::identity::customer;
use crate::{
    domain::{
        checkout::{
            promotions::{self, Kind as DomainKind, PromotionInput as DomainInput},
            quote::{rate_of_ppm, targets_of},
            setup::{self, Targets},
        },
        error::{UserError as DomainUserError, UserErrorCode as DomainCode},
        identity::permission::Permission,
        money::{Currency, Money as DomainMoney},
    },
    graphql::{
        ContextExt,
        auth::Need,
        common::{Money, UserError, actor, money, under_input, user_errors},
        error::ApiResult,
        id::{Kind, decode_all, decode_as, encode},
        scalars::{CurrencyCode, Decimal},
    },
};

/// What a promotion takes off.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "DomainKind")]
pub enum PromotionKind {
    /// A percentage of the lines it applies to.
    Percentage,
    /// A fixed amount off the lines it applies to.
    FixedAmount,
    /// The shipping price.
    FreeShipping,
    /// Buy `buyQuantity`, get `getQuantity` of the cheapest `percentage` off.
    BuyXGetY,
}

/// A new promotion.
#[derive(InputObject)]
pub struct PromotionCreateInput {
    /// Channel code (default: the request's channel).
    pub channel: Option<String>,
    /// Display name.
    pub name: String,
    /// Discount code customers enter; none: applies automatically.
    pub code: Option<String>,
    /// What it takes off.
    pub kind: PromotionKind,
    /// Percent off, above 0 and at most 100 (PERCENTAGE; BUY_X_GET_Y, default 100 = free).
    pub percentage: Option<Decimal>,
    /// Amount off in the channel currency (FIXED_AMOUNT).
    pub amount: Option<Decimal>,
    /// Units bought (BUY_X_GET_Y).
    pub buy_quantity: Option<i32>,
    /// Units discounted (BUY_X_GET_Y).
    pub get_quantity: Option<i32>,
    /// Variants it applies to.
    #[graphql(default)]
    pub variant_ids: Vec<ID>,
    /// Products it applies to.
    #[graphql(default)]
    pub product_ids: Vec<ID>,
    /// Collections it applies to (their products when the cart is priced).
    #[graphql(default)]
    pub collection_ids: Vec<ID>,
    /// Minimum subtotal of the lines it applies to.
    pub min_subtotal: Option<Decimal>,
    /// Does not combine with other exclusive promotions: the best one for the
    /// customer wins. Non-exclusive ones apply after it, on what is left.
    #[graphql(default)]
    pub exclusive: bool,
    /// Valid from.
    pub starts_at: Option<DateTime<Utc>>,
    /// Valid until.
    pub ends_at: Option<DateTime<Utc>>,
    /// Orders it may be used on in all.
    pub usage_limit: Option<i32>,
    /// Orders per customer (signed-in customers only then).
    pub per_customer_limit: Option<i32>,
}

/// A promotion.
pub struct Promotion(pub promotion::Model);

/// A promotion.
#[Object]
impl Promotion {
    /// Globally unique, opaque ID.
    async fn id(&self) -> ID {
        encode(Kind::Promotion, self.0.id)
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Discount code; null for an automatic promotion.
    async fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }
    /// What it takes off.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// Percent off.
    async fn percentage(&self) -> Decimal {
        Decimal(rate_of_ppm(self.0.percent_ppm) * rust_decimal::Decimal::from(100))
    }
    /// Whether it is switched on.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Whether it is exclusive.
    async fn exclusive(&self) -> bool {
        self.0.exclusive
    }
    /// Orders it was used on.
    async fn times_used(&self) -> i32 {
        self.0.times_used
    }
    /// Total use limit.
    async fn usage_limit(&self) -> Option<i32> {
        self.0.usage_limit
    }
    /// Per-customer use limit.
    async fn per_customer_limit(&self) -> Option<i32> {
        self.0.per_customer_limit
    }
    /// Valid from.
    async fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.0.starts_at
    }
    /// Valid until.
    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.ends_at
    }
    /// Whether it applies to the whole order (else to listed items).
    async fn whole_order(&self) -> bool {
        targets_of(&self.0).is_none()
    }
}

/// A promotion mutation's result.
#[derive(SimpleObject)]
pub struct PromotionPayload {
    /// The promotion.
    pub promotion: Option<Promotion>,
    /// What was wrong; nothing changed.
    pub user_errors: Vec<UserError>,
}

/// A gift card (its code is shown only when it is issued).
#[derive(SimpleObject)]
pub struct GiftCard {
    /// Globally unique, opaque ID.
    pub id: ID,
    /// The last characters of its code.
    pub last_characters: String,
    /// Value when issued.
    pub initial_value: Money,
    /// What is left.
    pub balance: Money,
    /// Unusable after.
    pub expires_at: Option<DateTime<Utc>>,
}

impl GiftCard {
    fn from_model(c: gift_card::Model) -> Self {
        let currency: Currency = c.currency_code.parse().unwrap_or(Currency::USD);
        Self {
            id: encode(Kind::GiftCard, c.id),
            last_characters: c.last_chars,
            initial_value: money(c.initial_minor, currency),
            balance: money(c.balance_minor, currency),
            expires_at: c.expires_at,
        }
    }
}

/// A new gift card.
#[derive(InputObject)]
pub struct GiftCardCreateInput {
    /// Its value.
    pub initial_value: Decimal,
    /// Its currency.
    pub currency_code: CurrencyCode,
    /// The code (8 to 32 letters or digits; dashes and spaces ignored);
    /// default: a random 16-character code.
    pub code: Option<String>,
    /// Unusable after.
    pub expires_at: Option<DateTime<Utc>>,
}

/// `giftCardCreate`'s result.
#[derive(SimpleObject)]
pub struct GiftCardCreatePayload {
    /// The card.
    pub gift_card: Option<GiftCard>,
    /// The code, shown this once (only its digest is stored).
    pub code: Option<String>,
    /// What was wrong; nothing changed.
    pub user_errors: Vec<UserError>,
}

/// `storeCreditAdjust`'s result.
#[derive(SimpleObject)]
pub struct StoreCreditAdjustPayload {
    /// The balance after the change.
    pub balance: Option<Money>,
    /// What was wrong; nothing changed.
    pub user_errors: Vec<UserError>,
}

fn invalid(field: &str, message: &str) -> Vec<UserError> {
    user_errors(vec![DomainUserError::new(
        &["input", field],
        DomainCode::Invalid,
        message,
    )])
}

/// Promotion, gift card and store credit queries.
#[derive(Default)]
pub struct PromotionQuery;

#[Object]
impl PromotionQuery {
    /// Every promotion of a channel, newest first.
    #[graphql(guard = "Need(Permission::PromotionsWrite)")]
    async fn promotions(
        &self,
        ctx: &Context<'_>,
        channel: Option<String>,
    ) -> ApiResult<Vec<Promotion>> {
        let channel = ctx.channel(channel.as_deref()).await?;
        Ok(promotions::list(&ctx.state()?.db, channel.id)
            .await?
            .into_iter()
            .map(Promotion)
            .collect())
    }
}

/// Promotion, gift card and store credit mutations.
#[derive(Default)]
pub struct PromotionMutation;

#[Object]
impl PromotionMutation {
    /// Creates a promotion, automatic or behind a code.
    #[graphql(guard = "Need(Permission::PromotionsWrite)")]
    async fn promotion_create(
        &self,
        ctx: &Context<'_>,
        input: PromotionCreateInput,
    ) -> ApiResult<PromotionPayload> {
        let channel = ctx.channel(input.channel.as_deref()).await?;
        let targets = Targets {
            variants: decode_all(Kind::ProductVariant, &input.variant_ids)?,
            products: decode_all(Kind::Product, &input.product_ids)?,
            collections: decode_all(Kind::Collection, &input.collection_ids)?,
        };
        let domain_input = DomainInput {
            name: input.name,
            code: input.code,
            kind: input.kind.into(),
            percentage: input.percentage.map(|d| d.0),
            amount: input.amount.map(|d| d.0),
            buy_quantity: input.buy_quantity,
            get_quantity: input.get_quantity,
            targets,
            min_subtotal: input.min_subtotal.map(|d| d.0),
            exclusive: input.exclusive,
            starts_at: input.starts_at,
            ends_at: input.ends_at,
            usage_limit: input.usage_limit,
            per_customer_limit: input.per_customer_limit,
        };
        let actor = actor(ctx).await?;
        Ok(
            match promotions::create(&ctx.state()?.db, &actor, &channel, domain_input)
                .await?
                .map_err(under_input)
            {
                Ok(p) => PromotionPayload {
                    promotion: Some(Promotion(p)),
                    user_errors: Vec::new(),
                },
                Err(e) => PromotionPayload {
                    promotion: None,
                    user_errors: user_errors(e),
                },
            },
        )
    }

    /// Switches a promotion on or off.
    #[graphql(guard = "Need(Permission::PromotionsWrite)")]
    async fn promotion_set_active(
        &self,
        ctx: &Context<'_>,
        id: ID,
        active: bool,
    ) -> ApiResult<PromotionPayload> {
        let row = decode_as(Kind::Promotion, &id)?;
        let actor = actor(ctx).await?;
        Ok(
            match promotions::set_active(&ctx.state()?.db, &actor, row, active).await? {
                Some(p) => PromotionPayload {
                    promotion: Some(Promotion(p)),
                    user_errors: Vec::new(),
                },
                None => PromotionPayload {
                    promotion: None,
                    user_errors: user_errors(vec![DomainUserError::new(
                        &["id"],
                        DomainCode::NotFound,
                        "no such promotion",
                    )]),
                },
            },
        )
    }

    /// Issues a gift card; its code is in the answer, once.
    #[graphql(guard = "Need(Permission::GiftCardsWrite)")]
    async fn gift_card_create(
        &self,
        ctx: &Context<'_>,
        input: GiftCardCreateInput,
    ) -> ApiResult<GiftCardCreatePayload> {
        let currency: Currency = input.currency_code.into();
        let Some(amount) = DomainMoney::exact_minor(input.initial_value.0, currency) else {
            return Ok(GiftCardCreatePayload {
                gift_card: None,
                code: None,
                user_errors: invalid("initialValue", "an amount with the currency's decimals"),
            });
        };
        let actor = actor(ctx).await?;
        let issued = setup::gift_card_create(
            &ctx.state()?.db,
            &actor,
            amount,
            currency,
            input.code.as_deref(),
            input.expires_at,
        )
        .await?
        .map_err(under_input);
        Ok(match issued {
            Ok(i) => GiftCardCreatePayload {
                gift_card: Some(GiftCard::from_model(i.card)),
                code: Some(i.code),
                user_errors: Vec::new(),
            },
            Err(e) => GiftCardCreatePayload {
                gift_card: None,
                code: None,
                user_errors: user_errors(e),
            },
        })
    }

    /// Adds (positive amount) or removes (negative) store credit of a
    /// customer; the balance never goes below zero.
    #[graphql(guard = "Need(Permission::GiftCardsWrite)")]
    async fn store_credit_adjust(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
        amount: Decimal,
        currency_code: CurrencyCode,
        #[graphql(default = "adjustment")] reason: String,
    ) -> ApiResult<StoreCreditAdjustPayload> {
        let customer = decode_as(Kind::Customer, &customer_id)?;
        let currency: Currency = currency_code.into();
        let db = &ctx.state()?.db;
        let failed = |e| StoreCreditAdjustPayload {
            balance: None,
            user_errors: e,
        };
        if customer::get(db, customer).await?.is_none() {
            return Ok(failed(user_errors(vec![DomainUserError::new(
                &["customerId"],
                DomainCode::NotFound,
                "no such customer",
            )])));
        }
        let Some(amount) = DomainMoney::exact_minor(amount.0, currency) else {
            // `amount` is an argument here, not a field of an `input`.
            return Ok(failed(user_errors(vec![DomainUserError::new(
                &["amount"],
                DomainCode::Invalid,
                "an amount with the currency's decimals",
            )])));
        };
        let reason: String = reason.trim().chars().take(64).collect();
        let actor = actor(ctx).await?;
        Ok(
            match setup::store_credit_adjust(db, &actor, customer, currency, amount, &reason)
                .await?
            {
                Ok(a) => StoreCreditAdjustPayload {
                    balance: Some(money(a.balance_minor, currency)),
                    user_errors: Vec::new(),
                },
                Err(e) => failed(user_errors(e)),
            },
        )
    }
}
