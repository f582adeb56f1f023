//! What a principal may do: permissions, the staff roles that bundle them,
//! and the scopes partner tokens are granted (a scope is a permission).
//!
//! Every protected operation names one [`Permission`]; roles and scopes are
//! only ever turned into a [`PermissionSet`] here, never checked by name
//! anywhere else.

use std::{fmt, str::FromStr};

macro_rules! permissions {
    ($($(#[$doc:meta])* $variant:ident => $name:literal),+ $(,)?) => {
        /// One thing a principal may be allowed to do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission {
            $($(#[$doc])* $variant),+
        }

        impl Permission {
            /// Every permission, in declaration order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];

            /// The permission's stable name, e.g. `catalog:read`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$variant => $name),+
                }
            }
        }
    };
}

permissions! {
    /// Read the whole catalog, drafts and archived products included.
    CatalogRead => "catalog:read",
    /// Create and change products, variants, collections and media.
    CatalogWrite => "catalog:write",
    /// Set prices and price lists.
    PricesWrite => "prices:write",
    /// Manage promotions and discount codes.
    PromotionsWrite => "promotions:write",
    /// Read stock levels per location.
    InventoryRead => "inventory:read",
    /// Change stock levels.
    InventoryWrite => "inventory:write",
    /// Read every order.
    OrdersRead => "orders:read",
    /// Change orders: cancel, refund, edit.
    OrdersWrite => "orders:write",
    /// Fulfill orders.
    OrdersFulfill => "orders:fulfill",
    /// Read customers and their addresses.
    CustomersRead => "customers:read",
    /// Change customers.
    CustomersWrite => "customers:write",
    /// Read returns.
    ReturnsRead => "returns:read",
    /// Handle returns.
    ReturnsWrite => "returns:write",
    /// Manage webhook subscriptions.
    WebhooksWrite => "webhooks:write",
    /// Read the audit trail and verify its chain. Staff only: never a partner scope.
    AuditRead => "audit:read",
    /// Manage staff users. Staff only: never a partner scope.
    StaffManage => "staff:manage",
    /// Manage partner API tokens. Staff only: never a partner scope.
    TokensManage => "tokens:manage",
    /// Issue gift cards and adjust customers' store credit.
    GiftCardsWrite => "giftcards:write",
    /// Read shop settings: shipping zones and methods, tax rates and
    /// classes, configuration warnings.
    SettingsRead => "settings:read",
    /// Change shop settings: shipping zones and methods, tax rates,
    /// customer notification templates.
    SettingsWrite => "settings:write",
}

impl Permission {
    /// Whether a partner token may be granted this permission as a scope.
    /// Tokens cannot manage staff or mint other tokens.
    pub fn is_scope(self) -> bool {
        !matches!(
            self,
            Self::AuditRead | Self::StaffManage | Self::TokensManage
        )
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown permission `{s}`"))
    }
}

/// A set of permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PermissionSet(u32);

impl PermissionSet {
    /// No permissions.
    pub const EMPTY: Self = Self(0);

    /// Every permission.
    pub fn all() -> Self {
        Permission::ALL.iter().copied().collect()
    }

    /// Whether `p` is in the set.
    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    /// The permissions in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }

    /// The names of the permissions, in declaration order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Permission::as_str).collect()
    }

    /// Parses space- or comma-separated permission names.
    pub fn parse_list(s: &str) -> Result<Self, String> {
        s.split([' ', ','])
            .filter(|p| !p.trim().is_empty())
            .map(str::parse::<Permission>)
            .collect()
    }

    /// The names joined by spaces, as stored.
    pub fn to_list(self) -> String {
        self.names().join(" ")
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Self(iter.into_iter().fold(0, |acc, p| acc | p.bit()))
    }
}

/// A staff role: a named, fixed set of permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, and the only role that changes shop settings
    /// (shipping and tax: a wrong tax rate overcharges every buyer).
    Admin,
    /// Catalog, prices, promotions and inventory; reads shop settings.
    Merchandiser,
    /// Customers, orders and returns; reads shop settings (to explain a
    /// shipping price or a tax).
    Support,
    /// Reading and fulfilling orders, and inventory; reads shop settings.
    Fulfillment,
}

impl Role {
    /// Every role.
    pub const ALL: &'static [Role] = &[
        Role::Admin,
        Role::Merchandiser,
        Role::Support,
        Role::Fulfillment,
    ];

    /// The role's stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Merchandiser => "merchandiser",
            Self::Support => "support",
            Self::Fulfillment => "fulfillment",
        }
    }

    /// What the role may do.
    pub fn permissions(self) -> PermissionSet {
        use Permission::*;
        match self {
            Self::Admin => PermissionSet::all(),
            Self::Merchandiser => [
                CatalogRead,
                CatalogWrite,
                PricesWrite,
                PromotionsWrite,
                InventoryRead,
                InventoryWrite,
                SettingsRead,
            ]
            .into_iter()
            .collect(),
            Self::Support => [
                CatalogRead,
                OrdersRead,
                OrdersWrite,
                CustomersRead,
                CustomersWrite,
                ReturnsRead,
                ReturnsWrite,
                GiftCardsWrite,
                SettingsRead,
            ]
            .into_iter()
            .collect(),
            Self::Fulfillment => [
                CatalogRead,
                OrdersRead,
                OrdersFulfill,
                InventoryRead,
                InventoryWrite,
                SettingsRead,
            ]
            .into_iter()
            .collect(),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role `{s}`; expected admin, merchandiser, support or fulfillment")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(*p));
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(*r));
        }
        let set = PermissionSet::parse_list("catalog:read, inventory:write").unwrap_or_default();
        assert_eq!(set.to_list(), "catalog:read inventory:write");
        assert!(PermissionSet::parse_list("catalog:read nope").is_err());
    }

    #[test]
    fn roles_are_the_documented_sets() {
        assert_eq!(Role::Admin.permissions(), PermissionSet::all());
        let m = Role::Merchandiser.permissions();
        assert!(m.contains(Permission::CatalogWrite) && m.contains(Permission::InventoryWrite));
        assert!(!m.contains(Permission::OrdersRead) && !m.contains(Permission::CustomersRead));
        let s = Role::Support.permissions();
        assert!(s.contains(Permission::CustomersRead) && s.contains(Permission::ReturnsWrite));
        assert!(!s.contains(Permission::CatalogWrite) && !s.contains(Permission::InventoryWrite));
        let f = Role::Fulfillment.permissions();
        assert!(f.contains(Permission::OrdersFulfill) && f.contains(Permission::InventoryWrite));
        assert!(!f.contains(Permission::OrdersWrite) && !f.contains(Permission::CustomersRead));
        for r in [Role::Merchandiser, Role::Support, Role::Fulfillment] {
            assert!(!r.permissions().contains(Permission::StaffManage));
            assert!(!r.permissions().contains(Permission::TokensManage));
            assert!(r.permissions().contains(Permission::SettingsRead));
            assert!(!r.permissions().contains(Permission::SettingsWrite));
        }
        assert!(Permission::SettingsWrite.is_scope());
    }
}
