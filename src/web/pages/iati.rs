//! `GET /iati/activities.xml`: the published portfolio as IATI 2.03 (drafts never
//! appear, whoever asks). The file depends only on the data and the day: it is written
//! once per revision and day, by the first request, and served from memory after.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use std::sync::Arc;

use crate::config::IatiSettings;
use crate::iati::Publisher;
use crate::web::dashboard::Snapshot;
use crate::web::kept::off_async;
use crate::web::snapshot::Snap;
use crate::web::{AppError, AppState};

pub async fn activities(State(state): State<AppState>, snap: Snap) -> Result<Response, AppError> {
    let snapshot: Arc<Snapshot> = snap.0;
    let settings = Arc::clone(&state.settings);
    let now = Utc::now();
    let file = off_async(move || {
        snapshot.iati_file(now.date_naive(), || write(&snapshot, &settings.iati, now))
    })
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        file,
    )
        .into_response())
}

/// The whole file, as of `now`.
fn write(
    snapshot: &Snapshot,
    settings: &IatiSettings,
    now: DateTime<Utc>,
) -> Result<Bytes, AppError> {
    let data = &snapshot.records.data;
    let index = snapshot.iati_index();
    // about 4 kB per activity
    let mut out = Vec::with_capacity(index.activities().len() * 4096);
    Publisher::new(data, index, settings, now)
        .write_all(&mut out)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing the IATI file: {e}")))?;
    Ok(Bytes::from(out))
}
