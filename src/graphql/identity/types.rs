//! GraphQL types of identity and access.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{api_token, customer, customer_address, staff_user};

use crate::graphql::commerce::{OrderConnection, order_page};
use crate::{
    domain::{
        self,
        identity::{
            api_token as tokens,
            permission::{Permission, Role},
        },
    },
    graphql::{
        ContextExt,
        auth::OwnerOr,
        common::{Money, Payload, UserError, money, payload},
        error::ApiResult,
        id::{self, Kind},
    },
};

payload!(CustomerPayload, customer::Model, customer, Customer);
payload!(
    CustomerAddressPayload,
    customer_address::Model,
    address,
    MailingAddress
);
payload!(
    CustomerAddressDeletePayload,
    ID,
    deleted_address_id,
    std::convert::identity
);
payload!(StaffUserPayload, staff_user::Model, staff_user, StaffUser);
payload!(ApiTokenPayload, api_token::Model, api_token, ApiToken);

impl Payload<()> for UserErrorsPayload {
    fn success((): ()) -> Self {
        Self::default()
    }
    fn failure(errors: Vec<UserError>) -> Self {
        Self {
            user_errors: errors,
        }
    }
}

impl Payload<tokens::Created> for ApiTokenCreatePayload {
    fn success(created: tokens::Created) -> Self {
        Self {
            api_token: Some(ApiToken(created.token)),
            secret: Some(created.secret),
            user_errors: vec![],
        }
    }
    fn failure(errors: Vec<UserError>) -> Self {
        Self {
            user_errors: errors,
            ..Default::default()
        }
    }
}

/// Implements the constructors of a sign-in payload.
macro_rules! sign_in {
    ($payload:ty, $model:ty, $field:ident, $wrap:expr) => {
        impl $payload {
            /// Signed in with new tokens.
            #[allow(clippy::needless_update)]
            pub fn signed_in(who: $model, tokens: AuthTokens) -> Self {
                Self {
                    $field: Some($wrap(who)),
                    tokens: Some(tokens),
                    user_errors: vec![],
                    ..Default::default()
                }
            }
            /// A refused sign-in.
            pub fn failure(errors: Vec<UserError>) -> Self {
                Self {
                    user_errors: errors,
                    ..Default::default()
                }
            }
        }
    };
}

sign_in!(CustomerAuthPayload, customer::Model, customer, Customer);
sign_in!(StaffAuthPayload, staff_user::Model, staff_user, StaffUser);

/// A shop customer's account.
pub struct Customer(pub customer::Model);

/// A shop customer's account.
#[Object]
impl Customer {
    /// Globally unique ID.
    pub async fn id(&self) -> ID {
        id::encode(Kind::Customer, self.0.id)
    }
    /// Email, lower-cased.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Given name.
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }
    /// Family name.
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }
    /// Name to show: first and last name, else the email.
    async fn display_name(&self) -> String {
        let name = [self.0.first_name.as_deref(), self.0.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if name.is_empty() {
            self.0.email.clone()
        } else {
            name
        }
    }
    /// Phone number.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the account last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The address book, oldest first. The customer, or `customers:read`.
    #[graphql(guard = "OwnerOr::new(self.0.id, Permission::CustomersRead)")]
    async fn addresses(&self, ctx: &Context<'_>) -> ApiResult<Vec<MailingAddress>> {
        let rows = domain::identity::customer::addresses(&ctx.state()?.db, self.0.id).await?;
        Ok(rows.into_iter().map(MailingAddress).collect())
    }
    /// The customer's orders, newest first. The customer, or `orders:read`.
    #[graphql(
        guard = "OwnerOr::new(self.0.id, Permission::OrdersRead)",
        complexity = "crate::graphql::catalog::page_cost(first, None, child_complexity)"
    )]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<OrderConnection> {
        ctx.request()?.no_store();
        order_page(ctx, Some(self.0.id), first, after).await
    }
    /// The customer's store credit balances, one per currency. The
    /// customer, or `customers:read`.
    #[graphql(guard = "OwnerOr::new(self.0.id, Permission::CustomersRead)")]
    async fn store_credit(&self, ctx: &Context<'_>) -> ApiResult<Vec<Money>> {
        let accounts =
            domain::checkout::setup::store_credit_accounts(&ctx.state()?.db, self.0.id).await?;
        Ok(accounts
            .into_iter()
            .filter_map(|a| {
                let currency = a.currency_code.parse().ok()?;
                Some(money(a.balance_minor, currency))
            })
            .collect())
    }
    /// The default address, if any. The customer, or `customers:read`.
    #[graphql(guard = "OwnerOr::new(self.0.id, Permission::CustomersRead)")]
    async fn default_address(&self, ctx: &Context<'_>) -> ApiResult<Option<MailingAddress>> {
        let Some(address_id) = self.0.default_address_id else {
            return Ok(None);
        };
        let row =
            domain::identity::customer::address(&ctx.state()?.db, self.0.id, address_id).await?;
        Ok(row.map(MailingAddress))
    }
}

