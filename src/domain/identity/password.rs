//! Passwords: the policy a new password must meet, and argon2id hashing.
//!
//! Hashing and verifying are CPU- and memory-heavy on purpose (about 19 MiB
//! each), so they run on the blocking pool, never on the async workers, and
//! at most a configured number at once ([`Hashing`]): past that, a caller
//! waits a moment for a turn and is then refused ([`DomainError::Busy`]),
//! so a burst of logins cannot exhaust memory or the blocking pool.
//! Verifying against an unknown account still runs one verification
//! (against a fixed decoy hash), so the time taken does not tell whether an
//! email is registered.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// The password hashing pool: at most `limit` hashes or checks run at once;
/// a caller waits at most `wait` for a turn, then is refused with
/// [`DomainError::Busy`] (a retryable RATE_LIMITED for clients). Cheap to
/// clone; clones share the pool.
#[derive(Debug, Clone)]
pub struct Hashing {
    permits: Arc<Semaphore>,
    wait: Duration,
    done: Arc<AtomicU64>,
}

impl Hashing {
    /// A pool of `limit` (at least one) concurrent hashes, refusing callers
    /// that waited `wait` for a turn.
    pub fn new(limit: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit.max(1))),
            wait,
            done: Arc::default(),
        }
    }

    /// How many hashes and checks this pool has run (for metrics and tests).
    pub fn runs(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    async fn turn(&self) -> DomainResult<OwnedSemaphorePermit> {
        let busy = || DomainError::Busy {
            what: "password checks",
            retry_after: self.wait.max(Duration::from_millis(100)),
        };
        if self.wait.is_zero() {
            return self.permits.clone().try_acquire_owned().map_err(|_| busy());
        }
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(busy()),
        }
    }

    /// Runs `work` on the blocking pool in a turn of this pool. The turn
    /// ends when the work does, even if the caller stopped waiting for it.
    async fn run<T: Send + 'static>(
        &self,
        what: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> DomainResult<T> {
        let permit = self.turn().await?;
        let done = self.done.clone();
        tokio::task::spawn_blocking(move || {
            let out = work();
            done.fetch_add(1, Ordering::Relaxed);
            drop(permit);
            out
        })
        .await
        .map_err(|e| DomainError::Inconsistent(format!("{what} task failed: {e}")))
    }

    /// Hashes `password` (argon2id, random salt) into a PHC string.
    pub async fn hash(&self, password: &str) -> DomainResult<String> {
        let password = password.to_owned();
        self.run("password hashing", move || {
            let salt = SaltString::generate(&mut OsRng);
            hasher()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| DomainError::Inconsistent(format!("password hashing failed: {e}")))
        })
        .await?
    }

    /// Whether `password` matches `stored` (a PHC string); with no stored
    /// hash, spends the same effort and answers false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> DomainResult<bool> {
        let password = password.to_owned();
        let real = stored.is_some();
        let stored = stored.unwrap_or(DECOY).to_owned();
        self.run("password check", move || {
            let ok = match PasswordHash::new(&stored) {
                Ok(parsed) => hasher()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
                Err(_) => false,
            };
            ok && real
        })
        .await
    }
}

/// A fixed hash of a random password, verified against when there is no
/// account, so unknown emails cost the same time as wrong passwords.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$qY7uN3Gq4y8oK0v9Z5zq1mB1oQ0mD2m8l3sFQx0bXqk";

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
        let pool = Hashing::new(2, Duration::from_secs(5));
        let h = pool.hash("correct horse battery").await?;
        assert!(h.starts_with("$argon2id$"));
        assert!(pool.verify("correct horse battery", Some(&h)).await?);
        assert!(!pool.verify("wrong horse battery", Some(&h)).await?);
        assert!(!pool.verify("anything", None).await?);
        assert_eq!(pool.runs(), 4);
        assert!(
            PasswordHash::new(DECOY).is_ok(),
            "the decoy must parse to cost a full check"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_full_pool_refuses_after_the_wait_and_serves_again_once_free() -> DomainResult<()> {
        for wait in [Duration::ZERO, Duration::from_millis(20)] {
            let pool = Hashing::new(1, wait);
            let held = pool.turn().await?;
            let refused = pool.hash("correct horse battery").await;
            assert!(
                matches!(refused, Err(DomainError::Busy { .. })),
                "{refused:?}"
            );
            assert!(matches!(
                pool.verify("x", None).await,
                Err(DomainError::Busy { .. })
            ));
            assert_eq!(pool.runs(), 0);
            drop(held);
            assert!(!pool.verify("x", None).await?);
        }
        Ok(())
    }
}
