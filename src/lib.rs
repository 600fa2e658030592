//! The Iodide notebook server: a GraphQL API for notebooks, their revisions and
//! files, with the REST shim and pages around it.
//!
//! A request travels one way: `app` (router and layers) -> `auth` (who asks) ->
//! `http` (routes) -> `graphql` (types and guards) -> `policy` (may they?) ->
//! domain services (`notebooks`, `files`, `users`) -> `entity` (the tables),
//! with `cache` beside them. The `worker` enters at the domain services too.

pub mod app;
pub mod auth;
pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod entity;
pub mod error;
pub mod files;
pub mod graphql;
pub mod http;
pub mod memory;
pub mod notebooks;
pub mod pagination;
pub mod policy;
pub mod users;
pub mod worker;

pub use app::{AppState, build_app};
