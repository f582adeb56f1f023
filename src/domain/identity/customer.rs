//! Customer accounts: registration, credentials, profile, address book and
//! password resets.

use crate::domain::tx::begin_write;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use entity::{customer, customer_address, password_reset};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use super::{
    password::{self, Hashing},
    secret,
    session::{self, RevokeReason, SubjectKind},
};
use crate::domain::error::{
    Checked, DomainResult, Outcome, UserError, UserErrorCode, is_unique_violation,
};

/// Longest email accepted (RFC 5321 path limit).
pub const MAX_EMAIL: usize = 320;
/// Most addresses one customer may keep.
pub const MAX_ADDRESSES: u64 = 50;
/// Longest free-text field (names, address lines).
const MAX_TEXT: usize = 255;

/// Trims and lower-cases an email, or says why it is not one.
pub fn normalize_email(raw: &str, field: &[&str]) -> Result<String, UserError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(UserError::new(
            field,
            UserErrorCode::Blank,
            "the email is required",
        ));
    }
    if email.len() > MAX_EMAIL {
        return Err(UserError::new(
            field,
            UserErrorCode::TooLong,
            "the email is too long",
        ));
    }
    let valid = lettre::Address::from_str(&email)
        .is_ok_and(|a| a.domain().contains('.') && !a.domain().ends_with('.'));
    if !valid {
        return Err(UserError::new(
            field,
            UserErrorCode::Invalid,
            "the email is not a valid address",
        ));
    }
    Ok(email)
}

fn clean(value: Option<String>, field: &[&str], errors: &mut Vec<UserError>) -> Option<String> {
    let v = value
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())?;
    if v.chars().count() > MAX_TEXT {
        errors.push(UserError::new(
            field,
            UserErrorCode::TooLong,
            format!("at most {MAX_TEXT} characters"),
        ));
    }
    Some(v)
}

/// Checks the email and password of a new account (given as `input.email`
/// and `input.password`): the normalized email if it is valid, and every
/// mistake found.
pub fn check_credentials(email: &str, password: &str) -> (Option<String>, Vec<UserError>) {
    let mut errors = Vec::new();
    let email = normalize_email(email, &["email"])
        .map_err(|e| errors.push(e))
        .ok();
    if let Err(e) = password::check_policy(password, email.as_deref().unwrap_or(""), &["password"])
    {
        errors.push(e);
    }
    (email, errors)
}

/// What a new customer gives.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// Email (any case; stored lower-cased).
    pub email: String,
    /// Password, checked against the policy.
    pub password: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
}

/// Creates an account; every mistake in the input is reported. A taken
/// email is answered after the same work as a new account (the password is
/// hashed either way), so timing does not tell which emails have accounts.
pub async fn register(
    db: &impl ConnectionTrait,
    hashing: &Hashing,
    input: Registration,
) -> Outcome<customer::Model> {
    let (email, mut errors) = check_credentials(&input.email, &input.password);
    let first_name = clean(input.first_name, &["firstName"], &mut errors);
    let last_name = clean(input.last_name, &["lastName"], &mut errors);
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return Ok(Err(errors));
    };
    let taken = || {
        vec![UserError::new(
            &["email"],
            UserErrorCode::Taken,
            "an account with this email already exists",
        )]
    };
    let exists = find_by_email(db, &email).await?.is_some();
    let hash = hashing.hash(&input.password).await?;
    if exists {
        return Ok(Err(taken()));
    }
    let now = Utc::now();
    let row = customer::ActiveModel {
        email: Set(email),
        first_name: Set(first_name),
        last_name: Set(last_name),
        phone: Set(None),
        password_hash: Set(hash),
        customer_group_id: Set(None),
        default_address_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    match row.insert(db).await {
        Ok(m) => Ok(Ok(m)),
        // Two registrations racing for one email: the unique index decides.
        Err(e) if is_unique_violation(&e) => Ok(Err(taken())),
        Err(e) => Err(e.into()),
    }
}

