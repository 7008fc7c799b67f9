//! Integration tests against a real PostgreSQL: the embedded cluster the app itself uses,
//! started once per test process, with a fresh database per test copied from a migrated
//! and seeded template. One test binary, so the cluster is shared.

mod harness;

mod admin_orgs;
mod api;
mod auth;
mod cli;
mod funding;
mod health;
mod matrix;
mod pages;
mod seed;
mod visibility;
