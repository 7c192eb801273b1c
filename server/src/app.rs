//! The HTTP side: routes (WebSocket, `/api` for sign-in and guests, the web app), the checks
//! every API call and WebSocket passes (the `Host` is one of ours, the `Origin` is ours or
//! allowed), the WebSocket upgrade (who is connecting), and the serve loop: accept, HTTP/1.1
//! per connection with a deadline for each request head, graceful shutdown.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use futures_util::StreamExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use kefu_protocol::ids::Caller;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::timeout::TimeoutLayer;

use kefu_protocol::api;
use kefu_protocol::friends::SUBPROTOCOL_V2;
use kefu_protocol::v1::SUBPROTOCOL;

use crate::api::ApiError;
use crate::auth::{Auth, Identity, Invites};
use crate::cluster::limits::Limit;
use crate::cluster::Cluster;
use crate::limits::Bucket;
use crate::net::{self, Connections, Slot};
use crate::passwords::Verifier;
use crate::session::{self, Close, Protocol, Shared};
use crate::Config;

/// How long shutdown waits for sessions to send their close frames.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Largest `/api` request body.
const API_BODY_LIMIT: usize = 16 * 1024;
/// Addresses (or name and address pairs) whose rate limits are remembered at most.
const REMEMBERED_ADDRESSES: usize = 100_000;

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) shared: Arc<Shared>,
    sessions: TaskTracker,
    pub(crate) config: Arc<Config>,
    /// `None`: any identity is accepted (`--insecure-no-auth`).
    pub(crate) auth: Option<Arc<Auth>>,
    pub(crate) verifier: Arc<Verifier>,
    /// Failed sign-ins per (name, address) and per address (at every instance).
    pub(crate) failures_per_name: Arc<Limit<(String, IpAddr)>>,
    pub(crate) failures_per_address: Arc<Limit<IpAddr>>,
    /// Guest identities issued per address (at every instance), and by this server in all.
    pub(crate) guests_per_address: Arc<Limit<IpAddr>>,
    pub(crate) guests: Arc<std::sync::Mutex<Bucket>>,
    /// QR pictures drawn per address (each costs ~2 ms of CPU), and those already drawn.
    pub(crate) qr_per_address: Arc<crate::limits::Buckets<IpAddr>>,
    pub(crate) qr_pictures: Arc<crate::qr::Pictures>,
    connections: Arc<Connections>,
    readiness: Arc<tokio::sync::Mutex<Readiness>>,
}

/// Who sent a request, as far as this server can tell (see [`net::client_address`]); put in
/// the request's extensions by [`guard`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client(pub(crate) IpAddr);

/// This server's origin as the request names it (`http://HOST`, or `https://HOST` behind a
/// trusted proxy that says so); its host already checked to be one of ours by [`guard`].
#[derive(Debug, Clone)]
pub(crate) struct Origin(pub(crate) String);

/// The router: `/webSocket/{userId}`, `/api/...`, then the web app, with `index.html` for
/// client routes.
fn router(config: &Config, state: AppState) -> Router {
    // Precompressed at build time (`precompress`): the .br or .gz beside a file is sent to a
    // browser that takes it.
    let index = ServeFile::new(config.static_dir.join("index.html")).precompressed_br().precompressed_gzip();
    let files = ServeDir::new(&config.static_dir).precompressed_br().precompressed_gzip().fallback(index);
    // The console is its own page (and wasm binary): `/agent` serves agent.html.
    let console =
        ServeFile::new(config.static_dir.join("agent.html")).precompressed_br().precompressed_gzip();
    // So is the Friends page: `/friends` serves friends.html (not `/friends/`: the page's
    // links to `/` are relative).
    let friends =
        ServeFile::new(config.static_dir.join("friends.html")).precompressed_br().precompressed_gzip();
    let mut router = Router::new()
        .route(&format!("{}{{user_id}}", kefu_protocol::ENDPOINT_PREFIX), get(upgrade))
        .route(HEALTHZ_PATH, get(|| async { "ok" }))
        .route(READYZ_PATH, get(ready))
        .route_service("/agent", console.clone())
        .route_service("/agent/", console)
        .route_service(FRIENDS_PAGE_PATH, friends);
    if state.auth.is_some() {
        let origins: Vec<HeaderValue> =
            config.allowed_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]);
        let api = Router::new()
            .route(api::CONFIG_PATH, get(crate::api::config))
            .route(api::GUEST_PATH, post(crate::api::new_guest))
            .route(api::AGENT_SESSION_PATH, post(crate::api::sign_in).delete(crate::api::sign_out))
            .route(api::APP_FRIENDSHIP_PATH, post(crate::api::app_friendship))
            .route(api::QR_PATH, get(crate::api::qr))
            .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
            // A body past the limit is refused from its Content-Length, before it is read; a
            // request that takes too long (a body sent byte by byte) is cut off.
            .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
            .layer(RequestBodyLimitLayer::new(API_BODY_LIMIT))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                config.connections.handshake_timeout,
            ))
            .layer(cors);
        router = router.merge(api);
    }
    // An unknown API path is an error, not the web app's index page.
    let unknown_api = format!("{}{{*rest}}", api::PREFIX);
    router = router.route(&unknown_api, axum::routing::any(|| async { ApiError::NotFound }));
    router.with_state(state).fallback_service(files).layer(axum::middleware::from_fn(
        |request: Request, next: axum::middleware::Next| async move {
            let path = request.uri().path().to_owned();
            crate::assets::cache_control(&path, next.run(request).await)
        },
    ))
}