/// The customer with this (normalized) email.
pub async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> DomainResult<Option<customer::Model>> {
    Ok(customer::Entity::find()
        .filter(customer::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?)
}

/// The customer with this id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> DomainResult<Option<customer::Model>> {
    Ok(customer::Entity::find_by_id(id).one(db).await?)
}

/// The customer whose email and password match; `None` for an unknown email
/// and a wrong password alike, after the same amount of work.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    hashing: &Hashing,
    email: &str,
    password: &str,
) -> DomainResult<Option<customer::Model>> {
    let found = find_by_email(db, email).await?;
    let ok = hashing
        .verify(password, found.as_ref().map(|c| c.password_hash.as_str()))
        .await?;
    Ok(found.filter(|_| ok))
}

/// Profile fields a customer may change (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

/// Updates a customer's profile.
pub async fn update_profile(
    db: &impl ConnectionTrait,
    customer: customer::Model,
    input: ProfileUpdate,
) -> Outcome<customer::Model> {
    let mut errors = Vec::new();
    let mut row: customer::ActiveModel = customer.into();
    if input.first_name.is_some() {
        row.first_name = Set(clean(input.first_name, &["firstName"], &mut errors));
    }
    if input.last_name.is_some() {
        row.last_name = Set(clean(input.last_name, &["lastName"], &mut errors));
    }
    if let Some(phone) = input.phone {
        let phone = phone.trim().to_owned();
        if !phone.is_empty() && !valid_phone(&phone) {
            errors.push(UserError::new(
                &["phone"],
                UserErrorCode::Invalid,
                "a phone number has 4 to 20 digits, optionally after a +",
            ));
        }
        row.phone = Set(Some(phone).filter(|p| !p.is_empty()));
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    row.updated_at = Set(Utc::now());
    Ok(Ok(row.update(db).await?))
}

fn valid_phone(p: &str) -> bool {
    let digits = p.strip_prefix('+').unwrap_or(p);
    let count = digits.chars().filter(char::is_ascii_digit).count();
    (4..=20).contains(&count)
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.'))
}

/// A postal address as given by a client (absent: unchanged on update).
#[derive(Debug, Clone, Default)]
pub struct AddressInput {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// First address line (required).
    pub address1: Option<String>,
    /// Second address line.
    pub address2: Option<String>,
    /// City (required).
    pub city: Option<String>,
    /// Region or province code.
    pub province_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code (required).
    pub country_code: Option<String>,
    /// Postal code.
    pub zip: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

/// A trimmed, upper-cased code (region, postal code) of at most `max` characters.
fn short_code(
    value: Option<String>,
    max: usize,
    field: &[&str],
    errors: &mut Vec<UserError>,
) -> Option<String> {
    let code = value.map(|c| c.trim().to_ascii_uppercase());
    if code.as_ref().is_some_and(|c| c.len() > max) {
        errors.push(UserError::new(
            field,
            UserErrorCode::TooLong,
            format!("at most {max} characters"),
        ));
    }
    code.filter(|c| !c.is_empty())
}

/// Applies `input` over `row` and validates the result.
fn apply_address(
    row: &mut customer_address::ActiveModel,
    input: AddressInput,
    creating: bool,
) -> Vec<UserError> {
    let mut errors = Vec::new();
    let f = |name: &'static str| ["address", name];
    macro_rules! optional {
        ($field:ident, $name:literal) => {
            if creating || input.$field.is_some() {
                row.$field = Set(clean(input.$field, &f($name), &mut errors));
            }
        };
    }
    optional!(first_name, "firstName");
    optional!(last_name, "lastName");
    optional!(company, "company");
    optional!(address2, "address2");
    macro_rules! required {
        ($field:ident, $name:literal) => {
            if creating || input.$field.is_some() {
                match clean(input.$field, &f($name), &mut errors) {
                    Some(v) => row.$field = Set(v),
                    None => errors.push(UserError::new(
                        &f($name),
                        UserErrorCode::Blank,
                        concat!("`", $name, "` is required"),
                    )),
                }
            }
        };
    }
    required!(address1, "address1");
    required!(city, "city");
    if creating || input.country_code.is_some() {
        let code = input
            .country_code
            .map(|c| c.trim().to_ascii_uppercase())
            .unwrap_or_default();
        if code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase()) {
            row.country_code = Set(code);
        } else {
            errors.push(UserError::new(
                &f("countryCode"),
                UserErrorCode::Invalid,
                "the country is a two-letter ISO 3166-1 code, e.g. US",
            ));
        }
    }
    if creating || input.province_code.is_some() {
        row.province_code = Set(short_code(
            input.province_code,
            16,
            &f("provinceCode"),
            &mut errors,
        ));
    }
    if creating || input.zip.is_some() {
        row.zip = Set(short_code(input.zip, 32, &f("zip"), &mut errors));
    }
    if creating || input.phone.is_some() {
        let phone = input
            .phone
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty());
        if phone.as_deref().is_some_and(|p| !valid_phone(p)) {
            errors.push(UserError::new(
                &f("phone"),
                UserErrorCode::Invalid,
                "a phone number has 4 to 20 digits, optionally after a +",
            ));
        }
        row.phone = Set(phone);
    }
    errors
}

