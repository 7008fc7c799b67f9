//! SQL, one module per aggregate. Functions take a pool and return domain types.

pub mod admin_items;
pub mod admin_strategy;
pub mod audit;
pub mod contribution_events;
pub mod delivery;
pub mod editing;
pub mod generate;
pub mod imports;
pub mod money;
pub mod organisations;
pub mod portfolio;
pub mod rates;
pub mod seed;
pub mod sessions;
pub mod strategy;
pub mod throttle;
pub mod tokens;
pub mod users;
