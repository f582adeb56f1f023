//! The root-operation matrix as data: every root field, a document that
//! calls it, and what it needs.

use emporium::domain::identity::permission::Permission::*;

use super::Needs::{self, *};

/// One row of the matrix: the root field, a document that calls it, and what
/// it needs. `{address}`, `{victim}` and `{token}` stand for IDs made below.
pub(super) struct Op {
    pub(super) field: &'static str,
    pub(super) doc: &'static str,
    pub(super) needs: Needs,
}

const fn op(field: &'static str, doc: &'static str, needs: Needs) -> Op {
    Op { field, doc, needs }
}

pub(super) const OPS: &[Op] = &[
    // Storefront catalog.
    op(
        "products",
        "{ products(first: 1) { nodes { id } } }",
        Public,
    ),
    op(
        "product",
        "{ product(handle: \"pocket-journal-0\") { id } }",
        Public,
    ),
    op(
        "collections",
        "{ collections(first: 1) { nodes { id } } }",
        Public,
    ),
    op(
        "collection",
        "{ collection(handle: \"none\") { id } }",
        Public,
    ),
    op("channels", "{ channels { code } }", Public),
    op("channel", "{ channel { code } }", Public),
    op("node", "{ node(id: \"{address}\") { id } }", Public),
    op("nodes", "{ nodes(ids: [\"{address}\"]) { id } }", Public),
    // Whole catalog.
    op(
        "catalogProducts",
        "{ catalogProducts(first: 1) { nodes { status } } }",
        Perm(CatalogRead),
    ),
    // Accounts.
    op("me", "{ me { email } }", Customer),
    op("staffMe", "{ staffMe { email } }", Staff),
    op(
        "customers",
        "{ customers(first: 5) { nodes { email } } }",
        Perm(CustomersRead),
    ),
    op(
        "customer",
        "{ customer(id: \"{customer}\") { email } }",
        Perm(CustomersRead),
    ),
    op("staffUsers", "{ staffUsers { email } }", Perm(StaffManage)),
    op("apiTokens", "{ apiTokens { name } }", Perm(TokensManage)),
    op(
        "customerRegister",
        "mutation { customerRegister(input: { email: \"x\", password: \"y\" }) { userErrors { code } } }",
        Public,
    ),
    op(
        "customerLogin",
        "mutation { customerLogin(email: \"x@example.com\", password: \"wrong wrong\") { userErrors { code } } }",
        Public,
    ),
    op(
        "customerTokenRefresh",
        "mutation { customerTokenRefresh(refreshToken: \"nope\") { userErrors { code } } }",
        Public,
    ),
    op(
        "customerLogout",
        "mutation { customerLogout { userErrors { code } } }",
        Customer,
    ),
    op(
        "customerPasswordChange",
        "mutation { customerPasswordChange(currentPassword: \"wrong wrong\", newPassword: \"whatever it takes\") { userErrors { code } } }",
        Customer,
    ),
    op(
        "customerPasswordResetRequest",
        "mutation { customerPasswordResetRequest(email: \"x@example.com\") { userErrors { code } } }",
        Public,
    ),
    op(
        "customerPasswordReset",
        "mutation { customerPasswordReset(token: \"nope\", newPassword: \"whatever it takes\") { userErrors { code } } }",
        Public,
    ),
    op(
        "customerUpdate",
        "mutation { customerUpdate(input: { firstName: \"Same\" }) { userErrors { code } } }",
        Customer,
    ),
    op(
        "customerAddressCreate",
        "mutation { customerAddressCreate(address: { city: \"x\" }) { userErrors { code } } }",
        Customer,
    ),
    op(
        "customerAddressUpdate",
        "mutation { customerAddressUpdate(id: \"{address}\", address: { city: \"Hijacked\" }) { address { city } userErrors { code } } }",
        Customer,
    ),
    op(
        "customerAddressDelete",
        "mutation { customerAddressDelete(id: \"{missing_address}\") { userErrors { code } } }",
        Customer,
    ),
    op(
        "customerDefaultAddressUpdate",
        "mutation { customerDefaultAddressUpdate(addressId: \"{missing_address}\") { userErrors { code } } }",
        Customer,
    ),
    op(
        "staffLogin",
        "mutation { staffLogin(email: \"x@example.com\", password: \"wrong wrong\") { userErrors { code } } }",
        Public,
    ),
    op(
        "staffTokenRefresh",
        "mutation { staffTokenRefresh(refreshToken: \"nope\") { userErrors { code } } }",
        Public,
    ),
    op(
        "staffLogout",
        "mutation { staffLogout { userErrors { code } } }",
        Staff,
    ),
    op(
        "staffUserCreate",
        "mutation { staffUserCreate(input: { email: \"bad\", password: \"x\", role: SUPPORT }) { userErrors { code } } }",
        Perm(StaffManage),
    ),
    op(
        "staffUserUpdate",
        "mutation { staffUserUpdate(id: \"{victim}\", role: FULFILLMENT) { userErrors { code } } }",
        Perm(StaffManage),
    ),
    op(
        "apiTokenCreate",
        "mutation { apiTokenCreate(input: { name: \"\", scopes: [] }) { userErrors { code } } }",
        Perm(TokensManage),
    ),
    op(
        "apiTokenRevoke",
        "mutation { apiTokenRevoke(id: \"{token}\") { userErrors { code } } }",
        Perm(TokensManage),
    ),
    // Inventory and audit.
    op(
        "inventorySetQuantities",
        "mutation { inventorySetQuantities(input: { quantities: [{ sku: \"NO-SUCH-SKU\", location: \"warehouse\", onHand: 1 }] }) { rejectedCount } }",
        Perm(InventoryWrite),
    ),
    op(
        "inventoryAdjustQuantities",
        "mutation { inventoryAdjustQuantities(input: { changes: [{ sku: \"NO-SUCH-SKU\", location: \"warehouse\", delta: 1 }], reason: CORRECTION }) { rejectedCount } }",
        Perm(InventoryWrite),
    ),
    op(
        "auditEntries",
        "{ auditEntries(first: 1) { nodes { action } } }",
        Perm(AuditRead),
    ),
    op("auditVerify", "{ auditVerify { ok } }", Perm(AuditRead)),
    // Catalog administration (inputs that fail validation: nothing is written).
    op(
        "productCreate",
        "mutation { productCreate(input: { title: \"\", variants: [] }) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "productUpdate",
        "mutation { productUpdate(id: \"{product}\", input: { title: \"\" }) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "productArchive",
        "mutation { productArchive(id: \"{missing_product}\") { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "productDelete",
        "mutation { productDelete(id: \"{missing_product}\") { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "pricesSet",
        "mutation { pricesSet(prices: [{ sku: \"NOPE\", channel: \"default\", amount: \"1\" }]) { userErrors { code } } }",
        Perm(PricesWrite),
    ),
    op(
        "productImport",
        "mutation { productImport(csv: \"handle,sku\\n\") { report { rows } } }",
        Perm(CatalogWrite),
    ),
    op(
        "pricesDelete",
        "mutation { pricesDelete(prices: [{ sku: \"NOPE\", channel: \"default\" }]) { userErrors { code } } }",
        Perm(PricesWrite),
    ),
    op(
        "productVariantsBulkCreate",
        "mutation { productVariantsBulkCreate(productId: \"{missing_product}\", variants: []) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "productVariantsBulkUpdate",
        "mutation { productVariantsBulkUpdate(productId: \"{missing_product}\", variants: []) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "productVariantsBulkDelete",
        "mutation { productVariantsBulkDelete(productId: \"{missing_product}\", variantIds: []) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "productOptionsCreate",
        "mutation { productOptionsCreate(productId: \"{missing_product}\", options: []) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "productOptionUpdate",
        "mutation { productOptionUpdate(productId: \"{missing_product}\", optionId: \"{missing_option}\", name: \"\") { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "productOptionsDelete",
        "mutation { productOptionsDelete(productId: \"{missing_product}\", optionIds: []) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    // Merchandising.
    op(
        "stockLocations",
        "{ stockLocations { code } }",
        Perm(CatalogRead),
    ),
    op(
        "customerGroups",
        "{ customerGroups { code } }",
        Perm(CatalogRead),
    ),
    op(
        "collectionCreate",
        "mutation { collectionCreate(input: { title: \"\" }) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "collectionUpdate",
        "mutation { collectionUpdate(id: \"{missing_collection}\", input: { title: \"x\" }) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "collectionDelete",
        "mutation { collectionDelete(id: \"{missing_collection}\") { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "collectionProductsAdd",
        "mutation { collectionProductsAdd(collectionId: \"{missing_collection}\", productIds: []) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "collectionProductsRemove",
        "mutation { collectionProductsRemove(collectionId: \"{missing_collection}\", productIds: []) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "collectionProductsReorder",
        "mutation { collectionProductsReorder(collectionId: \"{missing_collection}\", productIds: []) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "productMediaAdd",
        "mutation { productMediaAdd(productId: \"{missing_product}\", media: []) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "productMediaReorder",
        "mutation { productMediaReorder(productId: \"{missing_product}\", mediaIds: []) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "productMediaDelete",
        "mutation { productMediaDelete(productId: \"{missing_product}\", mediaIds: []) { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "channelCreate",
        "mutation { channelCreate(code: \"\", name: \"\", currencyCode: \"XXX\") { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "channelUpdate",
        "mutation { channelUpdate(id: \"{missing_channel}\", name: \"x\") { userErrors { code } } }",
        Perm(CatalogWrite),
    ),
    op(
        "stockLocationCreate",
        "mutation { stockLocationCreate(code: \"\", name: \"\") { userErrors { code } } }",
        Perm(InventoryWrite),
    ),
    op(
        "stockLocationUpdate",
        "mutation { stockLocationUpdate(id: \"{missing_location}\", name: \"x\") { userErrors { code } } }",
        Perm(InventoryWrite),
    ),
    op(
        "stockLocationDelete",
        "mutation { stockLocationDelete(id: \"{missing_location}\") { userErrors { code } } }",
        Perm(InventoryWrite),
    ),
    op(
        "customerGroupCreate",
        "mutation { customerGroupCreate(code: \"\", name: \"\") { userErrors { code } } }",
        Perm(CustomersWrite),
    ),
    op(
        "customerAssignGroup",
        "mutation { customerAssignGroup(customerId: \"{missing_customer}\", group: \"wholesale\") { userErrors { code } } }",
        Perm(CustomersWrite),
    ),
    // Carts and checkout: anyone with a cart ID; orders to their owner and
    // `orders:read`.
    op("cart", "{ cart(id: \"cart_missing\") { id } }", Public),
    op("order", "{ order(id: \"{missing_order}\") { id } }", Public),
    op(
        "orders",
        "{ orders(first: 1, query: \"ada\", filter: { status: [OPEN], createdAt: { from: \"2020-01-01T00:00:00Z\" } }, sortKey: TOTAL, reverse: true) { totalCount nodes { id } } }",
        Perm(OrdersRead),
    ),
    op("paymentGateways", "{ paymentGateways }", Public),
    // The money of orders after payment: `orders:write`.
    op(
        "orderCapture",
        "mutation { orderCapture(id: \"{missing_order}\") { userErrors { code } } }",
        Perm(OrdersWrite),
    ),
    op(
        "orderMarkAsPaid",
        "mutation { orderMarkAsPaid(id: \"{missing_order}\") { userErrors { code } } }",
        Perm(OrdersWrite),
    ),
    op(
        "refundCreate",
        "mutation { refundCreate(input: { orderId: \"{missing_order}\", amount: \"1\" }, idempotencyKey: \"k\") { userErrors { code } } }",
        Perm(OrdersWrite),
    ),
    op(
        "refundRetry",
        "mutation { refundRetry(id: \"{missing_refund}\") { userErrors { code } } }",
        Perm(OrdersWrite),
    ),
    op(
        "orderCancel",
        "mutation { orderCancel(id: \"{missing_order}\", reason: \"test\") { userErrors { code } } }",
        Perm(OrdersWrite),
    ),
    op(
        "cartCreate",
        "mutation { cartCreate(input: { lines: [] }) { cart { id } userErrors { code } } }",
        Public,
    ),
    op(
        "cartLinesAdd",
        "mutation { cartLinesAdd(cartId: \"cart_missing\", lines: []) { userErrors { code } } }",
        Public,
    ),
    op(
        "cartLinesUpdate",
        "mutation { cartLinesUpdate(cartId: \"cart_missing\", lines: []) { userErrors { code } } }",
        Public,
    ),
    op(
        "cartLinesRemove",
        "mutation { cartLinesRemove(cartId: \"cart_missing\", lineIds: []) { userErrors { code } } }",
        Public,
    ),
    op(
        "cartBuyerIdentityUpdate",
        "mutation { cartBuyerIdentityUpdate(cartId: \"cart_missing\", buyerIdentity: {}) { userErrors { code } } }",
        Public,
    ),
    op(
        "cartDiscountCodesUpdate",
        "mutation { cartDiscountCodesUpdate(cartId: \"cart_missing\", discountCodes: []) { userErrors { code } } }",
        Public,
    ),
    op(
        "cartGiftCardCodesUpdate",
        "mutation { cartGiftCardCodesUpdate(cartId: \"cart_missing\", giftCardCodes: []) { userErrors { code } } }",
        Public,
    ),
    op(
        "cartShippingMethodSelect",
        "mutation { cartShippingMethodSelect(cartId: \"cart_missing\", shippingMethodCode: \"x\") { userErrors { code } } }",
        Public,
    ),
    op(
        "checkoutComplete",
        "mutation { checkoutComplete(cartId: \"cart_missing\", payment: { gateway: \"test\", token: \"tok_visa\" }) { userErrors { code } } }",
        Public,
    ),
    // Promotions, gift cards and store credit.
    op(
        "promotions",
        "{ promotions { name } }",
        Perm(PromotionsWrite),
    ),
    op(
        "promotionCreate",
        "mutation { promotionCreate(input: { name: \"\", kind: PERCENTAGE }) { userErrors { code } } }",
        Perm(PromotionsWrite),
    ),
    op(
        "promotionSetActive",
        "mutation { promotionSetActive(id: \"{missing_promotion}\", active: false) { userErrors { code } } }",
        Perm(PromotionsWrite),
    ),
    op(
        "giftCardCreate",
        "mutation { giftCardCreate(input: { initialValue: \"0\", currencyCode: USD }) { userErrors { code } } }",
        Perm(GiftCardsWrite),
    ),
    op(
        "storeCreditAdjust",
        "mutation { storeCreditAdjust(customerId: \"{missing_customer}\", amount: \"1\", currencyCode: USD) { userErrors { code } } }",
        Perm(GiftCardsWrite),
    ),
    // Outbound webhooks.
    op(
        "webhookSubscriptions",
        "{ webhookSubscriptions { id } }",
        Perm(WebhooksWrite),
    ),
    op(
        "webhookDeliveries",
        "{ webhookDeliveries(first: 1) { nodes { id } } }",
        Perm(WebhooksWrite),
    ),
    op(
        "webhookSubscriptionCreate",
        "mutation { webhookSubscriptionCreate(input: { url: \"ftp://nope\", topics: [] }) { userErrors { code } } }",
        Perm(WebhooksWrite),
    ),
    op(
        "webhookSubscriptionUpdate",
        "mutation { webhookSubscriptionUpdate(id: \"{missing_webhook_subscription}\", input: { active: false }) { userErrors { code } } }",
        Perm(WebhooksWrite),
    ),
    op(
        "webhookSubscriptionDelete",
        "mutation { webhookSubscriptionDelete(id: \"{missing_webhook_subscription}\") { userErrors { code } } }",
        Perm(WebhooksWrite),
    ),
    op(
        "webhookDeliveryRetry",
        "mutation { webhookDeliveryRetry(id: \"{missing_webhook_delivery}\") { userErrors { code } } }",
        Perm(WebhooksWrite),
    ),
    // Shop settings (inputs that fail validation: nothing is written).
    op(
        "shippingZones",
        "{ shippingZones { name methods { code } } }",
        Perm(SettingsRead),
    ),
    op(
        "taxRates",
        "{ taxRates { countryCode } }",
        Perm(SettingsRead),
    ),
    op("taxClasses", "{ taxClasses { code } }", Perm(SettingsRead)),
    op(
        "shopConfigurationWarnings",
        "{ shopConfigurationWarnings { code } }",
        Perm(SettingsRead),
    ),
    op(
        "shippingZoneCreate",
        "mutation { shippingZoneCreate(input: { name: \"\", countries: [] }) { userErrors { code } } }",
        Perm(SettingsWrite),
    ),
    op(
        "shippingZoneUpdate",
        "mutation { shippingZoneUpdate(id: \"{missing_shipping_zone}\", input: { name: \"x\" }) { userErrors { code } } }",
        Perm(SettingsWrite),
    ),
    op(
        "shippingZoneDelete",
        "mutation { shippingZoneDelete(id: \"{missing_shipping_zone}\") { userErrors { code } } }",
        Perm(SettingsWrite),
    ),
    op(
        "shippingMethodCreate",
        "mutation { shippingMethodCreate(input: { zoneId: \"{missing_shipping_zone}\", channel: \"default\", code: \"x\", name: \"x\", kind: FLAT, price: \"1\" }) { userErrors { code } } }",
        Perm(SettingsWrite),
    ),
    op(
        "shippingMethodUpdate",
        "mutation { shippingMethodUpdate(id: \"{missing_shipping_method}\", input: { name: \"x\" }) { userErrors { code } } }",
        Perm(SettingsWrite),
    ),
    op(
        "shippingMethodDelete",
        "mutation { shippingMethodDelete(id: \"{missing_shipping_method}\") { userErrors { code } } }",
        Perm(SettingsWrite),
    ),
    op(
        "taxRateCreate",
        "mutation { taxRateCreate(input: { countryCode: \"UK\", taxClass: \"standard\", rate: \"0.2\", name: \"VAT\" }) { userErrors { code } } }",
        Perm(SettingsWrite),
    ),
    op(
        "taxRateUpdate",
        "mutation { taxRateUpdate(id: \"{missing_tax_rate}\", input: { rate: \"0.2\" }) { userErrors { code } } }",
        Perm(SettingsWrite),
    ),
    op(
        "taxRateDelete",
        "mutation { taxRateDelete(id: \"{missing_tax_rate}\") { userErrors { code } } }",
        Perm(SettingsWrite),
    ),
    // Fulfilment (staff and partner apps).
    op(
        "fulfillmentCreate",
        "mutation { fulfillmentCreate(input: { orderId: \"{missing_order}\" }) { userErrors { code } } }",
        Perm(OrdersFulfill),
    ),
    op(
        "fulfillmentTrackingUpdate",
        "mutation { fulfillmentTrackingUpdate(id: \"{missing_fulfillment}\", tracking: { number: \"1Z\" }) { userErrors { code } } }",
        Perm(OrdersFulfill),
    ),
    op(
        "fulfillmentCancel",
        "mutation { fulfillmentCancel(id: \"{missing_fulfillment}\") { userErrors { code } } }",
        Perm(OrdersFulfill),
    ),
    // Customer notification templates, the order timeline and search.
    op(
        "notificationTemplates",
        "{ notificationTemplates { kind } }",
        Perm(SettingsRead),
    ),
    op(
        "notificationTemplateUpdate",
        "mutation { notificationTemplateUpdate(kind: ORDER_SHIPPED, subject: \"\", text: \"\", html: \"\") { userErrors { code } } }",
        Perm(SettingsWrite),
    ),
    op(
        "notificationTemplateReset",
        "mutation { notificationTemplateReset(kind: ORDER_SHIPPED) { userErrors { code } } }",
        Perm(SettingsWrite),
    ),
    op(
        "orderNoteAdd",
        "mutation { orderNoteAdd(id: \"{missing_order}\", note: \"x\") { userErrors { code } } }",
        Perm(OrdersWrite),
    ),
    // Subscriptions (over the WebSocket).
    op(
        "stockUpdated",
        "subscription { stockUpdated(variantIds: [\"{variant}\"]) { variantId } }",
        Public,
    ),
    op(
        "orderUpdated",
        "subscription { orderUpdated(orderId: \"{missing_order}\") { id } }",
        CustomerOr(OrdersRead),
    ),
    op(
        "ordersUpdated",
        "subscription { ordersUpdated { id } }",
        Perm(OrdersRead),
    ),
];
