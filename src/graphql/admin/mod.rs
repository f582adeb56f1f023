//! Operations for staff and partner apps: catalog and merchandising
//! administration, inventory sync, the audit trail and outbound webhooks.

pub mod audit;
pub mod catalog;
pub mod import;
pub mod inventory;
pub mod merchandising;
pub mod promotions;
pub mod webhooks;
