//! Carts and checkout: the revenue path.
//!
//! - [`cart`]: carts, their lines, buyer details, codes and shipping choice;
//! - [`quote`]: a cart priced by the pricing engine with everything it needs;
//! - [`setup`]: tax rates, shipping methods, promotions, gift cards and
//!   store credit that price a cart;
//! - [`stock`]: stock reservations; [`expiry`]: their release, and the
//!   cancellation of orders whose payment never came;
//! - [`complete`]: `checkoutComplete`, exactly once, and [`service`], what
//!   runs it to its end on a task of its own; [`keys`]: the gateway
//!   keys it derives; [`claims`]: once-per-customer promotions under
//!   concurrency; [`unpaid`]: deadlines and caps of orders awaiting payment;
//!   [`undo`]: voids and refunds of payments that became no order, retried
//!   until they succeed;
//! - [`orders`]: orders and their state machine records;
//! - [`webhooks`]: payment events from gateways.

pub mod cart;
pub mod claims;
pub mod complete;
pub mod expiry;
pub mod keys;
pub mod orders;
pub mod promotions;
pub mod quote;
pub mod service;
pub mod setup;
pub mod stock;
pub mod stored;
pub mod undo;
pub mod unpaid;
pub mod webhooks;
