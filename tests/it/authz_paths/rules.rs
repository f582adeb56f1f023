//! What crossing each field into protected data needs, and what each
//! staff role grants, written out by hand.

use emporium::domain::identity::permission::{Permission, Permission::*, Role};

/// What crossing one field needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Rule {
    /// Anyone.
    Public,
    /// The permission (a staff role's or a partner token's scope).
    Perm(Permission),
    /// A signed-in customer; what follows is their own data.
    SignedInCustomer,
    /// A signed-in staff user.
    SignedInStaff,
    /// A lookup by ID of the fixture's customer A's object (or, with no
    /// owner, a staff object): the owner or holders of the permission see
    /// it, everyone else gets null as for a missing ID.
    Lookup(Option<Permission>, bool),
    /// Part of a customer's data: the customer it belongs to, or the
    /// permission; anyone else is refused.
    OwnerOr(Permission),
    /// Part of its parent object: whoever may see the parent sees it.
    Part,
    /// A mutation's result: the mutation's own entry in the root matrix
    /// decides who gets it.
    Payload,
    /// The permission, and then only what the caller created (the fixture's
    /// objects were created by the admin; other holders see none).
    Creator(Permission),
}

use Rule::*;

/// The types that hold protected data.
pub(super) const PROTECTED: &[&str] = &[
    "ApiToken",
    "AuditEntry",
    "AuditVerification",
    "AuthTokens",
    "Cart",
    "Customer",
    "CustomerGroup",
    "Fulfillment",
    "GiftCard",
    "InventoryLevel",
    "InventoryMovement",
    "MailingAddress",
    "NotificationTemplate",
    "Order",
    "OrderEvent",
    "OrderPayment",
    "PostalAddress",
    "Promotion",
    "ShippingMethod",
    "ShippingZone",
    "ShopConfigurationWarning",
    "StaffUser",
    "StockLocation",
    "TaxClass",
    "TaxRate",
    "VariantPrice",
    "WebhookDelivery",
    "WebhookSubscription",
];

/// Every field that leads to protected data, and what crossing it needs.
/// Connections count as their nodes (`customers` leads to `Customer`).
pub(super) const EDGES: &[(&str, &str, Rule)] = &[
    // Roots.
    ("Query", "me", SignedInCustomer),
    ("Query", "staffMe", SignedInStaff),
    ("Query", "customers", Perm(CustomersRead)),
    ("Query", "customer", Perm(CustomersRead)),
    ("Query", "staffUsers", Perm(StaffManage)),
    ("Query", "apiTokens", Perm(TokensManage)),
    ("Query", "auditEntries", Perm(AuditRead)),
    ("Query", "auditVerify", Perm(AuditRead)),
    ("Query", "stockLocations", Perm(CatalogRead)),
    ("Query", "customerGroups", Perm(CatalogRead)),
    ("Query", "cart", Lookup(None, true)),
    ("Query", "order", Lookup(Some(OrdersRead), true)),
    ("Query", "orders", Perm(OrdersRead)),
    ("Query", "promotions", Perm(PromotionsWrite)),
    ("Query", "webhookSubscriptions", Creator(WebhooksWrite)),
    ("Query", "webhookDeliveries", Creator(WebhooksWrite)),
    ("Query", "shippingZones", Perm(SettingsRead)),
    ("Query", "taxRates", Perm(SettingsRead)),
    ("Query", "taxClasses", Perm(SettingsRead)),
    ("Query", "shopConfigurationWarnings", Perm(SettingsRead)),
    ("Query", "notificationTemplates", Perm(SettingsRead)),
    (
        "SubscriptionRoot",
        "orderUpdated",
        Lookup(Some(OrdersRead), true),
    ),
    ("SubscriptionRoot", "ordersUpdated", Perm(OrdersRead)),
    // A customer's own data.
    ("Customer", "orders", OwnerOr(OrdersRead)),
    ("Customer", "addresses", OwnerOr(CustomersRead)),
    ("Customer", "defaultAddress", OwnerOr(CustomersRead)),
    ("Customer", "storeCredit", OwnerOr(CustomersRead)),
    // Parts of what was already reached.
    ("Order", "payments", Part),
    ("Order", "fulfillments", Part),
    ("Fulfillment", "location", Part),
    ("Order", "events", Part),
    ("Order", "shippingAddress", Part),
    ("Order", "billingAddress", Part),
    ("CartBuyerIdentity", "shippingAddress", Part),
    ("CartBuyerIdentity", "billingAddress", Part),
    ("VariantPrice", "customerGroup", Part),
    ("ShippingZone", "methods", Part),
    ("TaxClass", "rates", Part),
    // Staff-only facts of the catalog.
    ("ProductVariant", "inventoryLevels", Perm(InventoryRead)),
    ("ProductVariant", "inventoryMovements", Perm(InventoryRead)),
    ("ProductVariant", "priceList", Perm(CatalogRead)),
    // Mutation payloads.
    ("ApiTokenCreatePayload", "apiToken", Payload),
    ("ApiTokenPayload", "apiToken", Payload),
    ("CartPayload", "cart", Payload),
    ("CheckoutCompletePayload", "order", Payload),
    ("OrderCancelPayload", "order", Payload),
    ("OrderPaymentPayload", "order", Payload),
    ("RefundPayload", "order", Payload),
    ("CustomerAddressPayload", "address", Payload),
    ("CustomerAuthPayload", "customer", Payload),
    ("CustomerAuthPayload", "tokens", Payload),
    ("CustomerGroupPayload", "customerGroup", Payload),
    ("FulfillmentPayload", "fulfillment", Payload),
    ("FulfillmentPayload", "order", Payload),
    ("CustomerPayload", "customer", Payload),
    ("GiftCardCreatePayload", "giftCard", Payload),
    (
        "NotificationTemplatePayload",
        "notificationTemplate",
        Payload,
    ),
    ("OrderNoteAddPayload", "order", Payload),
    ("PromotionPayload", "promotion", Payload),
    ("StaffAuthPayload", "staffUser", Payload),
    ("StaffAuthPayload", "tokens", Payload),
    ("StaffUserPayload", "staffUser", Payload),
    ("StockLocationPayload", "stockLocation", Payload),
    ("ShippingZonePayload", "shippingZone", Payload),
    ("ShippingMethodPayload", "shippingMethod", Payload),
    ("TaxRatePayload", "taxRate", Payload),
    ("WebhookDeliveryRetryPayload", "webhookDelivery", Payload),
    (
        "WebhookSubscriptionCreatePayload",
        "webhookSubscription",
        Payload,
    ),
    (
        "WebhookSubscriptionUpdatePayload",
        "webhookSubscription",
        Payload,
    ),
];

