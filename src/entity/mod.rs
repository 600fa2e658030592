//! sea-orm entities: the tables of migration/, and nothing of HTTP or GraphQL.

pub mod api_token;
pub mod file;
pub mod file_source;
pub mod file_update_operation;
pub mod notebook;
pub mod revision;
pub mod revoked_token_family;
pub mod session;
pub mod user;
