//! Identity and access: customers, staff, partner tokens, sessions and the
//! permissions that decide what each may do.

pub mod access;
pub mod api_token;
pub mod customer;
pub mod jwt;
pub mod password;
pub mod permission;
pub mod secret;
pub mod session;
pub mod staff;
