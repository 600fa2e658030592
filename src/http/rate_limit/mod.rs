//! Requests per client per minute: the signed-in user, or the address for
//! anonymous clients (the TCP peer's, or the one a trusted proxy reports: see
//! CLIENT_IP_SOURCE). Every request costs one; a GraphQL mutation costs
//! [`MUTATION_COST`]. Over the limit: 429 with Retry-After. Every answer carries
//! X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (seconds until
//! the allowance is full again).
//!
//! With Redis (REDIS_URL), the counts are kept there, so that all web processes
//! share one allowance per client; without it, or while it fails, each process
//! counts on its own.

mod redis;

use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use axum_client_ip::{ClientIp, Rejection};
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};

use self::redis::RedisLimit;
use super::is_health_check;
use crate::{app::AppState, auth::Viewer, cache::RedisConnection, error::Error};

/// What a mutation costs, in requests: writes are dearer than reads.
pub const MUTATION_COST: u32 = 5;

type Limiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

pub struct RequestRateLimit {
    per_minute: u32,
    /// The count without Redis, and while Redis fails.
    local: Limiter,
    shared: Option<RedisLimit>,
}

/// A charge's outcome, wherever it was counted.
enum Verdict {
    Allowed {
        remaining: u32,
        until_full: Duration,
    },
    Refused {
        wait: Duration,
        until_full: Duration,
    },
}

/// Where a client stands after a request.
#[derive(Clone, Debug)]
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
    /// Counted in this process.
    pub fn per_minute(requests: u32) -> Self {
        let per_minute = requests.max(1);
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).expect("at least one"));
        RequestRateLimit {
            per_minute,
            local: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            shared: None,
        }
    }

    /// Counted in Redis under `key_prefix`, shared by every process that uses
    /// it; in this process while Redis fails, trying it again `retry_after`
    /// after a failure.
    pub fn shared(
        mut self,
        redis: RedisConnection,
        key_prefix: String,
        retry_after: Duration,
    ) -> Self {
        self.shared = Some(RedisLimit::new(redis, key_prefix, retry_after));
        self
    }

    /// Charges `cost` to `client`, or says how long to wait.
    pub async fn charge(
        &self,
        client: &ClientKey,
        cost: u32,
    ) -> Result<Allowance, (Error, Allowance)> {
        // A cost is clamped to the allowance, so that it always fits after a wait.
        let cost = cost.clamp(1, self.per_minute);
        let shared = match &self.shared {
            Some(shared) => shared.charge(&client.0, cost, self.per_minute).await,
            None => None,
        };
        let verdict = shared.unwrap_or_else(|| self.charge_locally(client, cost));
        self.answer(verdict)
    }

    fn charge_locally(&self, client: &ClientKey, cost: u32) -> Verdict {
        let cost = NonZeroU32::new(cost).expect("at least one");
        let refill = Duration::from_secs(60) / self.per_minute;
        match self.local.check_key_n(&client.0, cost) {
            Ok(Ok(snapshot)) => {
                let remaining = snapshot.remaining_burst_capacity();
                Verdict::Allowed {
                    remaining,
                    until_full: refill * (self.per_minute - remaining),
                }
            }
            outcome => {
                // Only a wait can be asked for: the cost is clamped to the quota.
                let wait = match outcome {
                    Ok(Err(not_until)) => not_until.wait_time_from(DefaultClock::default().now()),
                    _ => Duration::from_secs(60),
                };
                Verdict::Refused {
                    wait,
                    until_full: refill * self.per_minute,
                }
            }
        }
    }

    fn answer(&self, verdict: Verdict) -> Result<Allowance, (Error, Allowance)> {
        match verdict {
            Verdict::Allowed {
                remaining,
                until_full,
            } => Ok(Allowance {
                limit: self.per_minute,
                remaining,
                reset: until_full,
            }),
            Verdict::Refused { wait, until_full } => {
                let allowance = Allowance {
                    limit: self.per_minute,
                    remaining: 0,
                    reset: until_full,
                };
                let seconds = u64::try_from(wait.as_millis().div_ceil(1000)).unwrap_or(u64::MAX);
                Err((Error::RateLimited(seconds.max(1)), allowance))
            }
        }
    }

    /// Forgets clients whose allowance is full again.
    pub fn forget_idle(&self) {
        self.local.retain_recent();
        self.local.shrink_to_fit();
    }
}

/// The client that a request is charged to, found once by [`limit_requests`]
/// and read by the handlers that charge more.
#[derive(Clone, Debug)]
pub struct ClientKey(String);

impl ClientKey {
    /// The key of a client that has not (or not yet) shown who it is.
    pub(crate) fn anonymous(address: Option<IpAddr>) -> Self {
        ClientKey::of(&Viewer::anonymous(), address)
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    fn of(viewer: &Viewer, address: Option<IpAddr>) -> Self {
        ClientKey(match (viewer.user_id(), address) {
            (Some(id), _) => format!("user:{id}"),
            (None, Some(address)) => format!("ip:{address}"),
            (None, None) => "ip:unknown".into(),
        })
    }
}

/// The address from CLIENT_IP_SOURCE. A request without the proxy's header did
/// not come through the proxy, so its peer is the client.
pub(crate) fn client_address(
    source: Result<ClientIp, Rejection>,
    request: &Request,
) -> Option<IpAddr> {
    source.map(|ClientIp(address)| address).ok().or_else(|| {
        let ConnectInfo(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>()?;
        Some(peer.ip())
    })
}

/// Middleware, after identity: charges one request. The headers show the
/// allowance after the last charge, which a handler that charged more leaves
/// in the response's extensions.
pub async fn limit_requests(
    State(state): State<AppState>,
    source: Result<ClientIp, Rejection>,
    mut request: Request,
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
    let client = ClientKey::of(&viewer, client_address(source, &request));
    let allowance = match state.request_rate_limit.charge(&client, 1).await {
        Ok(allowance) => allowance,
        Err((error, allowance)) => {
            let mut response = error.into_response();
            allowance.write(response.headers_mut());
            return response;
        }
    };
    request.extensions_mut().insert(client);
    let mut response = next.run(request).await;
    let last = response
        .extensions_mut()
        .remove::<Allowance>()
        .unwrap_or(allowance);
    last.write(response.headers_mut());
    response
}

/// A handler's answer after it charged more: the headers show this allowance.
pub fn with_allowance(mut response: Response, allowance: Allowance) -> Response {
    response.extensions_mut().insert(allowance);
    response
}

/// A handler's 429 after the allowance ran out on its extra charge.
pub fn refused(error: Error, allowance: Allowance) -> Response {
    with_allowance(error.into_response(), allowance)
}
