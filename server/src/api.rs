//! The HTTP API under `/api` (paths and bodies in `kefu_protocol::api`): the web app's
//! configuration probe, guest identities and agent sign-in. Errors are typed ([`ApiError`])
//! and answered as `{"error": "..."}` with their status.

use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kefu_protocol::api;

use crate::app::{truncated, AppState, Client, Origin};
use crate::auth;

/// Why an API call failed; each has its status and a message for a person.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("send JSON {{\"name\": ..., \"password\": ...}}")]
    BadSignIn,
    #[error("wrong name or password")]
    WrongCredentials,
    #[error("send Authorization: Bearer with an agent session token")]
    NotASession,
    #[error("too many failed sign-ins; try again in {0} s")]
    Throttled(u64),
    #[error("too many sign-ins at once; try again in a moment")]
    Busy,
    #[error("too many new guests from your address; try again in {0} s")]
    TooManyGuests(u64),
    #[error("accounts are unavailable; retry")]
    AccountsUnavailable(#[source] crate::store::StoreError),
    #[error("origin not allowed")]
    ForeignOrigin,
    #[error("this server does not answer to that host name (start it with --public-origin)")]
    ForeignHost,
    #[error("no such API")]
    NotFound,
    #[error("{0}")]
    BadAppSignature(String),
    #[error("a friendship needs two different users")]
    SameUser,
    #[error("a and b must be user ids: 0 up to 2^53 - 1")]
    NotUsers,
    #[error("this body was applied already, or a later one for the same pair was (sign each change anew)")]
    StaleAppBody,
    #[error("one of the two has blocked the other")]
    Blocked,
    #[error("one of the two already has the most friends allowed")]
    TooManyFriends,
    #[error("friends are unavailable; retry")]
    FriendsUnavailable(#[source] crate::store::StoreError),
    #[error("give ?text= one of this server's invite links (at most {} bytes)", api::QR_MAX_TEXT_BYTES)]
    NotAnInvite,
    #[error("too many QR pictures; try again in {0} s")]
    TooManyPictures(u64),
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::BadSignIn => StatusCode::BAD_REQUEST,
            ApiError::WrongCredentials | ApiError::NotASession => StatusCode::UNAUTHORIZED,
            ApiError::Throttled(_) | ApiError::TooManyGuests(_) | ApiError::TooManyPictures(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::AccountsUnavailable(_) | ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::ForeignOrigin => StatusCode::FORBIDDEN,
            ApiError::ForeignHost => StatusCode::MISDIRECTED_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadAppSignature(_) => StatusCode::UNAUTHORIZED,
            ApiError::SameUser | ApiError::NotUsers => StatusCode::BAD_REQUEST,
            ApiError::NotAnInvite => StatusCode::BAD_REQUEST,
            ApiError::Blocked | ApiError::TooManyFriends | ApiError::StaleAppBody => StatusCode::CONFLICT,
            ApiError::FriendsUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Seconds after which trying again makes sense, for `Retry-After`.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Throttled(seconds)
            | ApiError::TooManyGuests(seconds)
            | ApiError::TooManyPictures(seconds) => Some(*seconds),
            ApiError::Busy => Some(1),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::AccountsUnavailable(err) = &self {
            tracing::error!(%err, "cannot read agent accounts");
        }
        let mut response = (self.status(), Json(api::ErrorBody { error: self.to_string() })).into_response();
        if let Some(seconds) = self.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// What the web app needs to know before connecting: this server has accounts, and which
/// other backends the console it serves may send an agent's password to.
pub(crate) async fn config(State(state): State<AppState>) -> Json<api::Config> {
    Json(api::Config {
        accounts: true,
        sign_in_origins: state.config.console_backends.clone(),
        branding: state.config.branding.clone(),
    })
}

/// A new guest identity for a visitor of the user page; a few per address, and a bound on
/// how many the server hands out in all.
pub(crate) async fn new_guest(
    State(state): State<AppState>,
    Extension(Client(address)): Extension<Client>,
) -> Result<Json<api::Guest>, ApiError> {
    let auth = state.auth.as_ref().ok_or(ApiError::NotFound)?;
    let now = Instant::now();
    if !state.guests_per_address.take(&address).await {
        return Err(ApiError::TooManyGuests(state.guests_per_address.wait_secs(&address).await));
    }
    let in_all = state.config.guests.in_all;
    let issued = state.guests.lock().unwrap_or_else(|p| p.into_inner()).take(in_all, now);
    if !issued {
        return Err(ApiError::TooManyGuests(1));
    }
    let (uid, name, token) = auth.new_guest();
    Ok(Json(api::Guest { uid, name, token }))
}

/// The embedding app's backend sets or ends a friendship: the body is a JWT signed with the
/// app secret ([`kefu_protocol::friends::AppFriendship`]). Both users' open pages get their
/// friends list at once. Ending a friendship that does not exist is not an error.
pub(crate) async fn app_friendship(
    State(state): State<AppState>,
    body: String,
) -> Result<Json<api::Friendship>, ApiError> {
    use crate::store::FriendError;
    let auth = state.auth.as_ref().ok_or(ApiError::NotFound)?;
    let request = auth.app_friendship(body.trim()).map_err(|refusal| match refusal {
        auth::AppBodyRefusal::Signature(why) => ApiError::BadAppSignature(why),
        auth::AppBodyRefusal::Ids => ApiError::NotUsers,
    })?;
    let (a, b) = (request.a, request.b);
    if a == b {
        return Err(ApiError::SameUser);
    }
    let store = &state.shared.store;
    // A body is applied once, and never after a later one for the same pair (no replay).
    let digest = body.trim().rsplit('.').next().unwrap_or_default();
    match store.apply_app_body(a, b, request.iat, digest).await {
        Ok(crate::store::AppBody::Fresh) => {}
        Ok(crate::store::AppBody::Stale) => return Err(ApiError::StaleAppBody),
        Err(err) => return Err(ApiError::FriendsUnavailable(err)),
    }
    let outcome = if request.friends {
        store.make_friends(a, b).await.map(|_| ())
    } else {
        match store.end_friendship(a, b).await {
            Err(FriendError::NotFriends) => Ok(()),
            other => other,
        }
    };
    match outcome {
        Ok(()) => {}
        Err(FriendError::Blocked) => return Err(ApiError::Blocked),
        Err(FriendError::TooManyFriends) => return Err(ApiError::TooManyFriends),
        Err(FriendError::Store(err)) => return Err(ApiError::FriendsUnavailable(err)),
        Err(
            FriendError::UnknownUser
            | FriendError::NotFriends
            | FriendError::NoRequest
            | FriendError::RequestsFull,
        ) => return Err(ApiError::SameUser),
    }
    state.shared.friends_changed(&[a, b]).await;
    tracing::info!(a = a.get(), b = b.get(), friends = request.friends, "friendship set by the app");
    Ok(Json(api::Friendship { a, b, friends: request.friends }))
}

/// Agent sign-in: a session token for a right name and password.
///
/// Failed attempts are counted per name *and address* (so guessing one name from one place
/// does not lock its owner out from another) and per address (so one place cannot try many
/// names); checks themselves run on a bounded pool ([`crate::passwords`]).
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Extension(Client(address)): Extension<Client>,
    body: Option<Json<api::SignIn>>,
) -> Result<Json<api::Session>, ApiError> {
    let auth = state.auth.as_ref().ok_or(ApiError::NotFound)?;
    let Json(api::SignIn { name, password }) = body.ok_or(ApiError::BadSignIn)?;
    let name_key = (name.clone(), address);
    let wait = state
        .failures_per_name
        .wait_secs(&name_key)
        .await
        .max(state.failures_per_address.wait_secs(&address).await);
    if wait > 0 {
        return Err(ApiError::Throttled(wait));
    }
    // A name no account can have is refused at once: nothing to hide, nothing to hash.
    let account = if auth::valid_agent_name(&name) {
        state.shared.store.agent(&name).await.map_err(ApiError::AccountsUnavailable)?
    } else {
        None
    };
    // Hash even for an unknown name, so the answer time does not tell which names exist.
    let hash = account.as_ref().map(|a| a.password_hash.clone()).unwrap_or_else(dummy_hash);
    let matches = auth::valid_agent_name(&name)
        && state.verifier.verify(password, hash).await.map_err(|_| ApiError::Busy)?;
    let Some(account) = account.filter(|_| matches) else {
        tracing::info!(name = truncated(&name), %address, "sign-in refused");
        state.failures_per_name.take(&name_key).await;
        state.failures_per_address.take(&address).await;
        return Err(ApiError::WrongCredentials);
    };
    state.failures_per_name.forget(&name_key).await;
    tracing::info!(name, %address, "agent signed in");
    let token = auth.agent_token(&name, account.session_epoch);
    Ok(Json(api::Session { name, token, expires_in: auth::AGENT_SESSION_SECS }))
}

/// Agent sign-out (`DELETE`, the session token as `Authorization: Bearer`): every session of
/// the account ends, on every instance (their epoch is moved on in the shared database, and
/// each connection is checked against it). Repeating it changes nothing.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let auth = state.auth.as_ref().ok_or(ApiError::NotFound)?;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(ApiError::NotASession)?;
    let Ok(auth::Identity::Agent { name, epoch }) =
        auth.identify(kefu_protocol::ids::Caller::Agent, Some(token))
    else {
        return Err(ApiError::NotASession);
    };
    let ended =
        state.shared.store.end_agent_sessions(&name, epoch).await.map_err(ApiError::AccountsUnavailable)?;
    if ended {
        tracing::info!(name, "agent signed out: the account's sessions ended");
        state.shared.end_agent_sessions(&name, epoch + 1);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// An Argon2id hash of a password nobody knows, verified against for unknown names.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| auth::hash_password("no such agent").unwrap_or_default()).clone()
}

#[derive(serde::Deserialize)]
pub(crate) struct QrQuery {
    #[serde(default)]
    text: String,
}

/// `GET /api/qr?text=LINK`: the QR code of this server's invite link for the invite token in
/// `LINK` (signed by this server), rebuilt from the token and this server's own origin: never
/// the rest of `LINK`, so no foreign or `javascript:` link and no free text is ever drawn.
/// Limited per address; pictures are cached by link (bounded: [`crate::qr::CACHED_PICTURES`]).
pub(crate) async fn qr(
    State(state): State<AppState>,
    Extension(Client(address)): Extension<Client>,
    Extension(Origin(origin)): Extension<Origin>,
    axum::extract::Query(query): axum::extract::Query<QrQuery>,
) -> Result<Response, ApiError> {
    if !state.qr_per_address.take(&address, Instant::now()) {
        return Err(ApiError::TooManyPictures(state.qr_per_address.wait_secs(&address, Instant::now())));
    }
    if query.text.len() > api::QR_MAX_TEXT_BYTES {
        return Err(ApiError::NotAnInvite);
    }
    let token = crate::qr::invite_in(&query.text).ok_or(ApiError::NotAnInvite)?;
    state.shared.invites.inviter(&token).ok_or(ApiError::NotAnInvite)?;
    let link = crate::qr::own_invite_link(&origin, &token);
    let picture = state.qr_pictures.of(&link).ok_or(ApiError::NotAnInvite)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
            // The picture depends on the token and this server's name only.
            (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400")),
        ],
        picture.as_str().to_owned(),
    )
        .into_response())
}
