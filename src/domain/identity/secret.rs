//! Random tokens, their stored digests, and secrets the server generates once.
//!
//! Tokens handed to clients (refresh, reset, API) carry 256 random bits, so a
//! plain SHA-256 digest is what is stored: nothing a database dump reveals can
//! be replayed, and lookups stay a single indexed equality. A generated
//! secret the server reads back (the development token-signing key) is
//! stored sealed with the master key ([`crate::domain::sealing`]).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use entity::app_secret;
use rand::RngCore;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::OnConflict};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::{
    error::{DomainError, DomainResult},
    sealing::{self, MasterKey},
};

/// A fresh random token of 32 bytes, URL-safe base64, after `prefix`.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a token: SHA-256, lower-case hex.
pub fn digest(token: &str) -> String {
    let hash = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in hash {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    out
}

/// Compares two secrets in time independent of where they differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// The secret named `name`: generated (32 random bytes) and stored sealed
/// with `master` on first use, then the same on every restart and every
/// node sharing the database and the master key. A value stored in clear by
/// an older version is sealed in place the first time it is read.
pub async fn get_or_create(
    db: &impl ConnectionTrait,
    name: &str,
    master: &MasterKey,
) -> DomainResult<Vec<u8>> {
    let context = format!("app_secret:{name}");
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let row = app_secret::ActiveModel {
        name: sea_orm::Set(name.to_owned()),
        value: sea_orm::Set(master.seal(&context, &bytes)),
        created_at: sea_orm::Set(Utc::now()),
    };
    // Two nodes starting together: the first insert wins, both read it back.
    app_secret::Entity::insert(row)
        .on_conflict(
            OnConflict::column(app_secret::Column::Name)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    let stored = app_secret::Entity::find_by_id(name.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| DomainError::Inconsistent(format!("secret `{name}` vanished")))?;
    if sealing::is_sealed(&stored.value) {
        return master.open(&context, &stored.value).map_err(|e| {
            DomainError::Inconsistent(format!(
                "secret `{name}`: {e}; every node needs the master key that sealed it"
            ))
        });
    }
    let clear = URL_SAFE_NO_PAD
        .decode(stored.value.as_bytes())
        .map_err(|_| DomainError::Inconsistent(format!("secret `{name}` is not base64")))?;
    app_secret::Entity::update_many()
        .col_expr(
            app_secret::Column::Value,
            sea_orm::sea_query::Expr::value(master.seal(&context, &clear)),
        )
        .filter(app_secret::Column::Name.eq(name))
        .filter(app_secret::Column::Value.eq(stored.value))
        .exec(db)
        .await?;
    Ok(clear)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_digests_stable() {
        let a = random_token("emp_");
        let b = random_token("emp_");
        assert!(a.starts_with("emp_") && a.len() == 4 + 43);
        assert_ne!(a, b);
        assert_eq!(digest("abc").len(), 64);
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(ct_eq(b"same", b"same"));
        assert!(!ct_eq(b"same", b"diff"));
        assert!(!ct_eq(b"short", b"longer"));
    }
}