/// Process up: always `200 ok` while the server accepts connections (a load balancer's
/// liveness check, and the pages' probe during an outage).
pub use kefu_protocol::api::HEALTHZ_PATH;
/// The Friends page (the web app links to it relatively, `kefu_core::config::FRIENDS_PAGE`).
pub const FRIENDS_PAGE_PATH: &str = "/friends";
/// Ready for traffic: `200 ready` when the database takes a write within
/// [`READY_TIMEOUT`], else `503` with the reason. Checked at most once per [`READY_EVERY`]
/// whatever the number of callers; the others get the last answer.
pub const READYZ_PATH: &str = "/readyz";
const READY_TIMEOUT: Duration = Duration::from_secs(2);
const READY_EVERY: Duration = Duration::from_secs(1);

/// The last readiness answer and when it was found.
#[derive(Default)]
pub(crate) struct Readiness {
    checked: Option<(tokio::time::Instant, Result<(), String>)>,
}

async fn ready(State(state): State<AppState>) -> Response {
    // Held across the check: concurrent callers wait for it rather than repeating it.
    let mut readiness = state.readiness.lock().await;
    let fresh = readiness.checked.as_ref().is_some_and(|(at, _)| at.elapsed() < READY_EVERY);
    if !fresh {
        let result = match tokio::time::timeout(READY_TIMEOUT, state.shared.store.check_writable()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(format!("database: {err}")),
            Err(_) => Err(format!("database: no write lock within {} s", READY_TIMEOUT.as_secs())),
        };
        if let Err(reason) = &result {
            tracing::warn!("not ready: {reason}");
        }
        readiness.checked = Some((tokio::time::Instant::now(), result));
    }
    // Redis down leaves the instance able to store and deliver here, so it stays in service
    // (taking every instance out at once would make a slower cluster an outage); it says so.
    let redis = state.shared.cluster.as_ref().map(|cluster| cluster.status());
    match readiness.checked.as_ref().map(|(_, result)| result.clone()) {
        Some(Ok(())) => match redis {
            Some(Err(reason)) => (StatusCode::OK, format!("ready; degraded: {reason}")).into_response(),
            Some(Ok(())) => (StatusCode::OK, "ready; redis: ok").into_response(),
            None => (StatusCode::OK, "ready").into_response(),
        },
        Some(Err(reason)) => (StatusCode::SERVICE_UNAVAILABLE, reason).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "not checked").into_response(),
    }
}

