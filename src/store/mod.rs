//! SQL, one module per aggregate. Functions take a pool and return domain types.

pub mod items;
pub mod portfolio;
pub mod seed;
pub mod strategy;
