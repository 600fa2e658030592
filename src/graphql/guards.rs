//! Guards: the policy, asked before a field resolves.

use async_graphql::{Context, Guard};

use super::context::viewer;
use crate::policy::{self, ApiMode};

/// Reading needs an identity in internal mode.
pub struct CanRead;

impl Guard for CanRead {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let mode = *ctx.data_unchecked::<ApiMode>();
        // Not asking for the viewer when everyone may read keeps the answer
        // free of who asked (see context::viewer).
        if policy::anyone_may_read(mode) {
            return Ok(());
        }
        Ok(policy::ensure_can_read(viewer(ctx), mode)?)
    }
}
