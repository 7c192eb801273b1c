//! The HTTP side: routes, static files, and the serve loop with graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};

use kefu_protocol::v1::SUBPROTOCOL;

use crate::hub::Hub;
use crate::session::{self, Shared};
use crate::store::Store;
use crate::Config;

/// How long shutdown waits for sessions to send their close frames.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    sessions: TaskTracker,
    v1: bool,
}

/// The router: `/webSocket/{userId}`, then the web app, with `index.html` for client routes.
fn router(config: &Config, state: AppState) -> Router {
    let index = config.static_dir.join("index.html");
    let files = ServeDir::new(&config.static_dir).fallback(ServeFile::new(index));
    Router::new()
        .route("/webSocket/{user_id}", get(upgrade))
        .with_state(state)
        .fallback_service(files)
        .layer(CompressionLayer::new())
}

async fn upgrade(
    Path(user_id): Path<String>,
    State(state): State<AppState>,
    ws: WebSocketUpgrade,
) -> Response {
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
    let uid = kefu_protocol::parse_user_id(&user_id);
    let sessions = state.sessions.clone();
    let shared = state.shared.clone();
    ws.on_upgrade(move |socket| {
        let v1 = socket.protocol().is_some_and(|p| p.as_bytes() == SUBPROTOCOL.as_bytes());
        sessions.track_future(async move {
            match uid {
                Some(uid) => session::run(socket, uid, v1, shared).await,
                None => session::refuse(socket, "user id must be a signed 64-bit integer").await,
            }
        })
    })
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
    let sessions = TaskTracker::new();
    let app = router(&config, AppState { shared, sessions: sessions.clone(), v1: config.v1 });
    axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await?;
    sessions.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, sessions.wait()).await.is_err() {
        tracing::warn!("some sessions did not close within {SHUTDOWN_GRACE:?}");
    }
    Ok(())
}
