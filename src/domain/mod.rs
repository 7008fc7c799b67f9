//! Pure types and rules: no IO. Everything here is unit-tested.

pub mod activity;
pub mod auth;
pub mod contribution_events;
pub mod dates;
pub mod delivery;
pub mod filters;
pub mod forms;
pub mod funding;
pub mod import;
pub mod money;
pub mod portfolio;
pub mod records;
pub mod search;
pub mod slug;
pub mod vocab;
