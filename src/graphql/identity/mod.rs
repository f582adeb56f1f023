//! Accounts and access: customer sign-up, login and address book; staff
//! login and management; partner API tokens. Resolvers parse, authorize
//! (see [`super::auth`]), call `domain::identity` and map the result.

pub mod types;

use async_graphql::{
    Context, ID, InputObject, Object,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Duration, Utc};

use super::{
    ContextExt,
    auth::{LoginThrottle, Need, SignedInCustomer, SignedInStaff},
    common::{Payload, UserError, under_input, user_errors},
    error::{ApiResult, ErrorCode},
    id::{self, Kind},
    pagination::{OffsetCursor, PageArgs},
};
use crate::domain::checkout::cart::merge_into_customer;
use crate::{
    domain::{
        error::{UserError as DomainUserError, UserErrorCode as DomainCode},
        identity::{
            access::Principal,
            api_token, customer,
            permission::{Permission, Role},
            session::{self, Refresh, RevokeReason, SubjectKind},
            staff,
        },
    },
    infra::mail::Mail,
    state::AppState,
};
use types::*;

fn internal(e: impl std::fmt::Display) -> super::error::ApiError {
    tracing::error!(error = %e, "cannot sign an access token");
    ErrorCode::Internal.error("internal error; it has been logged")
}

/// Signs an access token for a fresh or rotated session.
fn sign(
    state: &AppState,
    kind: SubjectKind,
    subject: i64,
    issued: session::Issued,
    role: Option<Role>,
) -> ApiResult<AuthTokens> {
    let (access_token, expires) = state
        .jwt
        .issue(kind, subject, &issued.session_id, role)
        .map_err(internal)?;
    Ok(AuthTokens {
        access_token,
        access_token_expires_at: expires,
        refresh_token: issued.refresh_token,
        refresh_token_expires_at: issued.session.expires_at,
    })
}

fn session_lifetime(state: &AppState) -> Duration {
    Duration::days(i64::try_from(state.config.auth.session_ttl_days).unwrap_or(30))
}

/// Starts a session for `id` and returns its first tokens.
async fn start_login(
    state: &AppState,
    kind: SubjectKind,
    id: i64,
    role: Option<Role>,
) -> ApiResult<AuthTokens> {
    let issued = session::start(
        &state.db,
        kind,
        id,
        session_lifetime(state),
        state.clock.now(),
    )
    .await?;
    sign(state, kind, id, issued, role)
}

/// Exchanges a refresh token of a `kind` session; a refusal is a user error.
async fn rotate_login(
    state: &AppState,
    kind: SubjectKind,
    token: &str,
) -> ApiResult<Result<session::Issued, Vec<UserError>>> {
    Ok(
        match session::rotate(&state.db, kind, token, state.clock.now()).await? {
            Refresh::Rotated(issued) => Ok(issued),
            Refresh::Invalid => Err(refresh_refused(false)),
            Refresh::Reused => Err(refresh_refused(true)),
        },
    )
}

fn invalid_credentials() -> Vec<UserError> {
    vec![
        DomainUserError::new(
            &[],
            DomainCode::InvalidCredentials,
            "the email or the password is wrong",
        )
        .into(),
    ]
}

fn refresh_refused(reused: bool) -> Vec<UserError> {
    let message = if reused {
        "this refresh token was already used; the login has been ended everywhere, log in again"
    } else {
        "the refresh token is invalid or expired; log in again"
    };
    vec![DomainUserError::new(&["refreshToken"], DomainCode::TokenInvalid, message).into()]
}

/// Fields of a new customer account.
#[derive(InputObject)]
pub struct CustomerRegisterInput {
    /// Email; unique regardless of case.
    pub email: String,
    /// At least 8 characters, not a common password.
    pub password: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
}

