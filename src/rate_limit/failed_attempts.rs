//! Guessing credentials costs like any other request: a refused credential is
//! charged to its client's address in the request rate limit, and once that
//! allowance is spent, credentials from the address are refused (429 over
//! HTTP, 4429 over a subscription's WebSocket) before they are looked up, so a
//! guesser causes no database work.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use moka::sync::Cache;

use super::{Allowance, ClientKey, RequestRateLimit};
use crate::error::Error;

/// The request allowance that failures are charged to, and the addresses
/// whose allowance ran out on refused credentials, with the time until which
/// they are refused. Each process learns the latter on its own, at the cost of
/// one more lookup; the allowance itself is shared (Redis) when the limit is.
pub struct FailedAttempts {
    limit: Arc<RequestRateLimit>,
    refused_until: Cache<String, Instant>,
}

impl FailedAttempts {
    pub fn new(limit: Arc<RequestRateLimit>) -> Self {
        FailedAttempts {
            limit,
            refused_until: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
        }
    }

    /// The refusal for `address` while its allowance is spent on refused
    /// credentials: its next credential is not looked up.
    pub fn refusal(&self, address: &ClientKey) -> Option<Error> {
        let until = self.refused_until.get(address.as_str())?;
        let wait = until.checked_duration_since(Instant::now())?;
        Some(Error::RateLimited(wait.as_secs().max(1)))
    }

    /// Charges one refused credential to `address`; once its allowance is
    /// spent, the refusal, which [`FailedAttempts::refusal`] then repeats.
    pub async fn charge(&self, address: &ClientKey) -> Result<Allowance, (Error, Allowance)> {
        let charged = self.limit.charge(address, 1).await;
        if let Err((Error::RateLimited(seconds), _)) = &charged {
            let until = Instant::now() + Duration::from_secs(*seconds);
            self.refused_until
                .insert(address.as_str().to_string(), until);
        }
        charged
    }
}
