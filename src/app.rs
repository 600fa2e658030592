//! The application: its state, and [`build_app`], the one function that both
//! `main` and the tests call to get the router.

use std::sync::Arc;

use axum::{
    Extension, Router,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sea_orm::DatabaseConnection;
use tokio::sync::Semaphore;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::{DefaultOnResponse, TraceLayer},
};

use crate::{
    auth::{self, github::Github, openidc::OpenIdc, session},
    cache::{Cache, RedisConnection},
    config::{CacheConfig, Config},
    db::{self, StatementCounter},
    error::Error,
    graphql::{self, Executor},
    http::{self, rate_limit::RequestRateLimit},
    policy::ApiMode,
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
    /// SQL statements run since start-up.
    pub statements: Arc<StatementCounter>,
    pub github: Option<Github>,
    pub openidc: Option<OpenIdc>,
    /// The smaller allowance of /token/ and /token/refresh/.
    pub token_rate_limit: Arc<RequestRateLimit>,
    pub request_rate_limit: Arc<RequestRateLimit>,
    pub failed_attempts: http::failed_authentication::FailedAttempts,
    /// Permits for requests that carry files: see Config::upload_permits.
    pub uploads: Arc<Semaphore>,
}

impl AppState {
    /// Connects to the database, applies pending migrations, prepares the cache
    /// and the rate limits (Redis is connected on first use, so the server
    /// starts while it is down) and builds the schema.
    pub async fn init(config: Config) -> anyhow::Result<Self> {
        let statements = Arc::new(StatementCounter::default());
        let db = db::connect(&config, statements.clone()).await?;
        db::migrate(&db).await?;
        let redis = config
            .redis_url
            .as_ref()
            .map(|url| RedisConnection::lazy(url, config.cache.redis_timeout))
            .transpose()?;
        let cache = Cache::new(&config.cache, redis.clone());
        let graphql = graphql::build_executor(
            db.clone(),
            statements.clone(),
            cache.clone(),
            ApiMode::from_restrict_api(config.restrict_api),
        );
        Ok(AppState(Arc::new(Shared {
            db,
            github: Github::from_config(&config),
            openidc: config.openidc.as_ref().map(OpenIdc::new),
            token_rate_limit: Arc::new(rate_limit(
                "token",
                config.token_requests_per_minute,
                redis.as_ref(),
                &config.cache,
            )),
            request_rate_limit: Arc::new(rate_limit(
                "requests",
                config.rate_limit_per_minute,
                redis.as_ref(),
                &config.cache,
            )),
            failed_attempts: Default::default(),
            uploads: Arc::new(Semaphore::new(config.upload_permits())),
            config: Arc::new(config),
            graphql,
            cache,
            statements,
        })))
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

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn build_app(state: AppState) -> Router {
    Router::new()
        .merge(http::routes(&state))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::rate_limit::limit_requests,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::identify,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::failed_authentication::charge_failures,
        ))
        .layer(Extension(state.config.client_ip_source.clone()))
        .layer(session::layer(state.db.clone(), &state.config))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(axum::middleware::from_fn(http::eval_frame::gate))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::security::https_only,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            http::hosts::check_host,
        ))
        .layer(http::connection_limits::body_timeout(
            &state.config.connections,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// Every log line of a request carries its id, which the response returns too.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
    )
}

/// A panic is a bug: the client gets a 500 like any internal error and the
/// server goes on.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let body = Error::body("INTERNAL", "Something went wrong on the server.");
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

pub use crate::http::connection_limits::serve;
