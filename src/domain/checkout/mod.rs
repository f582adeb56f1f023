//! Carts and checkout: the revenue path.
//!
//! - [`cart`]: carts, their lines, buyer details, codes and shipping choice;
//! - [`quote`]: a cart priced by the pricing engine with everything it needs;
//! - [`setup`]: tax rates, shipping methods, promotions, gift cards and
//!   store credit that price a cart;
//! - [`stock`]: stock reservations; [`expiry`]: their release;
//! - [`complete`]: `checkoutComplete`, exactly once;
//! - [`orders`]: orders and their state machine records;
//! - [`webhooks`]: payment events from gateways.

pub mod cart;
pub mod complete;
pub mod expiry;
pub mod orders;
pub mod promotions;
pub mod quote;
pub mod setup;
pub mod stock;
pub mod webhooks;
