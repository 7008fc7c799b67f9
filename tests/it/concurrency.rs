//! Many people at once on one record: of the editors who loaded the same version exactly
//! one save wins, the others get 409 with what they typed; readers meanwhile see only
//! committed states; the record and its audit trail agree afterwards.

use crate::conformance::page::{Form, Page as FormPage};
use crate::harness::{Session, TestApp};
use portfolio_tracker::config::WebSettings;
use portfolio_tracker::domain::auth::Role;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const EDITORS: usize = 50;
const READERS: usize = 200;
const ROUNDS: usize = 2;

/// `EDITORS` browser tabs of a handful of admins, each with the edit form loaded.
async fn editors_with_the_form(admins: &[Session], item: i64) -> Vec<(Session, Form)> {
    let mut tabs = Vec::new();
    for n in 0..EDITORS {
        let admin = admins[n % admins.len()].clone();
        let (status, html) = admin.get(&format!("/admin/items/{item}/edit")).await;
        assert_eq!(status, 200);
        tabs.push((admin, FormPage::parse(&html).submitted()));
    }
    tabs
}

/// The item page's title, as readers keep reading it until `stop`.
fn readers(
    reader: &Session,
    path: String,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<String>>> {
    (0..READERS)
        .map(|_| {
            let reader = reader.clone();
            let path = path.clone();
            let stop = Arc::clone(stop);
            tokio::spawn(async move {
                let mut titles = Vec::new();
                // at least one read each, however quick the editors are
                loop {
                    let (status, body) = reader.get(&path).await;
                    assert_eq!(status, 200, "a reader's page: {body}");
                    titles.push(FormPage::parse(&body).h1());
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                titles
            })
        })
        .collect()
}

#[tokio::test]
async fn of_fifty_editors_of_one_version_one_wins_and_readers_see_only_committed_states() {
    let app = TestApp::spawn_with(WebSettings {
        // fifty tabs of one office network save at once
        admin_write_rate_per_minute: 0,
        ..WebSettings::default()
    })
    .await;
    let mut admins = Vec::new();
    for _ in 0..5 {
        admins.push(app.signed_in(Role::Admin).await);
    }
    let staff = app.signed_in(Role::Staff).await;
    let (item, slug, original): (i64, String, String) =
        sqlx::query_as("SELECT id, slug, title FROM items ORDER BY id LIMIT 1")
            .fetch_one(&app.db.pool)
            .await
            .expect("an item");
    let audit_before: i64 = sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM audit_log")
        .fetch_one(&app.db.pool)
        .await
        .expect("audit");

    let mut committed = vec![original.clone()];
    for round in 0..ROUNDS {
        let tabs = editors_with_the_form(&admins, item).await;
        let stop = Arc::new(AtomicBool::new(false));
        let reading = readers(&staff, format!("/programmes/{slug}"), &stop);
        let saves: Vec<_> = tabs
            .into_iter()
            .enumerate()
            .map(|(n, (admin, mut form))| {
                let title = format!("Round {round}, editor {n}");
                form.set("title", &title);
                tokio::spawn(async move {
                    let (status, _, body) = admin
                        .post(&format!("/admin/items/{item}"), &form.pairs())
                        .await;
                    (title, status, body)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for save in saves {
            let (title, status, body) = save.await.expect("save");
            match status {
                303 => winners.push(title),
                409 => {
                    let kept = FormPage::parse(&body).submitted();
                    assert_eq!(kept.get("title"), Some(title.as_str()), "input kept");
                }
                other => panic!("a save answered {other}: {body}"),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: one save wins: {winners:?}"
        );
        committed.push(winners.remove(0));
        stop.store(true, Ordering::Relaxed);

        let allowed: HashSet<&String> = committed.iter().collect();
        for reader in reading {
            for title in reader.await.expect("reader") {
                assert!(
                    allowed.contains(&title),
                    "a reader saw {title:?}: never committed"
                );
            }
        }
    }

    let stored: String = sqlx::query_scalar("SELECT title FROM items WHERE id = $1")
        .bind(item)
        .fetch_one(&app.db.pool)
        .await
        .expect("title");
    assert_eq!(&stored, committed.last().expect("a winner"));
    let trail: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT before->>'title', after->>'title' FROM audit_log
          WHERE id > $1 AND entity = 'item' AND entity_id = $2 ORDER BY id",
    )
    .bind(audit_before)
    .bind(item)
    .fetch_all(&app.db.pool)
    .await
    .expect("audit");
    let expected: Vec<(Option<String>, Option<String>)> = committed
        .windows(2)
        .map(|pair| (Some(pair[0].clone()), Some(pair[1].clone())))
        .collect();
    assert_eq!(
        trail, expected,
        "one audit row per winning save, from and to"
    );
}