/// A validated postal address as carts and orders keep it (JSON in a
/// column): the same rules as an address-book entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// First address line.
    pub address1: String,
    /// Second address line.
    pub address2: Option<String>,
    /// City.
    pub city: String,
    /// Region or province code.
    pub province_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: String,
    /// Postal code.
    pub zip: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

impl From<customer_address::Model> for Address {
    fn from(a: customer_address::Model) -> Self {
        Self {
            first_name: a.first_name,
            last_name: a.last_name,
            company: a.company,
            address1: a.address1,
            address2: a.address2,
            city: a.city,
            province_code: a.province_code,
            country_code: a.country_code,
            zip: a.zip,
            phone: a.phone,
        }
    }
}

/// Validates a complete address (errors name fields under `address`).
pub fn validate_address(input: AddressInput) -> Checked<Address> {
    let mut row = <customer_address::ActiveModel as Default>::default();
    let errors = apply_address(&mut row, input, true);
    if !errors.is_empty() {
        return Err(errors);
    }
    let take = |v: sea_orm::ActiveValue<Option<String>>| v.try_as_ref().cloned().flatten();
    let take_req = |v: sea_orm::ActiveValue<String>| v.try_as_ref().cloned().unwrap_or_default();
    Ok(Address {
        first_name: take(row.first_name),
        last_name: take(row.last_name),
        company: take(row.company),
        address1: take_req(row.address1),
        address2: take(row.address2),
        city: take_req(row.city),
        province_code: take(row.province_code),
        country_code: take_req(row.country_code),
        zip: take(row.zip),
        phone: take(row.phone),
    })
}

fn address_not_found() -> Vec<UserError> {
    vec![UserError::new(
        &["id"],
        UserErrorCode::NotFound,
        "no such address",
    )]
}

/// The customer's addresses, oldest first.
pub async fn addresses(
    db: &impl ConnectionTrait,
    customer_id: i64,
) -> DomainResult<Vec<customer_address::Model>> {
    Ok(customer_address::Entity::find()
        .filter(customer_address::Column::CustomerId.eq(customer_id))
        .order_by_asc(customer_address::Column::Id)
        .all(db)
        .await?)
}

/// One of the customer's own addresses (another customer's is `None`).
pub async fn address(
    db: &impl ConnectionTrait,
    customer_id: i64,
    address_id: i64,
) -> DomainResult<Option<customer_address::Model>> {
    Ok(customer_address::Entity::find_by_id(address_id)
        .filter(customer_address::Column::CustomerId.eq(customer_id))
        .one(db)
        .await?)
}

/// Any customer's address (for staff with `customers:read`).
pub async fn address_by_id(
    db: &impl ConnectionTrait,
    address_id: i64,
) -> DomainResult<Option<customer_address::Model>> {
    Ok(customer_address::Entity::find_by_id(address_id)
        .one(db)
        .await?)
}

