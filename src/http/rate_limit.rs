//! Requests per client per minute: the signed-in user, or the peer's address for
//! anonymous clients. Every request costs one; a GraphQL mutation costs
//! [`MUTATION_COST`]. Over the limit: 429 with Retry-After. Every answer carries
//! X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (seconds until
//! the allowance is full again).
//!
//! The counts live in each web process: with several processes, each allows the
//! limit on its own.

use std::{net::SocketAddr, num::NonZeroU32, time::Duration};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};

use super::is_health_check;
use crate::{app::AppState, auth::Viewer, error::Error};

/// What a mutation costs, in requests: writes are dearer than reads.
pub const MUTATION_COST: u32 = 5;

type Limiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

pub struct RequestRateLimit {
    limiter: Limiter,
    per_minute: u32,
}

/// Where a client stands after a request.
pub struct Allowance {
    limit: u32,
    remaining: u32,
    reset: Duration,
}

impl Allowance {
    fn write(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from(self.reset.as_secs().max(1)),
        );
    }
}

impl RequestRateLimit {
    pub fn per_minute(requests: u32) -> Self {
        let per_minute = requests.max(1);
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).expect("at least one"));
        RequestRateLimit {
            limiter: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            per_minute,
        }
    }

    /// Charges `cost` to `client`, or says how long to wait.
    pub fn charge(&self, client: &str, cost: u32) -> Result<Allowance, (Error, Allowance)> {
        let cost = NonZeroU32::new(cost.clamp(1, self.per_minute)).expect("at least one");
        let refill = Duration::from_secs(60) / self.per_minute;
        match self.limiter.check_key_n(&client.to_string(), cost) {
            Ok(Ok(snapshot)) => {
                let remaining = snapshot.remaining_burst_capacity();
                Ok(Allowance {
                    limit: self.per_minute,
                    remaining,
                    reset: refill * (self.per_minute - remaining),
                })
            }
            outcome => {
                // A cost is clamped to the quota, so only a wait can be asked for.
                let wait = match outcome {
                    Ok(Err(not_until)) => not_until.wait_time_from(DefaultClock::default().now()),
                    _ => Duration::from_secs(60),
                };
                let allowance = Allowance {
                    limit: self.per_minute,
                    remaining: 0,
                    reset: refill * self.per_minute,
                };
                Err((Error::RateLimited(wait.as_secs().max(1)), allowance))
            }
        }
    }

    /// Forgets clients whose allowance is full again.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The client that a request is charged to.
pub fn client_key(viewer: &Viewer, peer: Option<&ConnectInfo<SocketAddr>>) -> String {
    match (viewer.user_id(), peer) {
        (Some(id), _) => format!("user:{id}"),
        (None, Some(ConnectInfo(address))) => format!("ip:{}", address.ip()),
        (None, None) => "ip:unknown".into(),
    }
}

/// Middleware, after identity: charges one request.
pub async fn limit_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if is_health_check(request.uri().path()) {
        return next.run(request).await;
    }
    let viewer = request
        .extensions()
        .get::<Viewer>()
        .cloned()
        .unwrap_or_else(Viewer::anonymous);
    let client = client_key(
        &viewer,
        request.extensions().get::<ConnectInfo<SocketAddr>>(),
    );
    match state.request_rate_limit.charge(&client, 1) {
        Ok(allowance) => {
            let mut response = next.run(request).await;
            allowance.write(response.headers_mut());
            response
        }
        Err((error, allowance)) => refused(error, allowance),
    }
}

/// The 429 answer, with the allowance headers.
pub fn refused(error: Error, allowance: Allowance) -> Response {
    let mut response = error.into_response();
    allowance.write(response.headers_mut());
    response
}
