//! The HTTP API under `/api` (paths and bodies in `kefu_protocol::api`): the web app's
//! configuration probe, guest identities and agent sign-in. Errors are typed ([`ApiError`])
//! and answered as `{"error": "..."}` with their status.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kefu_protocol::api;

use crate::app::AppState;
use crate::auth;

/// Why an API call failed; each has its status and a message for a person.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("send JSON {{\"name\": ..., \"password\": ...}}")]
    BadSignIn,
    #[error("wrong name or password")]
    WrongCredentials,
    #[error("too many failed sign-ins; try again in {0} s")]
    Throttled(u64),
    #[error("accounts are unavailable; retry")]
    AccountsUnavailable(#[source] crate::store::StoreError),
    #[error("origin not allowed")]
    ForeignOrigin,
    #[error("no such API")]
    NotFound,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadSignIn => StatusCode::BAD_REQUEST,
            ApiError::WrongCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::AccountsUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::ForeignOrigin => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::AccountsUnavailable(err) = &self {
            tracing::error!(%err, "cannot read agent accounts");
        }
        let mut response = (self.status(), Json(api::ErrorBody { error: self.to_string() })).into_response();
        if let ApiError::Throttled(seconds) = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// What the web app needs to know before connecting: this server has accounts.
pub(crate) async fn config() -> Json<api::Config> {
    Json(api::Config { accounts: true })
}

/// A new guest identity for a visitor of the user page.
pub(crate) async fn new_guest(State(state): State<AppState>) -> Result<Json<api::Guest>, ApiError> {
    let auth = state.auth.as_ref().ok_or(ApiError::NotFound)?;
    let (uid, name, token) = auth.new_guest();
    Ok(Json(api::Guest { uid, name, token }))
}

/// Agent sign-in: a session token for a right name and password.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    body: Option<Json<api::SignIn>>,
) -> Result<Json<api::Session>, ApiError> {
    let auth = state.auth.as_ref().ok_or(ApiError::NotFound)?;
    let Json(api::SignIn { name, password }) = body.ok_or(ApiError::BadSignIn)?;
    if let Some(seconds) = state.throttle.wait(&name, std::time::Instant::now()) {
        return Err(ApiError::Throttled(seconds));
    }
    let account = state.shared.store.agent(&name).await.map_err(ApiError::AccountsUnavailable)?;
    // Hash even for an unknown name, so the answer time does not tell which names exist.
    let hash = account.as_ref().map(|a| a.password_hash.clone()).unwrap_or_else(dummy_hash);
    let matches =
        tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash)).await.unwrap_or(false);
    let Some(account) = account.filter(|_| matches) else {
        tracing::info!(name, "sign-in refused");
        state.throttle.failed(&name, std::time::Instant::now());
        return Err(ApiError::WrongCredentials);
    };
    state.throttle.succeeded(&name);
    tracing::info!(name, "agent signed in");
    let token = auth.agent_token(&name, account.session_epoch);
    Ok(Json(api::Session { name, token, expires_in: auth::AGENT_SESSION_SECS }))
}

/// An Argon2id hash of a password nobody knows, verified against for unknown names.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| auth::hash_password("no such agent").unwrap_or_default()).clone()
}

/// Refuses every `/api` call from a page whose origin is not allowed.
pub(crate) async fn origin_guard(
    allowed: Arc<Vec<String>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !crate::app::origin_allowed(request.headers(), &allowed) {
        return ApiError::ForeignOrigin.into_response();
    }
    next.run(request).await
}
