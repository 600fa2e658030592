//! Requests per client per minute: the signed-in user, or the address for
//! anonymous clients (the TCP peer's, or the one a trusted proxy reports: see
//! CLIENT_IP_SOURCE). Every request costs one; a GraphQL mutation costs
//! [`MUTATION_COST`], charged at once with its request (see [`RequestCharge`]). Over the limit: 429 with Retry-After. Every answer carries
//! X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (seconds until
//! the allowance is full again).
//!
//! With Redis (REDIS_URL), the counts are kept there, so that all web processes
//! share one allowance per client; without it, or while it fails, each process
//! counts on its own.

mod account;
mod failed_attempts;
mod redis;

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use axum::{
    http::{HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};

use self::redis::RedisLimit;
pub use self::{account::RequestCharge, failed_attempts::FailedAttempts};
use crate::{
    cache::{CacheError, RedisConnection},
    error::Error,
    viewer::Viewer,
};

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
    pub fn write(&self, headers: &mut HeaderMap) {
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

    /// As [`RequestRateLimit::charge`], sending `along` in the same Redis round
    /// trip when the count is kept there; its reply is None when it was not
    /// sent (no Redis, or Redis resting).
    pub async fn charge_along(
        &self,
        client: &ClientKey,
        cost: u32,
        along: ::redis::Cmd,
    ) -> (
        Result<Allowance, (Error, Allowance)>,
        Option<Result<::redis::Value, CacheError>>,
    ) {
        let cost = cost.clamp(1, self.per_minute);
        let sent = match &self.shared {
            Some(shared) => {
                shared
                    .charge_along(&client.0, cost, self.per_minute, along)
                    .await
            }
            None => None,
        };
        let (verdict, reply) = match sent {
            Some((verdict, reply)) => (verdict, Some(reply)),
            None => (None, None),
        };
        let verdict = verdict.unwrap_or_else(|| self.charge_locally(client, cost));
        (self.answer(verdict), reply)
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

/// The client that a request is charged to, found once by the rate-limit
/// middleware and read by the handlers that charge more.
#[derive(Clone, Debug)]
pub struct ClientKey(String);

impl ClientKey {
    pub fn of(viewer: &Viewer, address: Option<IpAddr>) -> Self {
        ClientKey(match (viewer.user_id(), address) {
            (Some(id), _) => format!("user:{id}"),
            (None, Some(address)) => format!("ip:{address}"),
            (None, None) => "ip:unknown".into(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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
