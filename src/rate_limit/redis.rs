//! The allowance kept in Redis, so that every web process charges one count per
//! client. GCRA: one key per limit and client holds the client's theoretical
//! arrival time, the moment its allowance would be full again. The script
//! reads Redis's clock, so that processes whose clocks disagree still agree.
//!
//! Redis is never needed to answer: when it fails, the caller counts in-process
//! and leaves Redis alone for a moment, as the cache does.

use std::{sync::LazyLock, time::Duration};

use redis::{Cmd, RedisError, Script, ServerErrorKind, Value};

use super::Verdict;
use crate::cache::{Backoff, CacheError, RedisConnection};

/// KEYS[1]: the theoretical arrival time, in microseconds of Redis's clock.
/// ARGV: the interval that one request adds, the limit, the cost. The key
/// expires when the allowance is full again, so idle clients take no memory.
/// Returns {allowed, remaining, microseconds until full, microseconds to wait}.
static CHARGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
local after = tat + cost * interval
local window = limit * interval
if after - now > window then
    return {0, 0, tat - now, after - now - window}
end
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', math.ceil((after - now) / 1000))
return {1, math.floor((window - (after - now)) / interval), after - now, 0}
",
    )
});

pub(super) struct RedisLimit {
    redis: RedisConnection,
    /// CACHE_KEY_PREFIX and the limit's name: each limit has its own count, and
    /// one Redis can serve other programs.
    key_prefix: String,
    backoff: Backoff,
}

impl RedisLimit {
    pub(super) fn new(redis: RedisConnection, key_prefix: String, retry_after: Duration) -> Self {
        RedisLimit {
            redis,
            key_prefix,
            backoff: Backoff::new(retry_after),
        }
    }

    /// The verdict of the shared count, or None when Redis cannot give one now.
    pub(super) async fn charge(&self, client: &str, cost: u32, per_minute: u32) -> Option<Verdict> {
        if self.backoff.resting() {
            return None;
        }
        match self.evaluate(client, cost, per_minute).await {
            Ok(verdict) => Some(verdict),
            Err(err) => {
                self.failed(&err);
                None
            }
        }
    }

    /// The verdict of the shared count and the reply to `along`, sent in one
    /// round trip: `None` when Redis is resting (nothing was sent), a verdict
    /// of `None` with the error when the round trip failed.
    pub(super) async fn charge_along(
        &self,
        client: &str,
        cost: u32,
        per_minute: u32,
        along: Cmd,
    ) -> Option<(Option<Verdict>, Result<Value, CacheError>)> {
        if self.backoff.resting() {
            return None;
        }
        let invocation = self.invocation(client, cost, per_minute);
        match self.send_along(&invocation, along).await {
            Ok((charged, reply)) => {
                let verdict = verdict(charged);
                if let Err(err) = &verdict {
                    self.failed(err);
                }
                Some((verdict.ok(), Ok(reply)))
            }
            Err(err) => {
                self.failed(&err);
                Some((None, Err(err)))
            }
        }
    }

    /// The script's reply and `along`'s, from one pipeline; the script's text
    /// goes along only when Redis does not know its digest (after a restart).
    async fn send_along(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
        along: Cmd,
    ) -> Result<(Value, Value), CacheError> {
        let mut pipeline = redis::pipe();
        pipeline
            .invoke_script(invocation)
            .add_command(along.clone())
            .ignore_errors();
        let mut replies: Vec<Value> = self.redis.query_pipeline(&pipeline).await?;
        if replies.first().is_some_and(unknown_script) {
            let mut pipeline = redis::pipe();
            pipeline
                .load_script(&CHARGE)
                .ignore()
                .invoke_script(invocation)
                .add_command(along)
                .ignore_errors();
            replies = self.redis.query_pipeline(&pipeline).await?;
        }
        let mut replies = replies.into_iter();
        match (replies.next(), replies.next()) {
            (Some(charged), Some(along)) => Ok((charged, along)),
            _ => Err(CacheError::Redis(RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "a pipeline's replies are missing",
            )))),
        }
    }

    fn failed(&self, err: &CacheError) {
        if self.backoff.rest() {
            tracing::warn!(
                %err,
                "Redis failed; rate limits are counted in this process for now"
            );
        }
    }

    fn invocation(
        &self,
        client: &str,
        cost: u32,
        per_minute: u32,
    ) -> redis::ScriptInvocation<'static> {
        let interval = (60_000_000 / u64::from(per_minute)).max(1);
        let mut invocation = CHARGE.prepare_invoke();
        invocation
            .key(format!("{}{client}", self.key_prefix))
            .arg(interval)
            .arg(per_minute)
            .arg(cost);
        invocation
    }

    async fn evaluate(
        &self,
        client: &str,
        cost: u32,
        per_minute: u32,
    ) -> Result<Verdict, CacheError> {
        let invocation = self.invocation(client, cost, per_minute);
        verdict(self.redis.invoke(&invocation).await?)
    }
}

fn unknown_script(reply: &Value) -> bool {
    matches!(reply, Value::ServerError(err) if err.kind() == Some(ServerErrorKind::NoScript))
}

/// The script's reply: {allowed, remaining, microseconds until full,
/// microseconds to wait}.
fn verdict(reply: Value) -> Result<Verdict, CacheError> {
    let (allowed, remaining, until_full, wait): (u8, u32, u64, u64) =
        redis::from_redis_value(reply).map_err(RedisError::from)?;
    let until_full = Duration::from_micros(until_full);
    Ok(if allowed == 1 {
        Verdict::Allowed {
            remaining,
            until_full,
        }
    } else {
        Verdict::Refused {
            wait: Duration::from_micros(wait),
            until_full,
        }
    })
}
