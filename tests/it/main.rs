//! Integration tests against a real PostgreSQL: the embedded cluster the app itself uses,
//! started once per test process, with a fresh database per test copied from a migrated
//! and seeded template. One test binary, so the cluster is shared.

mod harness;

mod activity;
mod api;
mod api_tokens;
mod api_v1;
mod auth;
mod backup;
mod cli;
mod concurrency;
mod conformance;
mod dashboards;
mod delivery;
mod events;
mod faults;
mod funding;
mod generate;
mod health;
mod hostile;
mod http_cache;
mod iati;
mod imports;
mod instances;
mod limits;
mod logs;
mod matrix;
mod pages;
mod portable;
mod privileges;
mod query_count;
mod seed;
mod serve;
mod served;
mod sign_in;
mod unconverted;
mod visibility;
mod xlsx;
