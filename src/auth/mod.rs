//! Who is asking: one module per way in, and the [`Viewer`] they all produce.
//!
//! The identity layer runs before any route. A request with no credentials is
//! anonymous; a request with bad credentials is refused with 401 here and never
//! falls back to anonymous.

pub mod api_token;
mod layer;
mod viewer;

pub use layer::{AuthError, identify};
pub use viewer::{AuthMethod, Viewer};
