//! The HTTP side: routes (WebSocket, `/api` for sign-in and guests, the web app), the
//! Origin check, the WebSocket upgrade (who is connecting), and the serve loop with graceful
//! shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

use kefu_protocol::api;
use kefu_protocol::v1::SUBPROTOCOL;

use crate::api::ApiError;
use crate::auth::{self, Auth, Identity};
use crate::hub::Hub;
use crate::session::{self, Close, Shared};
use crate::store::Store;
use crate::Config;

/// How long shutdown waits for sessions to send their close frames.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) shared: Arc<Shared>,
    sessions: TaskTracker,
    v1: bool,
    /// `None`: any identity is accepted (`--insecure-no-auth`).
    pub(crate) auth: Option<Arc<Auth>>,
    pub(crate) throttle: Arc<auth::SignInThrottle>,
    allowed_origins: Arc<Vec<String>>,
}

/// The router: `/webSocket/{userId}`, `/api/...`, then the web app, with `index.html` for
/// client routes.
fn router(config: &Config, state: AppState) -> Router {
    let index = config.static_dir.join("index.html");
    let files = ServeDir::new(&config.static_dir).fallback(ServeFile::new(index));
    // The console is its own page (and wasm binary): `/agent` serves agent.html.
    let console = ServeFile::new(config.static_dir.join("agent.html"));
    let mut router = Router::new()
        .route(&format!("{}{{user_id}}", kefu_protocol::ENDPOINT_PREFIX), get(upgrade))
        .route_service("/agent", console.clone())
        .route_service("/agent/", console);
    if state.auth.is_some() {
        let origins: Vec<HeaderValue> =
            config.allowed_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE]);
        let origins_allowed = state.allowed_origins.clone();
        let api = Router::new()
            .route(api::CONFIG_PATH, get(crate::api::config))
            .route(api::GUEST_PATH, post(crate::api::new_guest))
            .route(api::AGENT_SESSION_PATH, post(crate::api::sign_in))
            .layer(axum::middleware::from_fn(move |request, next| {
                crate::api::origin_guard(origins_allowed.clone(), request, next)
            }))
            .layer(cors);
        router = router.merge(api);
    }
    // An unknown API path is an error, not the web app's index page.
    let unknown_api = format!("{}{{*rest}}", api::PREFIX);
    router = router.route(&unknown_api, axum::routing::any(|| async { ApiError::NotFound }));
    router.with_state(state).fallback_service(files).layer(CompressionLayer::new())
}

/// Whether the request comes from a page allowed to use this server: no `Origin` (not a
/// browser page), the server's own origin, or one of `--allow-origin`.
pub(crate) fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let own = origin.split_once("://").is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host));
    own || allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
}

#[derive(Deserialize)]
struct Credentials {
    token: Option<String>,
}

async fn upgrade(
    Path(user_id): Path<String>,
    Query(credentials): Query<Credentials>,
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // A page from a foreign site must not act for a signed-in visitor of ours.
    if state.auth.is_some() && !origin_allowed(&headers, &state.allowed_origins) {
        tracing::info!(origin = ?headers.get(header::ORIGIN), "WebSocket from a foreign origin refused");
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    // Frames a little over the text limit still get a readable notice; far over it, the
    // WebSocket layer closes with 1009 as the original did. UTF-8 needs at most 3 bytes per
    // UTF-16 unit.
    let max_bytes = state.shared.max_text_utf16 * 3 + 1024;
    // Small buffers, grown on demand: most frames are heartbeats, and the default 128 KiB read
    // buffer per connection would cost over a gigabyte at 10,000 connections.
    let ws = ws
        .max_message_size(max_bytes)
        .max_frame_size(max_bytes)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024);
    let ws = if state.v1 { ws.protocols([SUBPROTOCOL]) } else { ws };
    let identity = match kefu_protocol::parse_user_id(&user_id) {
        None => Err(Close::BadUserId),
        Some(uid) => identify(&state, uid, credentials.token.as_deref()).await,
    };
    let sessions = state.sessions.clone();
    let shared = state.shared.clone();
    // Refusals are close frames after the upgrade, so a browser page can show the reason.
    ws.on_upgrade(move |socket| {
        let v1 = socket.protocol().is_some_and(|p| p.as_bytes() == SUBPROTOCOL.as_bytes());
        sessions.track_future(async move {
            match identity {
                Ok(identity) => {
                    let (sink, stream) = socket.split();
                    session::run(sink, stream, identity, v1, shared).await
                }
                Err(close) => session::refuse(socket, close).await,
            }
        })
    })
}

/// Who a connection is; a refusal carries its close code and reason.
async fn identify(state: &AppState, uid: i64, token: Option<&str>) -> Result<Identity, Close> {
    let Some(auth) = &state.auth else {
        return Ok(if uid == kefu_protocol::AGENT_UID {
            Identity::Agent { name: kefu_protocol::AGENT_NAME.to_owned(), epoch: 0 }
        } else {
            Identity::User { uid, name: None }
        });
    };
    let identity = auth.identify(uid, token).map_err(|refusal| {
        tracing::info!(uid, %refusal, "connection refused");
        Close::Unauthorized(refusal.0)
    })?;
    if let Identity::Agent { name, epoch } = &identity {
        // A removed account's sessions end with it, and a new password ends the older ones.
        match state.shared.store.agent(name).await {
            Ok(Some(account)) if *epoch == account.session_epoch => {}
            Ok(Some(_)) => {
                return Err(Close::Unauthorized("the password has changed since: sign in again".into()))
            }
            Ok(None) => return Err(Close::Unauthorized("this agent account no longer exists".into())),
            Err(err) => {
                tracing::error!(%err, "cannot read agent accounts");
                return Err(Close::AccountsUnavailable);
            }
        }
    }
    Ok(identity)
}

/// Serves until `shutdown` is cancelled, then closes every WebSocket with 1001.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    store: Store,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        hub: Hub::default(),
        store,
        max_text_utf16: config.max_text_utf16,
        max_frames_per_second: config.max_frames_per_second,
        idle_timeout: config.idle_timeout,
        shutdown: shutdown.clone(),
    });
    let auth = if config.no_auth {
        None
    } else {
        let secret = shared.store.server_secret().await.map_err(std::io::Error::other)?;
        let app_secret = config.app_secret.as_deref().map(str::as_bytes);
        Some(Arc::new(Auth::new(&secret, app_secret, config.trust_user_ids)))
    };
    let sessions = TaskTracker::new();
    let state = AppState {
        shared,
        sessions: sessions.clone(),
        v1: config.v1,
        auth,
        throttle: Arc::new(auth::SignInThrottle::default()),
        allowed_origins: Arc::new(config.allowed_origins.clone()),
    };
    let app = router(&config, state);
    axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await?;
    sessions.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, sessions.wait()).await.is_err() {
        tracing::warn!("some sessions did not close within {SHUTDOWN_GRACE:?}");
    }
    Ok(())
}
