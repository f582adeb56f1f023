//! Access tokens: short-lived JWTs (HS256) naming their subject, session and,
//! for staff, role and permissions.
//!
//! Only HS256 with this server's key is accepted: a token with another
//! algorithm (`none` included), another key, another issuer or audience, or
//! past its expiry is refused.

use chrono::{DateTime, Duration, TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use super::{permission::Role, session::SubjectKind};

const ISSUER: &str = "emporium";
const AUDIENCE: &str = "emporium";

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: always `emporium`.
    pub iss: String,
    /// Audience: always `emporium`.
    pub aud: String,
    /// Subject: `customer:<id>` or `staff:<id>`.
    pub sub: String,
    /// The session (refresh-token family) the token belongs to.
    pub sid: String,
    /// Staff role, for staff tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Permissions, for staff tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub perms: Vec<String>,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
}

impl Claims {
    /// The subject's kind and id, if `sub` is well formed.
    pub fn subject(&self) -> Option<(SubjectKind, i64)> {
        let (kind, id) = self.sub.split_once(':')?;
        let kind = match kind {
            "customer" => SubjectKind::Customer,
            "staff" => SubjectKind::Staff,
            _ => return None,
        };
        Some((kind, id.parse().ok()?))
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Past its expiry.
    Expired,
    /// Not a token of this server: malformed, wrong signature, algorithm,
    /// issuer or audience.
    Invalid,
}

/// The keys and rules of access tokens.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl JwtKeys {
    /// Keys over `secret`, issuing tokens valid for `ttl`.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// How long issued tokens live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Signs an access token for `kind`/`id` in session `sid`; staff tokens
    /// carry their role and its permissions.
    pub fn issue(
        &self,
        kind: SubjectKind,
        id: i64,
        sid: &str,
        role: Option<Role>,
    ) -> Result<(String, DateTime<Utc>), jsonwebtoken::errors::Error> {
        let now = Utc::now();
        let exp = now + self.ttl;
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: format!("{}:{id}", kind.as_str()),
            sid: sid.to_owned(),
            role: role.map(|r| r.as_str().to_owned()),
            perms: role
                .map(|r| {
                    r.permissions()
                        .names()
                        .into_iter()
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            iat: now.timestamp(),
            exp: exp.timestamp(),
        };
        let token = self.sign(&claims)?;
        Ok((
            token,
            Utc.timestamp_opt(claims.exp, 0).single().unwrap_or(exp),
        ))
    }

    /// Signs arbitrary claims (tests use it to forge expired tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Checks a token and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::new(b"0123456789abcdef0123456789abcdef", Duration::minutes(15))
    }

    #[test]
    fn issued_tokens_verify() {
        let k = keys();
        let Ok((token, _)) = k.issue(SubjectKind::Staff, 7, "sid-1", Some(Role::Support)) else {
            panic!("sign failed");
        };
        let claims = k.verify(&token).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(claims.subject(), Some((SubjectKind::Staff, 7)));
        assert_eq!(claims.role.as_deref(), Some("support"));
        assert!(claims.perms.iter().any(|p| p == "customers:read"));
    }

    #[test]
    fn forged_and_stale_tokens_are_refused() {
        let k = keys();
        let Ok((token, _)) = k.issue(SubjectKind::Customer, 1, "sid", None) else {
            panic!("sign failed");
        };
        // Another key.
        let other = JwtKeys::new(b"another-secret-another-secret-xx", Duration::minutes(15));
        assert_eq!(other.verify(&token), Err(TokenError::Invalid));
        // Tampered payload.
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims = k.verify(&token).unwrap_or_else(|e| panic!("{e:?}"));
        claims.sub = "customer:2".into();
        let forged_payload =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(k.verify(&tampered), Err(TokenError::Invalid));
        // alg: none.
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            k.verify(&format!("{none_header}.{forged_payload}.")),
            Err(TokenError::Invalid)
        );
        // Expired.
        claims.exp = Utc::now().timestamp() - 60;
        let expired = k.sign(&claims).unwrap_or_default();
        assert_eq!(k.verify(&expired), Err(TokenError::Expired));
        // Garbage.
        assert_eq!(k.verify("not.a.jwt"), Err(TokenError::Invalid));
    }
}
