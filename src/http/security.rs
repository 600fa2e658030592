//! Browser security headers: Content-Security-Policy for the editor's pages and
//! for the eval frame, CORS for an explicit allow-list, and https with HSTS when
//! SERVER_URI is https.

use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::{hosts::Site, is_health_check};
use crate::{app::AppState, config::Config};

const GA_SCRIPT_ORIGIN: &str = "https://www.googletagmanager.com";
const GA_CONNECT_ORIGINS: &str = "https://www.google-analytics.com https://*.google-analytics.com";

pub const CROSS_ORIGIN_OPENER_POLICY: axum::http::HeaderName =
    axum::http::HeaderName::from_static("cross-origin-opener-policy");
/// The editor's pages keep no handle to windows of other sites that open them;
/// the sign-in popup that they open keeps its way back (window.opener).
pub const OPENER_POLICY: &str = "same-origin-allow-popups";
/// Same-origin requests keep the full Referer (is_same_origin falls back on
/// it); other sites learn nothing of the notebook's address.
pub const REFERRER_POLICY: &str = "same-origin";

/// The editor's origin, as browsers write it: `scheme://host[:port]`.
pub fn editor_origin(config: &Config) -> String {
    config.server_uri.origin().ascii_serialization()
}

/// Where notebook code runs: EVAL_FRAME_ORIGIN, or the editor's own origin.
pub fn eval_origin(config: &Config) -> String {
    config
        .eval_frame_origin
        .as_ref()
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_else(|| editor_origin(config))
}

/// The editor's pages: our scripts only, framed by nobody, framing only the
/// eval frame.
pub fn editor_page_csp(config: &Config) -> String {
    let analytics = config.ga_tracking_id.is_some();
    // The static path only: a user's uploaded .js, served from the same origin,
    // must not count as our script.
    let ours = format!("{}/static/", editor_origin(config));
    let script = if analytics {
        format!("{ours} {GA_SCRIPT_ORIGIN}")
    } else {
        ours
    };
    let connect = if analytics {
        format!("'self' {GA_CONNECT_ORIGINS}")
    } else {
        "'self'".into()
    };
    format!(
        "default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: https:; connect-src {connect}; frame-src {}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
        eval_origin(config)
    )
}

/// The eval frame runs whatever the notebook says, so the policy does not try to
/// contain its scripts; it only lets the editor, and nobody else, frame it.
pub fn eval_frame_csp(config: &Config) -> String {
    format!(
        "frame-ancestors {}; base-uri 'none'; object-src 'none'",
        editor_origin(config)
    )
}

/// CORS for /api/graphql: the configured origins only, with credentials. The
/// eval frame's origin and "null" are refused by the configuration itself.
pub fn cors(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .cors_allowed_origins
        .iter()
        .filter_map(|url| HeaderValue::from_str(&url.origin().ascii_serialization()).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("x-requested-with"),
        ])
        .allow_credentials(true)
}

/// When SERVER_URI is https: requests that a proxy reports as plain http
/// (X-Forwarded-Proto, as on Heroku) are redirected, and every response carries
/// HSTS. A request without the header came straight to us, and we trust it.
pub async fn https_only(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.config.server_uri.scheme() != "https" {
        return next.run(request).await;
    }
    let forwarded_http = request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("http"));
    if forwarded_http && !is_health_check(request.uri().path()) {
        // The configured origin of the site asked for, never the client's Host.
        let mut target = match request.extensions().get::<Site>() {
            Some(Site::EvalFrame) => state.config.eval_frame_origin.clone(),
            _ => None,
        }
        .unwrap_or_else(|| state.config.server_uri.clone());
        target.set_path(request.uri().path());
        target.set_query(request.uri().query());
        let mut response = Redirect::permanent(target.as_str()).into_response();
        *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
        return response;
    }
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    response
}
