//! Probes, and behaviour when the database is gone.

use crate::harness::{Page, TestApp, client, serve_with, unreachable_pool};
use portfolio_tracker::config::WebSettings;

#[tokio::test]
async fn healthz_and_readyz_answer_when_the_database_is_up() {
    let app = TestApp::spawn_public().await;
    assert_eq!(app.get("/healthz").await.0, 200);
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body, "ready\n");
}

#[tokio::test]
async fn readyz_is_503_and_pages_fail_politely_when_the_database_is_unreachable() {
    let public = WebSettings {
        public_read: true,
        ..WebSettings::default()
    };
    let addr = serve_with(unreachable_pool(), public).await;
    let http = client();
    let get = |path: &'static str| {
        let http = http.clone();
        async move {
            let r = http
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .expect("request");
            (r.status().as_u16(), r.text().await.expect("body"))
        }
    };
    assert_eq!(
        get("/healthz").await.0,
        200,
        "liveness does not touch the database"
    );
    assert_eq!(get("/readyz").await.0, 503);
    let (status, body) = get("/").await;
    assert_eq!(status, 503);
    let page = Page::parse(&body);
    assert_eq!(
        page.text_of("main h1"),
        "Temporarily unavailable",
        "a real error page, not a trace"
    );
    assert!(!body.contains("sqlx"), "no internals leak");
}

#[tokio::test]
async fn router_builds_without_a_database() {
    // Building the router must not panic (axum 0.8 rejects old `/:param` routes at build time).
    let app = portfolio_tracker::app(portfolio_tracker::AppState::new(
        unreachable_pool(),
        Default::default(),
    ));
    drop(app);
}
