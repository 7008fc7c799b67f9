//! `GET /iati/activities.xml`: the published portfolio as IATI 2.03 (drafts never
//! appear, whoever asks). The file depends only on the data and the day: it is written
//! once per revision and day, by the first request, and served from memory after.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use std::sync::Arc;

use crate::config::IatiSettings;
use crate::iati::Publisher;
use crate::web::dashboard::{IatiFile, Snapshot};
use crate::web::kept::off_async;
use crate::web::snapshot::Snap;
use crate::web::{AppError, AppState};

pub async fn activities(
    State(state): State<AppState>,
    snap: Snap,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let snapshot: Arc<Snapshot> = snap.0;
    let settings = Arc::clone(&state.settings);
    let now = Utc::now();
    let file = off_async(move || {
        snapshot.iati_file(now.date_naive(), || {
            let xml = write(&snapshot, &settings.iati, now)?;
            let gzip = gzip(&xml)?;
            Ok::<_, AppError>(IatiFile { xml, gzip })
        })
    })
    .await?;
    let xml = (header::CONTENT_TYPE, "application/xml; charset=utf-8");
    let vary = (header::VARY, "Accept-Encoding");
    // The response compression layer leaves XML alone (`web::compression`): the kept
    // gzip copy, or the file as it is.
    Ok(match accepts_gzip(&headers) {
        true => ([xml, vary, (header::CONTENT_ENCODING, "gzip")], file.gzip).into_response(),
        false => ([xml, vary], file.xml).into_response(),
    })
}

/// Whether the request's `Accept-Encoding` takes gzip (named, or `*`, without `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// `bytes` gzipped (the default level: built once per revision, sent many times).
fn gzip(bytes: &[u8]) -> Result<Bytes, AppError> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 8),
        flate2::Compression::default(),
    );
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map(Bytes::from)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("gzipping the IATI file: {e}")))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            value.parse().expect("a header value"),
        );
        headers
    }

    #[test]
    fn gzip_is_sent_only_to_who_takes_it() {
        assert!(accepts_gzip(&asking("gzip, deflate, br")));
        assert!(accepts_gzip(&asking("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&asking("*")));
        assert!(!accepts_gzip(&asking("br")));
        assert!(!accepts_gzip(&asking("gzip;q=0, br")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn the_gzip_copy_holds_the_file() {
        use std::io::Read;
        let xml = b"<iati-activities version=\"2.03\"/>".repeat(100);
        let packed = gzip(&xml).expect("gzipped");
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut unpacked)
            .expect("gunzipped");
        assert_eq!(unpacked, xml);
        assert!(packed.len() < xml.len() / 10);
    }
}