/// Profile changes (absent fields are left alone).
#[derive(InputObject)]
pub struct CustomerUpdateInput {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

/// A postal address (on update, absent fields are left alone).
#[derive(InputObject)]
pub struct MailingAddressInput {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// First address line (required on create).
    pub address1: Option<String>,
    /// Second address line.
    pub address2: Option<String>,
    /// City (required on create).
    pub city: Option<String>,
    /// Region or province code.
    pub province_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code (required on create).
    pub country_code: Option<String>,
    /// Postal code.
    pub zip: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

impl From<MailingAddressInput> for customer::AddressInput {
    fn from(i: MailingAddressInput) -> Self {
        Self {
            first_name: i.first_name,
            last_name: i.last_name,
            company: i.company,
            address1: i.address1,
            address2: i.address2,
            city: i.city,
            province_code: i.province_code,
            country_code: i.country_code,
            zip: i.zip,
            phone: i.phone,
        }
    }
}

/// A new staff user.
#[derive(InputObject)]
pub struct StaffUserCreateInput {
    /// Email; unique regardless of case.
    pub email: String,
    /// Initial password.
    pub password: String,
    /// Display name.
    pub name: Option<String>,
    /// Role.
    pub role: StaffRole,
}

/// A new partner API token.
#[derive(InputObject)]
pub struct ApiTokenCreateInput {
    /// What the token is for, e.g. "ERP sync".
    pub name: String,
    /// Scopes such as `catalog:read` or `inventory:write`.
    pub scopes: Vec<String>,
    /// When it stops working (default: never).
    pub expires_at: Option<DateTime<Utc>>,
    /// Rate budget: bucket size in cost points (default: the server's partner budget).
    pub rate_capacity: Option<i32>,
    /// Rate budget: points restored per second.
    pub rate_restore_per_second: Option<i32>,
}

/// Accounts: the signed-in customer, and staff views.
#[derive(Default)]
pub struct IdentityQuery;

#[Object]
impl IdentityQuery {
    /// The signed-in customer.
    #[graphql(guard = "SignedInCustomer")]
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Option<Customer>> {
        let (id, _) = ctx.customer()?;
        Ok(customer::get(&ctx.state()?.db, id).await?.map(Customer))
    }

    /// The signed-in staff user.
    #[graphql(guard = "SignedInStaff")]
    async fn staff_me(&self, ctx: &Context<'_>) -> ApiResult<Option<StaffUser>> {
        let Principal::Staff { id, .. } = ctx.principal()? else {
            return Ok(None);
        };
        Ok(staff::get(&ctx.state()?.db, *id).await?.map(StaffUser))
    }

    /// Customers, oldest first, optionally matching `query` (email or name).
    #[graphql(
        guard = "Need(Permission::CustomersRead)",
        complexity = "crate::graphql::catalog::page_cost(first, None, child_complexity)"
    )]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        query: Option<String>,
    ) -> ApiResult<Connection<OffsetCursor, Customer, EmptyFields>> {
        let window = PageArgs::forward(first, after).window(None)?;
        let (rows, total) = customer::list(
            &ctx.state()?.db,
            query.as_deref(),
            window.offset,
            window.wanted,
        )
        .await?;
        Ok(window.connection(rows, total, EmptyFields, Customer))
    }

    /// One customer by ID.
    #[graphql(guard = "Need(Permission::CustomersRead)")]
    async fn customer(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Customer>> {
        let row = id::decode_as(Kind::Customer, &id)?;
        Ok(customer::get(&ctx.state()?.db, row).await?.map(Customer))
    }

    /// Every staff user.
    #[graphql(guard = "Need(Permission::StaffManage)")]
    async fn staff_users(&self, ctx: &Context<'_>) -> ApiResult<Vec<StaffUser>> {
        Ok(staff::list(&ctx.state()?.db)
            .await?
            .into_iter()
            .map(StaffUser)
            .collect())
    }

    /// Every partner API token, newest first.
    #[graphql(guard = "Need(Permission::TokensManage)")]
    async fn api_tokens(&self, ctx: &Context<'_>) -> ApiResult<Vec<ApiToken>> {
        Ok(api_token::list(&ctx.state()?.db)
            .await?
            .into_iter()
            .map(ApiToken)
            .collect())
    }
}

