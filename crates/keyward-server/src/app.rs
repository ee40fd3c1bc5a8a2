//! The service as one value: the router over every route, and `serve`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use tokio::net::TcpListener;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::{ApiError, BODY_LIMIT};
use crate::state::AppState;

/// The whole HTTP surface: management API, OAuth token endpoint, data plane, MCP and the
/// OpenAPI document.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = crate::routes::api_router(state.clone()).split_for_parts();
    let openapi = Arc::new(openapi);
    api.route(
        "/openapi.json",
        axum::routing::get(move || {
            let openapi = openapi.clone();
            async move { axum::Json((*openapi).clone()) }
        }),
    )
    .route_layer(axum::middleware::from_fn_with_state(state.metrics.clone(), crate::metrics::count_requests))
    .fallback(|| async { ApiError::NotFound("There is nothing at this address. See /openapi.json for the API.".into()) })
    .method_not_allowed_fallback(|| async {
        let mut response = axum::response::IntoResponse::into_response(ApiError::bad_request(
            "method_not_allowed",
            "This address does not accept that method. See /openapi.json for the API.",
        ));
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
    })
    .layer(DefaultBodyLimit::max(BODY_LIMIT))
    .layer(axum::middleware::from_fn(refuse_oversized_bodies))
    .layer(RequestBodyTimeoutLayer::new(state.config.body_timeout))
    .layer(crate::cors::cors_for_oauth_clients())
    .layer(axum::middleware::from_fn_with_state(state.clone(), crate::host_check::check_host))
    .layer(TraceLayer::new_for_http())
    .with_state(state)
}

/// Refuses a body announced as larger than [`BODY_LIMIT`] at once, without waiting for it.
async fn refuse_oversized_bodies(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let announced = request.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > BODY_LIMIT as u64) {
        return axum::response::IntoResponse::into_response(ApiError::PayloadTooLarge(BODY_LIMIT));
    }
    next.run(request).await
}

/// Serves until `shutdown` resolves, then writes pending usage and returns.
///
/// This is axum's `serve` with one addition: a deadline for reading request headers, so a
/// client that trickles them in (slowloris) loses its connection instead of keeping it open
/// forever. Connections still open at shutdown get a few seconds to finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto;

    let background = spawn_background(state.clone());
    let sharing = state.db.is_shared().then(|| crate::auth::shared_counts::spawn(state.clone()));
    let app = router(state.clone());
    let mut connections = auto::Builder::new(TokioExecutor::new());
    connections.http1().timer(TokioTimer::new()).header_read_timeout(state.config.header_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let bound = listener.local_addr()?;
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => {
                state.draining.store(true, std::sync::atomic::Ordering::Relaxed);
                break;
            }
        };
        let app = app.clone();
        // The address this connection reached, not the one listened on: bound to 0.0.0.0, a
        // connection over loopback still reaches 127.0.0.1, and gets the loopback Host rule.
        let local = stream.local_addr().unwrap_or(bound);
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(axum::extract::ConnectInfo(remote));
            request.extensions_mut().insert(crate::auth::client_address::LocalAddr(local));
            tower::ServiceExt::oneshot(app.clone(), request)
        });
        let connection = connections.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %remote, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await.is_err() {
        tracing::info!("connections still open after 5 s of shutting down were dropped");
    }
    background.abort();
    if let Some(sharing) = sharing {
        sharing.abort();
    }
    state.usage.flush(&state.db).await?;
    Ok(())
}

/// How long a self-registered OAuth client may go unused before it is forgotten.
const UNUSED_CLIENT_SECONDS: i64 = 24 * 3600;

/// Housekeeping: write remembered key and connection uses, write down rotations whose overlap
/// ended, and (every ten minutes) forget OAuth clients that registered and never came back and
/// authorization codes long expired.
fn spawn_background(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        let mut ticks: u64 = 0;
        loop {
            tick.tick().await;
            ticks += 1;
            if ticks % 300 == 1 {
                match state.db.forget_unused_clients(crate::db::now() - UNUSED_CLIENT_SECONDS).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(clients = n, "forgot OAuth clients that registered and were never used"),
                    Err(e) => tracing::warn!(error = %e, "could not forget unused OAuth clients; will retry"),
                }
                if let Err(e) = state.db.forget_expired_authorization_codes().await {
                    tracing::warn!(error = %e, "could not forget expired authorization codes; will retry");
                }
            }
            if let Err(e) = state.usage.flush(&state.db).await {
                tracing::warn!(error = %e, "could not write key usage; will retry");
            }
            match state.db.finish_overlaps().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(keys = n, "rotation overlaps ended; old keys revoked"),
                Err(e) => tracing::warn!(error = %e, "could not finish rotation overlaps; will retry"),
            }
        }
    })
}
