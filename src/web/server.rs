//! The `serve` command: open the database, listen, and shut down cleanly.

use crate::config::{DbSettings, ServeSettings};
use crate::db::{Database, Seeding};
use crate::web::AppState;
use anyhow::Context;

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight (for
/// `SHUTDOWN_GRACE_SECS` at most) and stops the embedded database (if any) with a fast
/// shutdown: a request cut off by the grace period rolls back its transaction whole.
pub async fn serve(db: &DbSettings, settings: &ServeSettings) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let database = Database::open(db, Seeding::IfEmpty).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen_addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another server using it? set LISTEN_ADDR)",
                settings.listen_addr
            )
        });
    let listener = match listener {
        Ok(l) => l,
        Err(e) => {
            database.close().await;
            return Err(e);
        }
    };
    let state = AppState::new(database.pool.clone(), settings.web.clone());
    // The first reader should not wait for the dashboards: compute them before listening.
    if let Err(e) = state.refresh_dashboards().await {
        tracing::warn!(
            "could not compute the dashboards before serving (will retry on the first request): {e}"
        );
    }
    let app = crate::app(state);
    // The bound address: with port 0 (LISTEN_ADDR=127.0.0.1:0), the port the system chose.
    let addr = listener.local_addr().unwrap_or(settings.listen_addr);
    tracing::info!(
        "serving on http://{addr} (ready {} ms after start)",
        started.elapsed().as_millis()
    );
    let stopped = crate::web::connections::serve(
        listener,
        app,
        &settings.connections,
        &settings.web.trusted_proxies,
        shutdown_signal(),
    )
    .await;
    tracing::info!("shutting down ({stopped:?})");
    database.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
