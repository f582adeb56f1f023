//! Operations for staff and partner apps: catalog and merchandising
//! administration, inventory sync, the audit trail, outbound webhooks and
//! shop settings (shipping and tax, customer notification templates).

pub mod audit;
pub mod catalog;
pub mod import;
pub mod inventory;
pub mod merchandising;
pub mod notifications;
pub mod promotions;
pub mod settings;
pub mod webhooks;