/// Refuses an `/api` call whose `Host` is not one of ours or whose page is from a foreign
/// origin; tells the handlers who the client is.
async fn guard(
    State(state): State<AppState>,
    mut request: Request,
    next: axum::middleware::Next,
) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    match check(&state.config, peer, request.headers()) {
        Ok((client, origin)) => {
            request.extensions_mut().insert(client);
            request.extensions_mut().insert(origin);
            next.run(request).await
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// The checks every API call and WebSocket passes; the client's address when they pass.
fn check(
    config: &Config,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Result<(Client, Origin), ApiError> {
    let peer = peer.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    if !host_allowed(host, &config.public_origins) {
        tracing::info!(host = truncated(host), "request for a host name that is not ours refused");
        return Err(ApiError::ForeignHost);
    }
    let via_proxy = config.trusted_proxies.contains(&peer.ip());
    let tls = via_proxy
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    if !origin_allowed(headers, tls, &config.allowed_origins, &config.public_origins) {
        tracing::info!(origin = ?headers.get(header::ORIGIN), "request from a foreign origin refused");
        return Err(ApiError::ForeignOrigin);
    }
    let own = Origin(format!("{}://{host}", if tls { "https" } else { "http" }));
    Ok((Client(net::client_address(peer, headers, &config.trusted_proxies)), own))
}

/// At most 64 characters of what a client sent, for the log.
pub(crate) fn truncated(text: &str) -> String {
    text.chars().take(64).filter(|c| !c.is_control()).collect()
}

/// Whether `host` (the `Host` header) names this server: an IP address, `localhost`, or the
/// host of one of its public origins. Anything else may be a DNS rebinding: a foreign name
/// made to point at this server, so that a foreign page counts as same-origin.
pub(crate) fn host_allowed(host: &str, public_origins: &[String]) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map(|(name, _)| name).unwrap_or(host),
    };
    name.parse::<IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || public_origins.iter().any(|origin| {
            let authority = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
            authority.eq_ignore_ascii_case(host)
                || authority.rsplit_once(':').is_some_and(|(n, _)| n.eq_ignore_ascii_case(host))
                || authority.eq_ignore_ascii_case(name)
        })
}

/// Whether the request comes from a page allowed to use this server: no `Origin` (not a
/// browser page), the server's own origin with its own scheme (`https` only when a trusted
/// proxy says the client came over TLS), one of its public origins, or one of
/// `--allow-origin`.
pub(crate) fn origin_allowed(headers: &HeaderMap, tls: bool, allowed: &[String], public: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let own = format!("{}://{host}", if tls { "https" } else { "http" });
    origin.eq_ignore_ascii_case(&own) || allowed.iter().chain(public).any(|a| a.eq_ignore_ascii_case(origin))
}

#[derive(Deserialize)]
struct Credentials {
    token: Option<String>,
}

async fn upgrade(
    Path(user_id): Path<String>,
    Query(credentials): Query<Credentials>,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    slot: Option<Extension<Arc<Slot>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // A page from a foreign site must not act for a signed-in visitor of ours.
    let client = if state.auth.is_some() {
        match check(&state.config, Some(peer), &headers) {
            Ok((client, _)) => client,
            Err(refusal) => return (refusal.status(), refusal.to_string()).into_response(),
        }
    } else {
        Client(net::client_address(peer, &headers, &state.config.trusted_proxies))
    };
    // Behind a proxy, connections are counted by the client's address once upgraded.
    let mut slots: Vec<Arc<Slot>> = slot.map(|Extension(slot)| slot).into_iter().collect();
    if state.config.trusted_proxies.contains(&peer.ip()) {
        match state.connections.admit_forwarded(client.0, &state.config.connections) {
            Some(slot) => slots.push(slot),
            None => {
                return (StatusCode::TOO_MANY_REQUESTS, "too many connections from your address")
                    .into_response()
            }
        }
    }
    let max_frame = state.config.max_frame_bytes;
    // Small buffers, grown on demand: most frames are heartbeats, and the default 128 KiB read
    // buffer per connection would cost over a gigabyte at 10,000 connections.
    let ws = ws
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024);
    // The client's order decides: the page offers v2 before v1.
    let ws = if state.config.v1 { ws.protocols([SUBPROTOCOL_V2, SUBPROTOCOL]) } else { ws };
    // Only the agents' number and the users' range name anyone (`kefu_protocol::ids`).
    let identity = match Caller::parse(&user_id) {
        None => Err(Close::BadUserId),
        Some(caller) => identify(&state, caller, credentials.token.as_deref()).await,
    };
    let sessions = state.sessions.clone();
    let shared = state.shared.clone();
    // Refusals are close frames after the upgrade, so a browser page can show the reason.
    ws.on_upgrade(move |socket| {
        let protocol = match socket.protocol().map(|p| p.as_bytes()) {
            Some(p) if p == SUBPROTOCOL_V2.as_bytes() => Protocol::V2,
            Some(p) if p == SUBPROTOCOL.as_bytes() => Protocol::V1,
            _ => Protocol::V0,
        };
        sessions.track_future(async move {
            // The connection's places are held until the session ends.
            let _slots = slots;
            match identity {
                Ok(identity) => {
                    let (sink, stream) = socket.split();
                    session::run(sink, stream, identity, client.0, protocol, shared).await
                }
                Err(close) => session::refuse(socket, close).await,
            }
        })
    })
}

/// Why an agent session from before a sign-out or a new password is refused.
pub const SESSION_ENDED: &str = "this session has ended (signed out, or a new password): sign in again";

