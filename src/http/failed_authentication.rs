//! Guessing credentials costs like any other request: a refused credential is
//! charged to its client's address in the request rate limit, and once that
//! allowance is spent, requests with credentials from the address get 429
//! before their credential is looked up (no database work for a guesser).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use axum_client_ip::{ClientIp, Rejection};
use moka::sync::Cache;

use super::middleware::client_address;
use crate::{
    auth::CredentialRefused,
    error::Error,
    rate_limit::{self, ClientKey, RequestRateLimit},
    viewer::Viewer,
};

/// The request allowance that failures are charged to, and the addresses
/// whose allowance ran out on refused credentials, with the time until which
/// they are refused. Each process learns the latter on its own, at the cost of
/// one more lookup; the allowance itself is shared (Redis) when the limit is.
pub struct FailedAttempts {
    limit: Arc<RequestRateLimit>,
    refused_until: Cache<String, Instant>,
}

impl FailedAttempts {
    pub fn new(limit: Arc<RequestRateLimit>) -> Arc<Self> {
        Arc::new(FailedAttempts {
            limit,
            refused_until: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
        })
    }

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

/// Around identity: a request with an Authorization header from a spent
/// address gets 429 unlooked-up; a refused credential costs its address one
/// request (401, or 429 once the allowance is spent).
pub async fn charge_failures(
    State(attempts): State<Arc<FailedAttempts>>,
    source: Result<ClientIp, Rejection>,
    request: Request,
    next: Next,
) -> Response {
    if !request.headers().contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let client = ClientKey::of(&Viewer::anonymous(), client_address(source, &request));
    if let Some(refused) = attempts.refuse_if_spent(&client) {
        return refused;
    }
    let response = next.run(request).await;
    if response.extensions().get::<CredentialRefused>().is_none() {
        return response;
    }
    match attempts.limit.charge(&client, 1).await {
        Ok(_) => response,
        Err((error, allowance)) => {
            attempts.remember_refusal(&client, &error);
            rate_limit::refused(error, allowance)
        }
    }
}