/// A postal address of a customer's address book.
pub struct MailingAddress(pub customer_address::Model);

/// A postal address of a customer's address book.
#[Object]
impl MailingAddress {
    /// Globally unique ID.
    pub async fn id(&self) -> ID {
        id::encode(Kind::MailingAddress, self.0.id)
    }
    /// Given name.
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }
    /// Family name.
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }
    /// Company.
    async fn company(&self) -> Option<&str> {
        self.0.company.as_deref()
    }
    /// First address line.
    async fn address1(&self) -> &str {
        &self.0.address1
    }
    /// Second address line.
    async fn address2(&self) -> Option<&str> {
        self.0.address2.as_deref()
    }
    /// City.
    async fn city(&self) -> &str {
        &self.0.city
    }
    /// Region or province code.
    async fn province_code(&self) -> Option<&str> {
        self.0.province_code.as_deref()
    }
    /// ISO 3166-1 alpha-2 country code.
    async fn country_code(&self) -> &str {
        &self.0.country_code
    }
    /// Postal code.
    async fn zip(&self) -> Option<&str> {
        self.0.zip.as_deref()
    }
    /// Phone number.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// The address as lines, ready to print.
    async fn formatted(&self) -> Vec<String> {
        let a = &self.0;
        let name = [a.first_name.as_deref(), a.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let city_line = [
            a.zip.as_deref(),
            Some(a.city.as_str()),
            a.province_code.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        [
            Some(name).filter(|n| !n.is_empty()),
            a.company.clone(),
            Some(a.address1.clone()),
            a.address2.clone(),
            Some(city_line),
            Some(a.country_code.clone()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Staff roles.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "Role")]
pub enum StaffRole {
    /// Everything.
    Admin,
    /// Catalog, prices, promotions and inventory.
    Merchandiser,
    /// Customers, orders and returns.
    Support,
    /// Reading and fulfilling orders, and inventory.
    Fulfillment,
}

/// A member of the shop's staff.
pub struct StaffUser(pub staff_user::Model);

/// A member of the shop's staff.
#[Object]
impl StaffUser {
    /// Globally unique ID.
    pub async fn id(&self) -> ID {
        id::encode(Kind::StaffUser, self.0.id)
    }
    /// Email, lower-cased.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Display name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// Role.
    async fn role(&self) -> ApiResult<StaffRole> {
        Ok(domain::identity::staff::role_of(&self.0)?.into())
    }
    /// What the role allows, as permission names.
    async fn permissions(&self) -> ApiResult<Vec<&'static str>> {
        Ok(domain::identity::staff::role_of(&self.0)?
            .permissions()
            .names())
    }
    /// Whether the user may log in.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// When the user was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last successful login.
    async fn last_login_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_login_at
    }
}

/// A partner app's API token (the secret itself is shown only at creation).
pub struct ApiToken(pub api_token::Model);

/// A partner app's API token (the secret itself is shown only at creation).
#[Object]
impl ApiToken {
    /// Globally unique ID.
    pub async fn id(&self) -> ID {
        id::encode(Kind::ApiToken, self.0.id)
    }
    /// What the token is for.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The token's first characters, to recognize it.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    /// Granted scopes.
    async fn scopes(&self) -> Vec<&'static str> {
        tokens::scopes_of(&self.0).names()
    }
    /// Rate budget: bucket size in cost points (null: the server default).
    async fn rate_capacity(&self) -> Option<i32> {
        self.0.rate_capacity
    }
    /// Rate budget: points restored per second (null: the server default).
    async fn rate_restore_per_second(&self) -> Option<i32> {
        self.0.rate_restore_per_second
    }
    /// When it stops working, if ever.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// Last authenticated request (to the minute).
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    /// When it was revoked.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Tokens of a login: send the access token as `Authorization: Bearer ...`;
/// exchange the refresh token for new ones before the access token expires.
#[derive(SimpleObject)]
pub struct AuthTokens {
    /// Short-lived access token (JWT).
    pub access_token: String,
    /// When the access token expires.
    pub access_token_expires_at: DateTime<Utc>,
    /// Single-use refresh token.
    pub refresh_token: String,
    /// After this the login cannot be refreshed any more.
    pub refresh_token_expires_at: DateTime<Utc>,
}

/// Result of customer mutations that sign in (login, refresh, reset, password change).
#[derive(SimpleObject, Default)]
pub struct CustomerAuthPayload {
    /// The customer, on success.
    pub customer: Option<Customer>,
    /// New tokens, on success.
    pub tokens: Option<AuthTokens>,
    /// `customerLogin` with a `guestCartId`: the customer's cart after the
    /// guest cart joined it (use this ID from now on).
    pub cart_id: Option<ID>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}

/// Result of `customerRegister`, `customerUpdate` and `customerAssignGroup`.
#[derive(SimpleObject, Default)]
pub struct CustomerPayload {
    /// The customer, on success.
    pub customer: Option<Customer>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}

/// Result of address mutations.
#[derive(SimpleObject, Default)]
pub struct CustomerAddressPayload {
    /// The address, on success.
    pub address: Option<MailingAddress>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}

/// Result of `customerAddressDelete`.
#[derive(SimpleObject, Default)]
pub struct CustomerAddressDeletePayload {
    /// ID of the deleted address, on success.
    pub deleted_address_id: Option<ID>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}

/// Result of mutations that only report mistakes.
#[derive(SimpleObject, Default)]
pub struct UserErrorsPayload {
    /// What was wrong with the input (empty on success).
    pub user_errors: Vec<UserError>,
}

/// Result of `staffLogin` and `staffTokenRefresh`.
#[derive(SimpleObject, Default)]
pub struct StaffAuthPayload {
    /// The staff user, on success.
    pub staff_user: Option<StaffUser>,
    /// New tokens, on success.
    pub tokens: Option<AuthTokens>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}

/// Result of staff user mutations.
#[derive(SimpleObject, Default)]
pub struct StaffUserPayload {
    /// The staff user, on success.
    pub staff_user: Option<StaffUser>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}

/// Result of `apiTokenCreate`.
#[derive(SimpleObject, Default)]
pub struct ApiTokenCreatePayload {
    /// The token, on success.
    pub api_token: Option<ApiToken>,
    /// The secret to give the partner app. Shown this once: only a digest is kept.
    pub secret: Option<String>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}

/// Result of `apiTokenRevoke`.
#[derive(SimpleObject, Default)]
pub struct ApiTokenPayload {
    /// The token, on success.
    pub api_token: Option<ApiToken>,
    /// What was wrong with the input.
    pub user_errors: Vec<UserError>,
}
