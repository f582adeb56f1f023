//! Passwords: the policy a new password must meet, and argon2id hashing.
//!
//! Hashing and verifying are CPU-heavy on purpose, so they run on the
//! blocking pool, never on the async workers. Verifying against an unknown
//! account still runs one verification (against a fixed decoy hash), so the
//! time taken does not tell whether an email is registered.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};

use crate::domain::error::{DomainError, DomainResult, UserError, UserErrorCode};

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 8;
/// Longest password accepted (hashing cost grows with length).
pub const MAX_LENGTH: usize = 128;

/// Passwords so common that a length rule alone would let them through.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "12345678",
    "123456789",
    "1234567890",
    "qwertyuiop",
    "qwerty123",
    "11111111",
    "00000000",
    "iloveyou",
    "abc12345",
    "letmein1",
    "welcome1",
    "admin123",
    "changeme",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "trustno1",
    "passw0rd",
    "superman",
    "starwars",
];

/// Checks a new password against the policy; `field` is where it was given.
pub fn check_policy(password: &str, email: &str, field: &[&str]) -> Result<(), UserError> {
    let len = password.chars().count();
    if len < MIN_LENGTH {
        return Err(UserError::new(
            field,
            UserErrorCode::TooShort,
            format!("the password must have at least {MIN_LENGTH} characters"),
        ));
    }
    if len > MAX_LENGTH {
        return Err(UserError::new(
            field,
            UserErrorCode::TooLong,
            format!("the password must have at most {MAX_LENGTH} characters"),
        ));
    }
    let lower = password.to_lowercase();
    let mut chars = password.chars();
    let first = chars.next();
    let one_char = chars.all(|c| Some(c) == first);
    let local_part = email.split('@').next().unwrap_or("");
    if one_char
        || COMMON.contains(&lower.as_str())
        || lower == email.to_lowercase()
        || (local_part.len() >= 4 && lower.contains(&local_part.to_lowercase()))
    {
        return Err(UserError::new(
            field,
            UserErrorCode::PasswordTooWeak,
            "the password is too easy to guess; use a longer phrase",
        ));
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    // argon2id, version 0x13, the crate's defaults (19 MiB, 2 passes, 1 lane).
    Argon2::default()
}

/// Hashes `password` (argon2id, random salt) into a PHC string.
pub async fn hash(password: &str) -> DomainResult<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| DomainError::Inconsistent(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| DomainError::Inconsistent(format!("password hashing task failed: {e}")))?
}

/// A fixed hash of a random password, verified against when there is no
/// account, so unknown emails cost the same time as wrong passwords.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$qY7uN3Gq4y8oK0v9Z5zq1mB1oQ0mD2m8l3sFQx0bXqk";

/// Whether `password` matches `stored` (a PHC string); with no stored hash,
/// spends the same effort and answers false.
pub async fn verify(password: &str, stored: Option<&str>) -> DomainResult<bool> {
    let password = password.to_owned();
    let real = stored.is_some();
    let stored = stored.unwrap_or(DECOY).to_owned();
    tokio::task::spawn_blocking(move || {
        let ok = match PasswordHash::new(&stored) {
            Ok(parsed) => hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        };
        ok && real
    })
    .await
    .map_err(|e| DomainError::Inconsistent(format!("password check task failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        let f = &["password"];
        let code = |p: &str| check_policy(p, "ada@example.com", f).err().map(|e| e.code);
        assert_eq!(code("short"), Some(UserErrorCode::TooShort));
        assert_eq!(code(&"x".repeat(129)), Some(UserErrorCode::TooLong));
        assert_eq!(code("aaaaaaaaaa"), Some(UserErrorCode::PasswordTooWeak));
        assert_eq!(code("Password123"), Some(UserErrorCode::PasswordTooWeak));
        assert_eq!(
            code("ada@example.com"),
            Some(UserErrorCode::PasswordTooWeak)
        );
        assert_eq!(code("correct horse battery"), None);
    }

    #[tokio::test]
    async fn hashes_verify_and_decoys_never_match() -> DomainResult<()> {
        let h = hash("correct horse battery").await?;
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", Some(&h)).await?);
        assert!(!verify("wrong horse battery", Some(&h)).await?);
        assert!(!verify("anything", None).await?);
        assert!(
            PasswordHash::new(DECOY).is_ok(),
            "the decoy must parse to cost a full check"
        );
        Ok(())
    }
}
