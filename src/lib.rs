//! The Iodide notebook server: a GraphQL API for notebooks, their revisions and
//! files, with the REST shim and pages around it.
//!
//! A request travels one way: `http` (router and layers, which ask `auth` who
//! is asking and `rate_limit` whether they may) -> `graphql` (types and guards)
//! -> `policy` (may they?) -> domain services (`notebooks`, `files`, `users`) ->
//! `entity` (the tables), with `cache` beside them. `app` is the state that the
//! routes share; the `worker` enters at the domain services too. No module
//! imports one that imports it (tests/module_graph.rs checks).

pub mod app;
pub mod auth;
pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod entity;
pub mod error;
pub mod events;
pub mod files;
pub mod graphql;
pub mod http;
pub mod memory;
pub mod notebooks;
pub mod pagination;
pub mod policy;
pub mod rate_limit;
pub mod users;
pub mod viewer;
pub mod worker;

pub use app::AppState;
pub use http::{build_app, serve};
