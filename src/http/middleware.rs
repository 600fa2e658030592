//! The layers that every request passes, listed in the order it meets them.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    Extension, Router,
    extract::{ConnectInfo, Request, State},
    http::{Extensions, HeaderName, HeaderValue, header},
    middleware::{Next, from_fn_with_state},
    response::{IntoResponse, Response},
};
use axum_client_ip::{ClientIp, Rejection};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::{DefaultOnResponse, TraceLayer},
};

use super::{
    connection_limits, eval_frame, failed_authentication, graphql, hosts, is_health_check, security,
};
use crate::{
    app::AppState,
    auth::{self, Authenticator, session},
    error::Error,
    rate_limit::{Allowance, ClientKey, RequestCharge, RequestRateLimit},
    viewer::Viewer,
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps the routes in the server's layers: first the request id and the
/// request's log span, then the site-wide refusals (unknown hosts, plain http,
/// the eval frame's host), then the charge for refused credentials around who
/// is asking, then the rate limit, which charges the client that identity
/// names, and last the time limit of the body that the handler reads.
pub fn apply(state: &AppState, routes: Router<AppState>) -> Router<AppState> {
    let authenticator = authenticator(state);
    routes.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
            )
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(from_fn_with_state(state.clone(), hosts::check_host))
            .layer(from_fn_with_state(state.clone(), security::https_only))
            .layer(axum::middleware::from_fn(eval_frame::gate))
            .layer(SetResponseHeaderLayer::if_not_present(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ))
            .layer(session::layer(state.db.clone(), &state.config))
            .layer(Extension(state.config.client_ip_source.clone()))
            .layer(from_fn_with_state(
                state.failed_attempts.clone(),
                failed_authentication::charge_failures,
            ))
            .layer(from_fn_with_state(authenticator, auth::identify))
            .layer(from_fn_with_state(
                state.request_rate_limit.clone(),
                limit_requests,
            ))
            .layer(connection_limits::body_timeout(&state.config.connections)),
    )
}

/// Who a request's credentials name; subscriptions ask it too, for the
/// credential of their connection_init.
pub fn authenticator(state: &AppState) -> Arc<Authenticator> {
    Arc::new(Authenticator {
        db: state.db.clone(),
        cache: state.cache.clone(),
        token_users: state.token_users.clone(),
        secret_key: state.config.secret_key.clone(),
        openidc: state.openidc.clone(),
    })
}

/// Every log line of a request carries its id, which the response returns too.
fn request_span(request: &Request) -> tracing::Span {
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
    Error::Internal("a request handler panicked".into()).into_response()
}

/// After identity: charges one request, or leaves the charge to the GraphQL
/// handler (see `graphql::charges_itself`) and charges after it whatever it
/// did not. The headers show the allowance after the last charge, which a
/// handler with an allowance of its own leaves in the response's extensions.
async fn limit_requests(
    State(limit): State<Arc<RequestRateLimit>>,
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
    let client = ClientKey::of(&viewer, client_address(source, request.extensions()));
    let charge = RequestCharge::new(client.clone(), limit);
    if !graphql::charges_itself(&request)
        && let Err(error) = charge.pay(1).await
    {
        return with_allowance(error.into_response(), &charge);
    }
    request.extensions_mut().insert(client);
    request.extensions_mut().insert(charge.clone());
    let mut response = next.run(request).await;
    // The handler refused the request before charging it: it still counts.
    if charge.unsettled()
        && let Err(error) = charge.pay(1).await
    {
        response = error.into_response();
    }
    with_allowance(response, &charge)
}

fn with_allowance(mut response: Response, charge: &RequestCharge) -> Response {
    let last = response.extensions_mut().remove::<Allowance>();
    if let Some(last) = last.or_else(|| charge.allowance()) {
        last.write(response.headers_mut());
    }
    response
}

/// The address from CLIENT_IP_SOURCE. A request without the proxy's header did
/// not come through the proxy, so its peer is the client.
pub(super) fn client_address(
    source: Result<ClientIp, Rejection>,
    extensions: &Extensions,
) -> Option<IpAddr> {
    source.map(|ClientIp(address)| address).ok().or_else(|| {
        let ConnectInfo(peer) = extensions.get::<ConnectInfo<SocketAddr>>()?;
        Some(peer.ip())
    })
}
