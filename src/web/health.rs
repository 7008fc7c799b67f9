//! Liveness and readiness probes.

use crate::web::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use std::time::Duration;

/// The process is up. Touches nothing else.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers a round trip within two seconds.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let probe = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.pool);
    match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok(1)) => (StatusCode::OK, "ready\n"),
        Ok(Ok(_)) | Ok(Err(_)) | Err(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}
