//! `GET /iati/activities.xml`: the published portfolio as IATI 2.03, streamed a few
//! hundred activities per chunk from the cached snapshot (drafts never appear, whoever asks).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use crate::iati::Publisher;
use crate::web::AppState;
use crate::web::dashboard::Snapshot;
use crate::web::snapshot::Snap;

/// Activities per chunk of the response body.
const CHUNK: usize = 256;

pub async fn activities(State(state): State<AppState>, snap: Snap) -> Response {
    let snapshot: Arc<Snapshot> = snap.0;
    let settings = Arc::clone(&state.settings);
    let now = chrono::Utc::now();
    let count = snapshot.iati_index().activities().len();
    let mut head = Vec::new();
    Publisher::new(
        &snapshot.records.data,
        snapshot.iati_index(),
        &settings.iati,
        now,
    )
    .header(&mut head);
    let first = Bytes::from(head);
    let chunks = futures_util::stream::unfold(0usize, move |start| {
        let chunk = (start <= count).then(|| {
            let p = Publisher::new(
                &snapshot.records.data,
                snapshot.iati_index(),
                &settings.iati,
                now,
            );
            let end = (start + CHUNK).min(count);
            let mut bytes = Vec::with_capacity(64 * 1024);
            for &i in &snapshot.iati_index().activities()[start..end] {
                p.activity(i, &mut bytes);
            }
            if end == count {
                p.footer(&mut bytes);
            }
            (
                Ok::<Bytes, std::convert::Infallible>(Bytes::from(bytes)),
                end + usize::from(end == count),
            )
        });
        async move { chunk }
    });
    let body = futures_util::StreamExt::fuse(futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(first) }),
        chunks,
    ));
    (
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        Body::from_stream(body),
    )
        .into_response()
}
