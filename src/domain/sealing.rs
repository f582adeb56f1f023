//! Secrets the server must read back, kept encrypted at rest.
//!
//! What the server only compares (session ids, refresh, reset and API
//! tokens, gift card codes) is stored as a digest. What it must use again
//! (a webhook's signing secret, a generated token-signing key) is sealed
//! here: AES-256-GCM under a key derived (HKDF-SHA256) from the master key,
//! which never enters the database. A database read alone therefore yields
//! neither signing secrets nor a key that mints access tokens.
//!
//! A sealed value is text: `v1:` and the URL-safe base64 of a random 96-bit
//! nonce followed by the ciphertext and its tag. Each use binds its own
//! context (e.g. `webhook_subscription.secret`) as associated data, so a
//! sealed value copied into another column does not open there.

use std::fmt;

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;

/// Prefix of sealed values (and their format version).
const PREFIX: &str = "v1:";
/// Bytes of an AES-GCM nonce.
const NONCE: usize = 12;
/// Shortest master key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;
/// What the data-encryption key is derived for (HKDF `info`).
const INFO: &[u8] = b"emporium sealed secrets v1";

/// Why a master key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Fewer than [`MIN_KEY_BYTES`] bytes.
    #[error("the master key must have at least {MIN_KEY_BYTES} bytes")]
    TooShort,
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the value does not open with this master key (another key sealed it, or it was altered)")]
pub struct Unopenable;

/// The key that seals and opens stored secrets.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Aes256Gcm,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// The key derived from `material` (the `EMPORIUM_SECRET_KEY` text, or a
    /// key file's content): at least [`MIN_KEY_BYTES`] bytes.
    pub fn from_material(material: &[u8]) -> Result<Self, KeyError> {
        if material.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort);
        }
        let mut key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's output limit: expand never fails here.
        let _ = Hkdf::<Sha256>::new(None, material).expand(INFO, &mut key);
        Ok(Self {
            cipher: Aes256Gcm::new(&key.into()),
        })
    }

    /// Fresh key material for a key file: 32 random bytes, base64.
    pub fn generate_material() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Seals `plaintext` for `context` (the place it is stored).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        // Encryption into a Vec fails only past AES-GCM's 64 GiB message limit.
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a value sealed for `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, Unopenable> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .ok_or(Unopenable)?;
        let (nonce, ciphertext) = bytes.split_at_checked(NONCE).ok_or(Unopenable)?;
        let nonce: [u8; NONCE] = nonce.try_into().map_err(|_| Unopenable)?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Unopenable)
    }

    /// Opens a sealed text value.
    pub fn open_str(&self, context: &str, sealed: &str) -> Result<String, Unopenable> {
        String::from_utf8(self.open(context, sealed)?).map_err(|_| Unopenable)
    }
}

/// Whether a stored value is sealed (values stored in clear by older
/// versions are not, until they are sealed at start).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(material: &str) -> MasterKey {
        MasterKey::from_material(material.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn sealed_values_open_only_with_the_key_and_context_they_were_sealed_for() {
        let k = key("0123456789abcdef0123456789abcdef");
        let sealed = k.seal("webhook_subscription.secret", b"whsec_abc");
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(
            k.open_str("webhook_subscription.secret", &sealed)
                .as_deref(),
            Ok("whsec_abc")
        );
        // Fresh nonce each time.
        assert_ne!(sealed, k.seal("webhook_subscription.secret", b"whsec_abc"));
        // Another context, another key, an altered value: refused.
        assert_eq!(k.open("app_secret:jwt", &sealed), Err(Unopenable));
        let other = key("another key of at least 32 bytes!!");
        assert_eq!(
            other.open("webhook_subscription.secret", &sealed),
            Err(Unopenable)
        );
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap_or_default();
        assert_eq!(
            k.open("webhook_subscription.secret", &altered),
            Err(Unopenable)
        );
        assert_eq!(k.open("x", "whsec_plain"), Err(Unopenable));
        assert_eq!(k.open("x", "v1:"), Err(Unopenable));
    }

    #[test]
    fn short_keys_are_refused_and_keys_never_print() {
        assert_eq!(
            MasterKey::from_material(b"short").err(),
            Some(KeyError::TooShort)
        );
        let material = MasterKey::generate_material();
        assert!(material.len() >= MIN_KEY_BYTES);
        assert_eq!(format!("{:?}", key(&material)), "MasterKey([redacted])");
    }
}
