//! Who is asking: one module per way in, and the [`Viewer`] they all produce.
//!
//! The identity layer runs before any route. Precedence, when a request carries
//! several credentials: the Authorization header (API token or JWT) first, then
//! the OpenIDC proxy's header (in OpenIDC mode, off the whitelist), then the
//! session cookie. A request with bad credentials is refused with 401 and never
//! falls back to a weaker identity or to anonymous.

pub mod api_token;
pub mod github;
pub mod jwt;
mod layer;
pub mod openidc;
pub mod refresh_revocation;
pub mod session;
mod token_users;

pub use layer::{Authenticator, CredentialRefused, identify};
pub use token_users::TokenUsers;
// What every way in produces; it lives apart so that the services need not import auth.
pub use crate::viewer::{AuthMethod, Viewer};
