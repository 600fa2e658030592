//! Guessing credentials over HTTP costs like any other request (see
//! [`FailedAttempts`]): a request with an Authorization header from a spent
//! address gets 429 unlooked-up; a refused credential costs its address one
//! request (401, or 429 once the allowance is spent).

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use axum_client_ip::{ClientIp, Rejection};

use super::middleware::client_address;
use crate::{
    auth::CredentialRefused,
    rate_limit::{self, ClientKey, FailedAttempts},
    viewer::Viewer,
};

/// Around identity: charges refused credentials to their address.
pub async fn charge_failures(
    State(attempts): State<Arc<FailedAttempts>>,
    source: Result<ClientIp, Rejection>,
    request: Request,
    next: Next,
) -> Response {
    if !request.headers().contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let address = ClientKey::of(
        &Viewer::anonymous(),
        client_address(source, request.extensions()),
    );
    if let Some(refused) = attempts.refusal(&address) {
        return refused.into_response();
    }
    let response = next.run(request).await;
    if response.extensions().get::<CredentialRefused>().is_none() {
        return response;
    }
    match attempts.charge(&address).await {
        Ok(_) => response,
        Err((error, allowance)) => rate_limit::refused(error, allowance),
    }
}
