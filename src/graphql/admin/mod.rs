//! Operations for staff and partner apps: catalog and merchandising
//! administration, inventory sync, the audit trail, outbound webhooks and
//! shop settings (shipping and tax).

pub mod audit;
pub mod catalog;
pub mod import;
pub mod inventory;
pub mod merchandising;
pub mod promotions;
pub mod settings;
pub mod webhooks;
