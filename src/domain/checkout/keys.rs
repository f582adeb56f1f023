//! What checkout derives from the installation's checkout secret: the
//! idempotency keys it sends payment gateways and the digest of the
//! client's network it keeps with an order.
//!
//! - Every gateway key of a payment attempt (authorize, and the void or
//!   refund that undoes it) comes from one place, [`CheckoutKeys::attempt`]:
//!   an HMAC of the cart's row id and the attempt (the client's idempotency
//!   key, or a fresh one), so it is at most [`MAX_GATEWAY_KEY`] characters
//!   whatever the client sent, two carts never share one (two buyers with
//!   the same client key get different keys), two installations on one
//!   gateway account never collide, and nothing in it is a credential (the
//!   cart token never leaves the server).
//! - The client's address is kept only as an HMAC of its network (an IPv4
//!   address, an IPv6 /64), enough to count a client's unpaid orders and
//!   useless for anything else.

use std::{fmt, net::IpAddr, sync::Arc};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::sealing::MasterKey;
use crate::domain::{error::DomainResult, identity::secret};

/// The longest idempotency key a gateway takes (Stripe: 255).
pub const MAX_GATEWAY_KEY: usize = 255;

/// The name of the secret in `app_secret`.
const SECRET_NAME: &str = "checkout";

/// The installation's checkout secret. Cheap to clone; never shown.
#[derive(Clone)]
pub struct CheckoutKeys {
    secret: Arc<[u8]>,
}

impl fmt::Debug for CheckoutKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CheckoutKeys([redacted])")
    }
}

/// The idempotency keys of one payment attempt, one per gateway call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayKeys {
    /// For the authorization (or sale).
    pub authorize: String,
    /// For voiding it when no order can be placed.
    pub void: String,
    /// For refunding it (a sale cannot be voided).
    pub refund: String,
}

impl CheckoutKeys {
    /// Keys from `secret` (tests; servers use [`CheckoutKeys::load`]).
    pub fn new(secret: &[u8]) -> Self {
        Self {
            secret: Arc::from(secret),
        }
    }

    /// The installation's secret, generated on first use and stored sealed
    /// with `master`.
    pub async fn load(
        db: &impl sea_orm::ConnectionTrait,
        master: &MasterKey,
    ) -> DomainResult<Self> {
        Ok(Self::new(
            &secret::get_or_create(db, SECRET_NAME, master).await?,
        ))
    }

    /// The gateway keys of attempt `attempt` (the client's idempotency key,
    /// or a fresh random one) at checking out cart `cart_id` (its row id).
    pub fn attempt(&self, cart_id: i64, attempt: &str) -> GatewayKeys {
        let key = |purpose: &str| {
            format!(
                "emporium_{purpose}_{}",
                self.mac(&["gateway", purpose, &cart_id.to_string(), attempt])
            )
        };
        GatewayKeys {
            authorize: key("authorize"),
            void: key("void"),
            refund: key("refund"),
        }
    }

    /// The stored digest of the network `ip` belongs to: the address itself
    /// for IPv4 (and IPv4-mapped IPv6), its /64 for IPv6, where one client
    /// holds a whole /64.
    pub fn client_address(&self, ip: IpAddr) -> String {
        let network = match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
                }
            },
        };
        self.mac(&["client", &network])
    }

    /// HMAC-SHA-256 of `parts` (NUL-separated), lower-case hex.
    fn mac(&self, parts: &[&str]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                mac.update(&[0]);
            }
            mac.update(part.as_bytes());
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_keys_are_short_distinct_and_scoped_to_the_cart() {
        let keys = CheckoutKeys::new(b"installation-secret");
        let longest = "k".repeat(255);
        let a = keys.attempt(7, &longest);
        for key in [&a.authorize, &a.void, &a.refund] {
            assert!(key.len() <= MAX_GATEWAY_KEY, "{key}");
            assert!(key.chars().all(|c| c.is_ascii_graphic()), "{key}");
            assert!(!key.contains(&longest[..20]), "the client key shows: {key}");
        }
        assert_ne!(a.authorize, a.void);
        assert_ne!(a.void, a.refund);
        // The same attempt gets the same keys (a retry reaches the first call) ...
        assert_eq!(keys.attempt(7, &longest), a);
        // ... two carts with the same client key do not ...
        let b = keys.attempt(8, &longest);
        assert_ne!(a.authorize, b.authorize);
        assert_ne!(a.refund, b.refund);
        assert_ne!(a.void, b.void);
        // ... nor two installations.
        let elsewhere = CheckoutKeys::new(b"another-secret").attempt(7, &longest);
        assert_ne!(a.refund, elsewhere.refund);
    }

    #[test]
    fn client_addresses_are_digests_of_networks() {
        let keys = CheckoutKeys::new(b"installation-secret");
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or_else(|e| panic!("{s}: {e}"));
        let one = keys.client_address(ip("203.0.113.7"));
        assert_eq!(one.len(), 64);
        assert!(!one.contains("203"));
        assert_ne!(one, keys.client_address(ip("203.0.113.8")));
        assert_eq!(one, keys.client_address(ip("::ffff:203.0.113.7")));
        // One IPv6 client holds a /64.
        assert_eq!(
            keys.client_address(ip("2001:db8:1:2::1")),
            keys.client_address(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            keys.client_address(ip("2001:db8:1:2::1")),
            keys.client_address(ip("2001:db8:1:3::1"))
        );
    }
}
