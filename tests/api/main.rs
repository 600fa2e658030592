//! Integration tests: the real application over HTTP, on SQLite by default or on
//! PostgreSQL when TEST_DATABASE_URL is set, with Redis when TEST_REDIS_URL is. One test binary, so that the suite
//! links once.

mod common;

mod abuse;
mod api_tokens;
mod auth_github;
mod auth_jwt;
mod auth_openidc;
mod cache;
mod cli;
mod content_encoding;
mod faults;
mod files;
mod graphql_over_http;
mod http_rules;
mod internal_mode;
mod limits;
mod notebooks;
mod pages;
mod pagination;
mod persisted_queries;
mod pruning;
mod rate_limits;
mod redis_round_trips;
mod response_cache;
mod revision_deliveries;
mod revisions;
mod schema;
mod slow_clients;
mod subscription_events;
mod subscription_rules;
mod subscriptions;
mod worker;