/// Who a connection is; a refusal carries its close code and reason.
async fn identify(state: &AppState, caller: Caller, token: Option<&str>) -> Result<Identity, Close> {
    let Some(auth) = &state.auth else {
        return Ok(match caller {
            Caller::Agent => Identity::Agent { name: kefu_protocol::AGENT_NAME.to_owned(), epoch: 0 },
            Caller::User(uid) => Identity::User { uid, name: None, avatar: None },
        });
    };
    let identity = auth.identify(caller, token).map_err(|refusal| {
        tracing::info!(uid = caller.raw(), %refusal, "connection refused");
        Close::Unauthorized(refusal.0)
    })?;
    if let Identity::Agent { name, epoch } = &identity {
        // A removed account's sessions end with it, and a new password ends the older ones.
        match state.shared.store.agent(name).await {
            Ok(Some(account)) if *epoch == account.session_epoch => {}
            Ok(Some(_)) => return Err(Close::Unauthorized(SESSION_ENDED.into())),
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
    store: crate::store::Store,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let secret = store.server_secret().await.map_err(std::io::Error::other)?;
    let cluster = match &config.redis {
        Some(url) => {
            let cluster = Cluster::new(url).map_err(std::io::Error::other)?;
            tracing::info!(node = cluster.node(), "one of several instances, through redis");
            Some(Arc::new(cluster))
        }
        None => None,
    };
    let shared =
        Arc::new(Shared::new(store, &config, shutdown.clone(), Invites::new(&secret), cluster.clone()));
    if let Some(cluster) = &cluster {
        cluster.start(&shared, &shutdown);
    }
    // People gone for longer than the presence grace are announced offline.
    {
        let (shared, shutdown) = (shared.clone(), shutdown.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(crate::hub::SWEEP_EVERY);
            loop {
                tokio::select! {
                    _ = ticks.tick() => shared.hub.sweep(Instant::now()),
                    _ = shutdown.cancelled() => break,
                }
            }
        });
    }
    // The team's timed work: snoozes that end, waiting conversations handed out, seats renewed.
    {
        let (shared, shutdown) = (shared.clone(), shutdown.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(crate::team::TICK);
            loop {
                tokio::select! {
                    _ = ticks.tick() => match crate::team::tick(&shared.store, &shared.seats).await {
                        Ok(frames) => frames.iter().for_each(|frame| shared.tell_agents(frame)),
                        Err(err) => tracing::warn!(%err, "team tick failed"),
                    },
                    _ = shutdown.cancelled() => break,
                }
            }
        });
    }
    let auth = if config.no_auth {
        None
    } else {
        let app_secret = config.app_secret.as_deref().map(str::as_bytes);
        Some(Arc::new(Auth::new(&secret, app_secret, config.trust_user_ids)))
    };
    let sessions = TaskTracker::new();
    let connections = Arc::new(Connections::default());
    let state = AppState {
        shared,
        sessions: sessions.clone(),
        auth,
        verifier: Arc::new(Verifier::start(config.sign_in.workers, config.sign_in.queue)),
        failures_per_name: Arc::new(Limit::new(
            "sign-in-name",
            config.sign_in.failures_per_name,
            REMEMBERED_ADDRESSES,
            cluster.clone(),
        )),
        failures_per_address: Arc::new(Limit::new(
            "sign-in-address",
            config.sign_in.failures_per_address,
            REMEMBERED_ADDRESSES,
            cluster.clone(),
        )),
        guests_per_address: Arc::new(Limit::new(
            "guests",
            config.guests.per_address,
            REMEMBERED_ADDRESSES,
            cluster.clone(),
        )),
        guests: Arc::new(std::sync::Mutex::new(Bucket::full(config.guests.in_all, Instant::now()))),
        qr_per_address: Arc::new(crate::limits::Buckets::new(config.qr_per_address, REMEMBERED_ADDRESSES)),
        qr_pictures: Arc::default(),
        connections: connections.clone(),
        readiness: Arc::default(),
        config: Arc::new(config.clone()),
    };
    let router = router(&config, state);
    let handlers = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = net::accept(&listener) => accepted,
        };
        // A trusted proxy's connections are counted by client address once upgraded.
        let address = (!config.trusted_proxies.contains(&peer.ip())).then_some(peer.ip());
        let Some(slot) = connections.admit(address, &config.connections) else {
            tracing::debug!(%peer, "connection refused: too many open");
            continue;
        };
        handlers.spawn(serve_connection(
            stream,
            peer,
            slot,
            router.clone(),
            config.connections.handshake_timeout,
            shutdown.clone(),
        ));
    }
    drop(listener);
    sessions.close();
    handlers.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, async {
        sessions.wait().await;
        handlers.wait().await;
    })
    .await
    .is_err()
    {
        tracing::warn!("some connections did not close within {SHUTDOWN_GRACE:?}");
    }
    Ok(())
}

/// HTTP/1.1 on one connection: the request head must arrive within `handshake_timeout`
/// (also between requests on a kept-alive connection); WebSockets are upgraded from it.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    slot: Arc<Slot>,
    router: Router,
    handshake_timeout: Duration,
    shutdown: CancellationToken,
) {
    let connection_slot = slot.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(connection_slot.clone());
        router.clone().oneshot(request.map(axum::body::Body::new))
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(handshake_timeout);
    let connection = http.serve_connection(TokioIo::new(stream), service).with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
        }
    }
    drop(slot);
}