/// Account mutations.
#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Creates a customer account. Log in afterwards with `customerLogin`.
    /// Throttled per client address like logins.
    async fn customer_register(
        &self,
        ctx: &Context<'_>,
        input: CustomerRegisterInput,
    ) -> ApiResult<CustomerPayload> {
        LoginThrottle::admit_address(ctx).await?;
        let registration = customer::Registration {
            email: input.email,
            password: input.password,
            first_name: input.first_name,
            last_name: input.last_name,
        };
        let state = ctx.state()?;
        let result = customer::register(&state.db, &state.hashing, registration)
            .await?
            .map_err(under_input);
        Ok(CustomerPayload::from_outcome(result))
    }

    /// Logs a customer in. A wrong password and an unknown email give the
    /// same INVALID_CREDENTIALS; repeated failures are throttled per email
    /// and per client address (RATE_LIMITED).
    ///
    /// With `guestCartId`, the guest cart joins the customer's open cart
    /// (lines merged: quantities of the same variant add up, capped at 999;
    /// codes added; the customer's buyer details kept where set), or becomes
    /// theirs if they have none; `cartId` in the answer names the result.
    async fn customer_login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        guest_cart_id: Option<ID>,
    ) -> ApiResult<CustomerAuthPayload> {
        let throttle = LoginThrottle::admit(ctx, "customer", &email).await?;
        let state = ctx.state()?;
        let Some(c) = customer::authenticate(&state.db, &state.hashing, &email, &password).await?
        else {
            throttle.failed().await;
            return Ok(CustomerAuthPayload::failure(invalid_credentials()));
        };
        let tokens = start_login(state, SubjectKind::Customer, c.id, None).await?;
        let cart_id = match guest_cart_id {
            Some(guest) => Some(ID(merge_into_customer(
                &state.db,
                guest.as_str().trim(),
                c.id,
            )
            .await?)),
            None => None,
        };
        let mut payload = CustomerAuthPayload::signed_in(c, tokens);
        payload.cart_id = cart_id;
        Ok(payload)
    }

    /// Exchanges a refresh token for new tokens. Each refresh token works
    /// once: presenting a used one ends the whole login.
    async fn customer_token_refresh(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> ApiResult<CustomerAuthPayload> {
        let state = ctx.state()?;
        let issued = match rotate_login(state, SubjectKind::Customer, &refresh_token).await? {
            Ok(issued) => issued,
            Err(e) => return Ok(CustomerAuthPayload::failure(e)),
        };
        let id = issued.session.subject_id;
        let Some(c) = customer::get(&state.db, id).await? else {
            return Ok(CustomerAuthPayload::failure(refresh_refused(false)));
        };
        let tokens = sign(state, SubjectKind::Customer, id, issued, None)?;
        Ok(CustomerAuthPayload::signed_in(c, tokens))
    }

    /// Ends the current login: its access and refresh tokens stop working.
    #[graphql(guard = "SignedInCustomer")]
    async fn customer_logout(&self, ctx: &Context<'_>) -> ApiResult<UserErrorsPayload> {
        let (_, sid) = ctx.customer()?;
        session::revoke(&ctx.state()?.db, sid, RevokeReason::Logout).await?;
        Ok(UserErrorsPayload::default())
    }

    /// Changes the password; every other login of the customer ends. Wrong
    /// current passwords count as failed logins.
    #[graphql(guard = "SignedInCustomer")]
    async fn customer_password_change(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> ApiResult<UserErrorsPayload> {
        let (id, sid) = ctx.customer()?;
        let state = ctx.state()?;
        let db = &state.db;
        let Some(c) = customer::get(db, id).await? else {
            return Err(super::auth::unauthenticated());
        };
        // Checking the current password is a login: throttled the same way.
        let throttle = LoginThrottle::admit(ctx, "customer", &c.email).await?;
        let result = customer::change_password(
            db,
            &state.hashing,
            &c,
            &current_password,
            &new_password,
            sid,
        )
        .await?;
        if let Err(e) = &result
            && e.iter().any(|e| e.code == DomainCode::WrongPassword)
        {
            throttle.failed().await;
        }
        Ok(UserErrorsPayload::from_outcome(result))
    }

    /// Sends a single-use password reset token to the email if it has an
    /// account. The answer is the same whether or not it has one.
    async fn customer_password_reset_request(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> ApiResult<UserErrorsPayload> {
        let throttle = LoginThrottle::admit(ctx, "reset", &email).await?;
        // Every request spends from the email's bucket: a handful of mails, then throttled.
        throttle.failed().await;
        let state = ctx.state()?;
        if let Err(e) = customer::normalize_email(&email, &["email"]) {
            return Ok(UserErrorsPayload::failure(user_errors(vec![e])));
        }
        let ttl = Duration::minutes(
            i64::try_from(state.config.auth.password_reset_ttl_mins).unwrap_or(60),
        );
        let reset =
            customer::request_password_reset(&state.db, &email, ttl, state.clock.now()).await?;
        if let Some(reset) = reset {
            let link = state
                .config
                .auth
                .password_reset_url
                .as_ref()
                .map(|u| u.replace("{token}", &reset.token));
            let body = format!(
                "Someone asked to reset the password of your account.\n\n{}\n\nThe token works once and expires in {} minutes. If it was not you, ignore this mail.\n",
                match link {
                    Some(l) => format!("Choose a new password here: {l}"),
                    None => format!("Your reset token: {}", reset.token),
                },
                ttl.num_minutes()
            );
            let mailer = state.mailer.clone();
            // Sent in the background so the answer takes the same time either way.
            tokio::spawn(async move {
                let mail = Mail::text(reset.email, "Reset your password", body);
                if let Err(e) = mailer.send(mail).await {
                    tracing::warn!(error = %e, "password reset mail failed");
                }
            });
        }
        Ok(UserErrorsPayload::default())
    }

    /// Sets a new password with a reset token and signs the customer in.
    /// Every other login of the customer ends.
    async fn customer_password_reset(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> ApiResult<CustomerAuthPayload> {
        let state = ctx.state()?;
        let now = state.clock.now();
        match customer::reset_password(&state.db, &state.hashing, &token, &new_password, now)
            .await?
        {
            Ok(c) => {
                let tokens = start_login(state, SubjectKind::Customer, c.id, None).await?;
                Ok(CustomerAuthPayload::signed_in(c, tokens))
            }
            Err(e) => Ok(CustomerAuthPayload::failure(user_errors(e))),
        }
    }

    /// Changes the signed-in customer's profile.
    #[graphql(guard = "SignedInCustomer")]
    async fn customer_update(
        &self,
        ctx: &Context<'_>,
        input: CustomerUpdateInput,
    ) -> ApiResult<CustomerPayload> {
        let (id, _) = ctx.customer()?;
        let db = &ctx.state()?.db;
        let Some(c) = customer::get(db, id).await? else {
            return Err(super::auth::unauthenticated());
        };
        let update = customer::ProfileUpdate {
            first_name: input.first_name,
            last_name: input.last_name,
            phone: input.phone,
        };
        let result = customer::update_profile(db, c, update)
            .await?
            .map_err(under_input);
        Ok(CustomerPayload::from_outcome(result))
    }

    /// Adds an address to the signed-in customer's address book.
    #[graphql(guard = "SignedInCustomer")]
    async fn customer_address_create(
        &self,
        ctx: &Context<'_>,
        address: MailingAddressInput,
        #[graphql(desc = "Make it the default address (the first address always is).")]
        set_default: Option<bool>,
    ) -> ApiResult<CustomerAddressPayload> {
        let (id, _) = ctx.customer()?;
        let make_default = set_default.unwrap_or(false);
        let result =
            customer::create_address(&ctx.state()?.db, id, address.into(), make_default).await?;
        Ok(CustomerAddressPayload::from_outcome(result))
    }

    /// Changes one of the signed-in customer's addresses.
    #[graphql(guard = "SignedInCustomer")]
    async fn customer_address_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        address: MailingAddressInput,
    ) -> ApiResult<CustomerAddressPayload> {
        let (customer_id, _) = ctx.customer()?;
        let row = id::decode_as(Kind::MailingAddress, &id)?;
        let result =
            customer::update_address(&ctx.state()?.db, customer_id, row, address.into()).await?;
        Ok(CustomerAddressPayload::from_outcome(result))
    }

    /// Deletes one of the signed-in customer's addresses.
    #[graphql(guard = "SignedInCustomer")]
    async fn customer_address_delete(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> ApiResult<CustomerAddressDeletePayload> {
        let (customer_id, _) = ctx.customer()?;
        let row = id::decode_as(Kind::MailingAddress, &id)?;
        let result = customer::delete_address(&ctx.state()?.db, customer_id, row).await?;
        Ok(CustomerAddressDeletePayload::from_outcome(
            result.map(|_| id),
        ))
    }

    /// Makes one of the signed-in customer's addresses the default.
    #[graphql(guard = "SignedInCustomer")]
    async fn customer_default_address_update(
        &self,
        ctx: &Context<'_>,
        address_id: ID,
    ) -> ApiResult<CustomerPayload> {
        let (customer_id, _) = ctx.customer()?;
        let row = id::decode_as(Kind::MailingAddress, &address_id)?;
        let db = &ctx.state()?.db;
        if let Err(e) = customer::set_default_address(db, customer_id, row).await? {
            return Ok(CustomerPayload::failure(user_errors(e)));
        }
        Ok(CustomerPayload {
            customer: customer::get(db, customer_id).await?.map(Customer),
            user_errors: vec![],
        })
    }

    /// Logs a staff user in; the access token carries the role's permissions.
    async fn staff_login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> ApiResult<StaffAuthPayload> {
        let throttle = LoginThrottle::admit(ctx, "staff", &email).await?;
        let state = ctx.state()?;
        let Some(user) = staff::authenticate(&state.db, &state.hashing, &email, &password).await?
        else {
            throttle.failed().await;
            return Ok(StaffAuthPayload::failure(invalid_credentials()));
        };
        let role = staff::role_of(&user)?;
        let tokens = start_login(state, SubjectKind::Staff, user.id, Some(role)).await?;
        Ok(StaffAuthPayload::signed_in(user, tokens))
    }

    /// Exchanges a staff refresh token for new tokens (single use, like
    /// customers'); the new access token carries the current role.
    async fn staff_token_refresh(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> ApiResult<StaffAuthPayload> {
        let state = ctx.state()?;
        let issued = match rotate_login(state, SubjectKind::Staff, &refresh_token).await? {
            Ok(issued) => issued,
            Err(e) => return Ok(StaffAuthPayload::failure(e)),
        };
        let id = issued.session.subject_id;
        let Some(user) = staff::get(&state.db, id).await?.filter(|u| u.active) else {
            return Ok(StaffAuthPayload::failure(refresh_refused(false)));
        };
        let role = staff::role_of(&user)?;
        let tokens = sign(state, SubjectKind::Staff, id, issued, Some(role))?;
        Ok(StaffAuthPayload::signed_in(user, tokens))
    }

    /// Ends the current staff login.
    #[graphql(guard = "SignedInStaff")]
    async fn staff_logout(&self, ctx: &Context<'_>) -> ApiResult<UserErrorsPayload> {
        if let Principal::Staff { session: sid, .. } = ctx.principal()? {
            session::revoke(&ctx.state()?.db, sid, RevokeReason::Logout).await?;
        }
        Ok(UserErrorsPayload::default())
    }

    /// Creates a staff user.
    #[graphql(guard = "Need(Permission::StaffManage)")]
    async fn staff_user_create(
        &self,
        ctx: &Context<'_>,
        input: StaffUserCreateInput,
    ) -> ApiResult<StaffUserPayload> {
        let new = staff::NewStaff {
            email: input.email,
            name: input.name,
            password: input.password,
            role: input.role.into(),
        };
        let state = ctx.state()?;
        let result = staff::create(&state.db, &state.hashing, new)
            .await?
            .map_err(under_input);
        Ok(StaffUserPayload::from_outcome(result))
    }

    /// Changes a staff user's role or deactivates them; either ends their
    /// logins at once. Admins cannot demote or deactivate themselves.
    #[graphql(guard = "Need(Permission::StaffManage)")]
    async fn staff_user_update(
        &self,
        ctx: &Context<'_>,
        id: ID,
        role: Option<StaffRole>,
        active: Option<bool>,
    ) -> ApiResult<StaffUserPayload> {
        let row = id::decode_as(Kind::StaffUser, &id)?;
        if let Principal::Staff { id: me, .. } = ctx.principal()?
            && *me == row
            && (active == Some(false) || role.is_some_and(|r| r != StaffRole::Admin))
        {
            let e = DomainUserError::new(
                &["id"],
                DomainCode::Invalid,
                "you cannot demote or deactivate yourself",
            );
            return Ok(StaffUserPayload::failure(user_errors(vec![e])));
        }
        let result = staff::update(&ctx.state()?.db, row, role.map(Into::into), active).await?;
        Ok(StaffUserPayload::from_outcome(result))
    }

    /// Creates a partner API token. The secret is in the answer, once.
    #[graphql(guard = "Need(Permission::TokensManage)")]
    async fn api_token_create(
        &self,
        ctx: &Context<'_>,
        input: ApiTokenCreateInput,
    ) -> ApiResult<ApiTokenCreatePayload> {
        let created_by = match ctx.principal()? {
            Principal::Staff { id, .. } => Some(*id),
            _ => None,
        };
        let new = api_token::NewToken {
            name: input.name,
            scopes: input.scopes,
            expires_at: input.expires_at,
            rate_capacity: input.rate_capacity,
            rate_restore_per_second: input.rate_restore_per_second,
            created_by,
        };
        let result = api_token::create(&ctx.state()?.db, new)
            .await?
            .map_err(under_input);
        Ok(ApiTokenCreatePayload::from_outcome(result))
    }

    /// Revokes a partner API token; it is refused from the next request on.
    #[graphql(guard = "Need(Permission::TokensManage)")]
    async fn api_token_revoke(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ApiTokenPayload> {
        let row = id::decode_as(Kind::ApiToken, &id)?;
        let result = api_token::revoke(&ctx.state()?.db, row).await?;
        Ok(ApiTokenPayload::from_outcome(result))
    }
}
