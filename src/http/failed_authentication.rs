//! Guessing credentials costs like any other request: a refused credential is
//! charged to its client's address in the request rate limit, and once that
//! allowance is spent, requests with credentials from the address get 429
//! before their credential is looked up (no database work for a guesser).

use std::time::{Duration, Instant};

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use axum_client_ip::{ClientIp, Rejection};
use moka::sync::Cache;

use super::rate_limit::{self, ClientKey};
use crate::{app::AppState, auth::CredentialRefused, error::Error};

/// Addresses whose allowance ran out on refused credentials, with the time
/// until which they are refused. Each process learns it on its own, at the cost
/// of one more lookup; the allowance itself is shared (Redis) when the limit is.
pub struct FailedAttempts {
    refused_until: Cache<String, Instant>,
}

impl Default for FailedAttempts {
    fn default() -> Self {
        FailedAttempts {
            refused_until: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
        }
    }
}

impl FailedAttempts {
    fn refuse_if_spent(&self, client: &ClientKey) -> Option<Response> {
        let until = self.refused_until.get(client.as_str())?;
        let wait = until.checked_duration_since(Instant::now())?;
        Some(Error::RateLimited(wait.as_secs().max(1)).into_response())
    }

    fn remember_refusal(&self, client: &ClientKey, error: &Error) {
        if let Error::RateLimited(seconds) = error {
            let until = Instant::now() + Duration::from_secs(*seconds);
            self.refused_until
                .insert(client.as_str().to_string(), until);
        }
    }
}

/// Middleware, around identity: a request with an Authorization header from a
/// spent address gets 429 unlooked-up; a refused credential costs its address
/// one request (401, or 429 once the allowance is spent).
pub async fn charge_failures(
    State(state): State<AppState>,
    source: Result<ClientIp, Rejection>,
    request: Request,
    next: Next,
) -> Response {
    if !request.headers().contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let client = ClientKey::anonymous(rate_limit::client_address(source, &request));
    if let Some(refused) = state.failed_attempts.refuse_if_spent(&client) {
        return refused;
    }
    let response = next.run(request).await;
    if response.extensions().get::<CredentialRefused>().is_none() {
        return response;
    }
    match state.request_rate_limit.charge(&client, 1).await {
        Ok(_) => response,
        Err((error, allowance)) => {
            state.failed_attempts.remember_refusal(&client, &error);
            rate_limit::refused(error, allowance)
        }
    }
}