/// What `node(id:)` / `nodes(ids:)` need for each kind of object, and the
/// fixture's ID used for it.
pub(super) const NODE_KINDS: &[(&str, Rule, &str)] = &[
    ("Product", Public, "{product}"),
    ("ProductVariant", Public, "{variant}"),
    ("Collection", Public, "{collection}"),
    ("MediaImage", Public, "{media}"),
    ("Channel", Public, "{channel}"),
    ("Customer", Lookup(Some(CustomersRead), true), "{customer}"),
    (
        "MailingAddress",
        Lookup(Some(CustomersRead), true),
        "{address}",
    ),
    ("Order", Lookup(Some(OrdersRead), true), "{order}"),
    ("StaffUser", Lookup(Some(StaffManage), false), "{staff}"),
    ("ApiToken", Lookup(Some(TokensManage), false), "{token}"),
];

/// Arguments given to fields on the generated paths: the required ones, and
/// those that make a lookup find the fixture's object.
pub(super) const ARGS: &[(&str, &str, &str)] = &[
    ("Query", "customer", "id: \"{customer}\""),
    ("Query", "cart", "id: \"{cart}\""),
    ("Query", "order", "id: \"{order}\""),
    ("Query", "product", "id: \"{product}\""),
    ("Query", "collection", "handle: \"{collection_handle}\""),
];

/// Fields not followed: they lead back to what the path came from, or to
/// the same objects another spelling of the connection already reaches.
pub(super) const SKIP: &[&str] = &["edges", "pageInfo"];

/// The longest path walked, in fields.
pub(super) const MAX_HOPS: usize = 6;

/// What each staff role is granted, written out from the documented roles.
pub(crate) fn role_grants(role: Role) -> &'static [Permission] {
    match role {
        Role::Admin => &[
            CatalogRead,
            CatalogWrite,
            PricesWrite,
            PromotionsWrite,
            InventoryRead,
            InventoryWrite,
            OrdersRead,
            OrdersWrite,
            OrdersFulfill,
            CustomersRead,
            CustomersWrite,
            ReturnsRead,
            ReturnsWrite,
            WebhooksWrite,
            AuditRead,
            StaffManage,
            TokensManage,
            GiftCardsWrite,
            SettingsRead,
            SettingsWrite,
        ],
        Role::Merchandiser => &[
            CatalogRead,
            CatalogWrite,
            PricesWrite,
            PromotionsWrite,
            InventoryRead,
            InventoryWrite,
            SettingsRead,
        ],
        Role::Support => &[
            CatalogRead,
            OrdersRead,
            OrdersWrite,
            CustomersRead,
            CustomersWrite,
            ReturnsRead,
            ReturnsWrite,
            GiftCardsWrite,
            SettingsRead,
        ],
        Role::Fulfillment => &[
            CatalogRead,
            OrdersRead,
            OrdersFulfill,
            InventoryRead,
            InventoryWrite,
            SettingsRead,
        ],
    }
}
