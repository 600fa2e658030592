//! The application's state: the components that every handler shares. It
//! depends only on them; the router and its layers (in `http`) depend on it.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::Semaphore;

use crate::{
    auth::{TokenUsers, github::Github, openidc::OpenIdc},
    cache::{Cache, RedisConnection, ResponseCache},
    clock::Clock,
    config::{CacheConfig, Config},
    db::{self, StatementCounter, WriteQueue},
    events::{Connections, Events},
    graphql::{
        self, Executor,
        persisted::{self, PersistedQueries},
    },
    policy::ApiMode,
    rate_limit::{FailedAttempts, RequestRateLimit},
};

/// What every handler shares. Cloned several times per request (each layer and
/// handler that takes it), so it is one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub graphql: Executor,
    pub cache: Cache,
    /// API tokens' users, on SQLite (see auth::TokenUsers).
    pub token_users: TokenUsers,
    /// Answers that did not ask who the viewer is, checked against `cache`'s generations.
    pub responses: ResponseCache,
    /// What changed, from every instance: the subscriptions' source.
    pub events: Events,
    /// The open subscription connections, closed at shutdown.
    pub live: Connections,
    pub clock: Clock,
    /// Automatic persisted queries, beside the cache.
    pub persisted: PersistedQueries,
    /// SQL statements run since start-up.
    pub statements: Arc<StatementCounter>,
    /// The connection to REDIS_URL that the cache, the rate limits and the
    /// events' publishing share; its round trips are counted.
    pub redis: Option<RedisConnection>,
    pub github: Option<Github>,
    pub openidc: Option<OpenIdc>,
    /// The smaller allowance of /token/ and /token/refresh/.
    pub token_rate_limit: Arc<RequestRateLimit>,
    pub request_rate_limit: Arc<RequestRateLimit>,
    /// Refused credentials, charged to their address over HTTP and WebSocket.
    pub failed_attempts: Arc<FailedAttempts>,
    /// On SQLite, where this process's saves wait for their turn to write.
    pub writes: WriteQueue,
    /// Permits for requests that carry files: see Config::upload_permits.
    pub uploads: Arc<Semaphore>,
}

impl AppState {
    /// Connects to the database, applies pending migrations, prepares the cache
    /// and the rate limits (Redis is connected on first use, so the server
    /// starts while it is down) and builds the schema.
    pub async fn init(config: Config) -> anyhow::Result<Self> {
        let statements = Arc::new(StatementCounter::default());
        let db = db::connect(&config.database, statements.clone()).await?;
        db::migrate(&db).await?;
        let redis = RedisConnection::from_config(&config.cache)?;
        let cache = Cache::new(&config.cache, redis.clone());
        let events = Events::start(&config, &db, redis.clone())?;
        let clock = Clock::system();
        let persisted = PersistedQueries::new(
            redis.clone(),
            &config.cache.key_prefix,
            persisted::MAX_PERSISTED_QUERIES,
        );
        let request_rate_limit = Arc::new(rate_limit(
            "requests",
            config.rate_limit_per_minute,
            redis.as_ref(),
            &config.cache,
        ));
        let writes = WriteQueue::for_database(&db);
        let graphql = graphql::build_executor(
            db.clone(),
            statements.clone(),
            cache.clone(),
            events.clone(),
            clock.clone(),
            writes.clone(),
            ApiMode::from_restrict_api(config.restrict_api),
        );
        Ok(AppState(Arc::new(Shared {
            token_users: TokenUsers::for_database(&db, &config.database.url),
            db,
            github: Github::from_config(&config),
            openidc: config.openidc.as_ref().map(OpenIdc::new),
            token_rate_limit: Arc::new(rate_limit(
                "token",
                config.token_requests_per_minute,
                redis.as_ref(),
                &config.cache,
            )),
            request_rate_limit: request_rate_limit.clone(),
            failed_attempts: Arc::new(FailedAttempts::new(request_rate_limit)),
            uploads: Arc::new(Semaphore::new(config.upload_permits())),
            writes,
            config: Arc::new(config),
            graphql,
            cache,
            responses: ResponseCache::default(),
            events,
            live: Connections::default(),
            clock,
            persisted,
            statements,
            redis,
        })))
    }

    /// Redis round trips since start-up (none without Redis), the subscriber's
    /// connection aside.
    pub fn redis_round_trips(&self) -> u64 {
        self.redis.as_ref().map_or(0, RedisConnection::round_trips)
    }

    pub fn mode(&self) -> ApiMode {
        ApiMode::from_restrict_api(self.config.restrict_api)
    }
}

/// Counted in Redis when there is one, so that all web processes share one
/// allowance per client.
fn rate_limit(
    name: &str,
    per_minute: u32,
    redis: Option<&RedisConnection>,
    cache: &CacheConfig,
) -> RequestRateLimit {
    let limit = RequestRateLimit::per_minute(per_minute);
    match redis {
        Some(redis) => limit.shared(
            redis.clone(),
            format!("{}ratelimit:{name}:", cache.key_prefix),
            cache.redis_retry_after,
        ),
        None => limit,
    }
}
