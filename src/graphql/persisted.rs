//! Automatic persisted queries, as Apollo's clients and many CDNs speak them: a
//! request may send `extensions.persistedQuery = {version: 1, sha256Hash}`
//! without its query. A known hash runs the query it stands for; an unknown one
//! answers PERSISTED_QUERY_NOT_FOUND, and the client sends the query with its
//! hash, which registers it (the hash must be the query's).
//!
//! The queries live in Redis when there is one, so that every instance knows
//! what any instance was told, else in this process; either way at most
//! [`MAX_PERSISTED_QUERIES`] (in Redis the oldest going first, in the process
//! the least used, moka's choice). Like the cache, the store
//! is never needed for correctness: when Redis fails, a lookup misses and the
//! client sends the query again.

use std::sync::Arc;

use async_graphql::{BatchRequest, BatchResponse, ErrorExtensionValues, Request, Response, Value};
use sha2::{Digest, Sha256};

use super::limits;
use crate::{cache::RedisConnection, error::Error};

/// Far more distinct operations than the editor and any client of ours have.
pub const MAX_PERSISTED_QUERIES: u64 = 10_000;

const EXTENSION: &str = "persistedQuery";

/// Stores a query under its hash and, past the bound, forgets the oldest.
const REMEMBER: &str = r"
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
  local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
  if excess > 0 then
    local oldest = redis.call('ZPOPMIN', KEYS[2], excess)
    for i = 1, #oldest, 2 do redis.call('HDEL', KEYS[1], oldest[i]) end
  end
end
return 1
";

#[derive(Clone)]
pub struct PersistedQueries(Arc<Store>);

enum Store {
    Memory(moka::sync::Cache<String, Arc<str>>),
    Redis {
        redis: RedisConnection,
        /// A hash of hash -> query, and a sorted set of hashes by age.
        queries: String,
        order: String,
        counter: String,
        capacity: u64,
        remember: redis::Script,
    },
}

/// Why a request's persisted query cannot run.
pub enum Refusal {
    /// The hash is unknown here: the client should send the query too.
    NotFound,
    Invalid(Error),
}

impl PersistedQueries {
    /// In Redis (under `key_prefix`) when given, else in this process.
    pub fn new(redis: Option<RedisConnection>, key_prefix: &str, capacity: u64) -> Self {
        let store = match redis {
            None => Store::Memory(moka::sync::Cache::new(capacity)),
            Some(redis) => Store::Redis {
                redis,
                queries: format!("{key_prefix}apq:queries"),
                order: format!("{key_prefix}apq:order"),
                counter: format!("{key_prefix}apq:counter"),
                capacity,
                remember: redis::Script::new(REMEMBER),
            },
        };
        PersistedQueries(Arc::new(store))
    }

    /// Every request of the batch with its query text, or why not.
    pub async fn resolve_batch(&self, batch: BatchRequest) -> Result<BatchRequest, Refusal> {
        Ok(match batch {
            BatchRequest::Single(request) => BatchRequest::Single(self.resolve(request).await?),
            BatchRequest::Batch(requests) => {
                let mut resolved = Vec::with_capacity(requests.len());
                for request in requests {
                    resolved.push(self.resolve(request).await?);
                }
                BatchRequest::Batch(resolved)
            }
        })
    }

    /// The request with its query: looked up when only the hash came, else
    /// checked against the hash and remembered.
    pub async fn resolve(&self, mut request: Request) -> Result<Request, Refusal> {
        let Some(hash) = requested_hash(&request)? else {
            return Ok(request);
        };
        if request.query.is_empty() {
            request.query = self.lookup(&hash).await.ok_or(Refusal::NotFound)?;
            return Ok(request);
        }
        if hex::encode(Sha256::digest(request.query.as_bytes())) != hash {
            return Err(Refusal::Invalid(Error::bad_input(
                "The persisted query's sha256Hash is not the SHA-256 of its query",
            )));
        }
        // A query too long to run is refused when it runs, and not kept: the
        // store holds at most 10,000 queries that can run.
        if limits::check_length(&request.query).is_ok() {
            self.remember(&hash, &request.query).await;
        }
        Ok(request)
    }

    async fn lookup(&self, hash: &str) -> Option<String> {
        match &*self.0 {
            Store::Memory(queries) => queries.get(hash).map(|query| query.to_string()),
            Store::Redis { redis, queries, .. } => {
                let found = redis.query(redis::cmd("HGET").arg(queries).arg(hash)).await;
                found.unwrap_or_else(|err| {
                    tracing::warn!(error = %err, "persisted queries: Redis lookup failed");
                    None
                })
            }
        }
    }

    async fn remember(&self, hash: &str, query: &str) {
        match &*self.0 {
            Store::Memory(queries) => queries.insert(hash.to_owned(), query.into()),
            Store::Redis {
                redis,
                queries,
                order,
                counter,
                capacity,
                remember,
            } => {
                let mut invocation = remember.prepare_invoke();
                invocation
                    .key(queries)
                    .key(order)
                    .key(counter)
                    .arg(hash)
                    .arg(query)
                    .arg(*capacity);
                if let Err(err) = redis.invoke::<i64>(&invocation).await {
                    tracing::warn!(error = %err, "persisted queries: Redis store failed");
                }
            }
        }
    }
}

/// The hash a request names, if it uses the extension, in lower-case hex.
fn requested_hash(request: &Request) -> Result<Option<String>, Refusal> {
    let Some(extension) = request.extensions.get(EXTENSION) else {
        return Ok(None);
    };
    let invalid = |message: &str| Refusal::Invalid(Error::bad_input(message));
    let Value::Object(fields) = extension else {
        return Err(invalid("extensions.persistedQuery must be an object"));
    };
    if fields.get("version") != Some(&Value::from(1)) {
        return Err(invalid("Only version 1 of persisted queries is supported"));
    }
    match fields.get("sha256Hash") {
        Some(Value::String(hash))
            if hash.len() == 64 && hash.bytes().all(|byte| byte.is_ascii_hexdigit()) =>
        {
            Ok(Some(hash.to_ascii_lowercase()))
        }
        _ => Err(invalid(
            "extensions.persistedQuery.sha256Hash must be a SHA-256 in hex",
        )),
    }
}

/// What a client is told when a hash is unknown: the message and code that
/// Apollo's clients look for, for each operation of the request (`batch`:
/// how many operations a batch held).
pub fn not_found(batch: Option<usize>) -> BatchResponse {
    let response = || {
        let mut error = async_graphql::ServerError::new("PersistedQueryNotFound", None);
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", "PERSISTED_QUERY_NOT_FOUND");
        error.extensions = Some(extensions);
        Response::from_errors(vec![error])
    };
    match batch {
        Some(operations) => BatchResponse::Batch((0..operations).map(|_| response()).collect()),
        None => BatchResponse::Single(response()),
    }
}