/// Adds an address; the first one, or one added with `make_default`,
/// becomes the default.
pub async fn create_address(
    db: &DatabaseConnection,
    customer_id: i64,
    input: AddressInput,
    make_default: bool,
) -> Outcome<customer_address::Model> {
    let now = Utc::now();
    let mut row = customer_address::ActiveModel {
        customer_id: Set(customer_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    let errors = apply_address(&mut row, input, true);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let tx = begin_write(db).await?;
    let count = customer_address::Entity::find()
        .filter(customer_address::Column::CustomerId.eq(customer_id))
        .count(&tx)
        .await?;
    if count >= MAX_ADDRESSES {
        return Ok(Err(vec![UserError::new(
            &["address"],
            UserErrorCode::Invalid,
            format!("a customer keeps at most {MAX_ADDRESSES} addresses"),
        )]));
    }
    let created = row.insert(&tx).await?;
    if make_default || count == 0 {
        set_default_in(&tx, customer_id, created.id).await?;
    }
    tx.commit().await?;
    Ok(Ok(created))
}

/// Changes one of the customer's own addresses.
pub async fn update_address(
    db: &impl ConnectionTrait,
    customer_id: i64,
    address_id: i64,
    input: AddressInput,
) -> Outcome<customer_address::Model> {
    let Some(existing) = address(db, customer_id, address_id).await? else {
        return Ok(Err(address_not_found()));
    };
    let mut row: customer_address::ActiveModel = existing.into();
    let errors = apply_address(&mut row, input, false);
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    row.updated_at = Set(Utc::now());
    Ok(Ok(row.update(db).await?))
}

/// Deletes one of the customer's own addresses (clearing the default if it was).
pub async fn delete_address(
    db: &DatabaseConnection,
    customer_id: i64,
    address_id: i64,
) -> Outcome<i64> {
    let tx = begin_write(db).await?;
    let deleted = customer_address::Entity::delete_many()
        .filter(customer_address::Column::Id.eq(address_id))
        .filter(customer_address::Column::CustomerId.eq(customer_id))
        .exec(&tx)
        .await?;
    if deleted.rows_affected == 0 {
        return Ok(Err(address_not_found()));
    }
    customer::Entity::update_many()
        .col_expr(
            customer::Column::DefaultAddressId,
            Expr::value(Option::<i64>::None),
        )
        .filter(customer::Column::Id.eq(customer_id))
        .filter(customer::Column::DefaultAddressId.eq(address_id))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(Ok(address_id))
}

async fn set_default_in(
    db: &impl ConnectionTrait,
    customer_id: i64,
    address_id: i64,
) -> DomainResult<()> {
    customer::Entity::update_many()
        .col_expr(customer::Column::DefaultAddressId, Expr::value(address_id))
        .col_expr(customer::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(customer::Column::Id.eq(customer_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Makes one of the customer's own addresses the default.
pub async fn set_default_address(
    db: &impl ConnectionTrait,
    customer_id: i64,
    address_id: i64,
) -> Outcome<()> {
    if address(db, customer_id, address_id).await?.is_none() {
        return Ok(Err(vec![UserError::new(
            &["addressId"],
            UserErrorCode::NotFound,
            "no such address",
        )]));
    }
    set_default_in(db, customer_id, address_id).await?;
    Ok(Ok(()))
}

/// Changes the password after checking the current one; ends every other
/// session of the customer and uses up their outstanding reset tokens (a
/// token mailed before the change must not undo it).
pub async fn change_password(
    db: &impl ConnectionTrait,
    hashing: &Hashing,
    customer: &customer::Model,
    current: &str,
    new: &str,
    keep_session: &str,
) -> Outcome<()> {
    if !hashing
        .verify(current, Some(&customer.password_hash))
        .await?
    {
        return Ok(Err(vec![UserError::new(
            &["currentPassword"],
            UserErrorCode::WrongPassword,
            "the current password is wrong",
        )]));
    }
    if let Err(e) = password::check_policy(new, &customer.email, &["newPassword"]) {
        return Ok(Err(vec![e]));
    }
    set_password(db, hashing, customer.id, new).await?;
    use_up_reset_tokens(db, customer.id).await?;
    session::revoke_all(
        db,
        SubjectKind::Customer,
        customer.id,
        RevokeReason::Password,
        Some(keep_session),
    )
    .await?;
    Ok(Ok(()))
}

/// Marks every outstanding reset token of the customer used.
async fn use_up_reset_tokens(db: &impl ConnectionTrait, customer_id: i64) -> DomainResult<()> {
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(Utc::now()))
        .filter(password_reset::Column::CustomerId.eq(customer_id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

async fn set_password(
    db: &impl ConnectionTrait,
    hashing: &Hashing,
    customer_id: i64,
    new: &str,
) -> DomainResult<()> {
    let hash = hashing.hash(new).await?;
    customer::Entity::update_many()
        .col_expr(customer::Column::PasswordHash, Expr::value(hash))
        .col_expr(customer::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(customer::Column::Id.eq(customer_id))
        .exec(db)
        .await?;
    Ok(())
}

/// A reset token to deliver to the account's owner.
#[derive(Debug, Clone)]
pub struct ResetToken {
    /// The customer's email.
    pub email: String,
    /// The token (shown once, stored as a digest).
    pub token: String,
}

/// Issues a single-use reset token valid for `ttl` from `now` if the email
/// has an account; `None` otherwise (the caller answers the same either way).
pub async fn request_password_reset(
    db: &impl ConnectionTrait,
    email: &str,
    ttl: Duration,
    now: DateTime<Utc>,
) -> DomainResult<Option<ResetToken>> {
    let Some(customer) = find_by_email(db, email).await? else {
        return Ok(None);
    };
    let token = secret::random_token("");
    password_reset::Entity::insert(password_reset::ActiveModel {
        customer_id: Set(customer.id),
        token_hash: Set(secret::digest(&token)),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        used_at: Set(None),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(Some(ResetToken {
        email: customer.email,
        token,
    }))
}

/// Sets a new password with a reset token not expired at `now`: the token
/// is used up, every other outstanding reset token of the customer too, and
/// every session ends.
pub async fn reset_password(
    db: &impl ConnectionTrait,
    hashing: &Hashing,
    token: &str,
    new: &str,
    now: DateTime<Utc>,
) -> Outcome<customer::Model> {
    let invalid = || {
        vec![UserError::new(
            &["token"],
            UserErrorCode::TokenInvalid,
            "the reset token is invalid, used or expired",
        )]
    };
    let Some(row) = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(secret::digest(token.trim())))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
    else {
        return Ok(Err(invalid()));
    };
    let Some(customer) = get(db, row.customer_id).await? else {
        return Ok(Err(invalid()));
    };
    if let Err(e) = password::check_policy(new, &customer.email, &["newPassword"]) {
        return Ok(Err(vec![e]));
    }
    // Claim the token: of two concurrent uses exactly one proceeds.
    let claimed = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::Id.eq(row.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(Err(invalid()));
    }
    use_up_reset_tokens(db, customer.id).await?;
    set_password(db, hashing, customer.id, new).await?;
    session::revoke_all(
        db,
        SubjectKind::Customer,
        customer.id,
        RevokeReason::Password,
        None,
    )
    .await?;
    Ok(Ok(customer))
}

/// Filter and page of the staff view of customers.
pub async fn list(
    db: &impl ConnectionTrait,
    query: Option<&str>,
    offset: u64,
    limit: u64,
) -> DomainResult<(Vec<customer::Model>, u64)> {
    let mut q = customer::Entity::find();
    if let Some(text) = query.map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = format!("%{}%", text.to_lowercase().replace(['%', '_'], ""));
        q = q.filter(
            sea_orm::Condition::any()
                .add(customer::Column::Email.like(pattern.clone()))
                .add(
                    Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(
                        customer::Column::FirstName,
                    )))
                    .like(pattern.clone()),
                )
                .add(
                    Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(
                        customer::Column::LastName,
                    )))
                    .like(pattern),
                ),
        );
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(customer::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}
