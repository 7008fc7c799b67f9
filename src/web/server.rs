//! The `serve` command: open the database, listen, give up root, and shut down cleanly.

use crate::config::{CookieSecurity, DbSettings, ServeSettings};
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
    let listener = match listener.and_then(|l| give_up_root().map(|()| l)) {
        Ok(l) => l,
        Err(e) => {
            database.close().await;
            return Err(e);
        }
    };
    log_cookie_security(settings);
    let state = AppState::new(database.pool.clone(), settings.web_settings());
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

/// Says at start what `COOKIE_SECURE` means for this address, and warns when session
/// cookies would cross the network unencrypted.
fn log_cookie_security(settings: &ServeSettings) {
    let addr = settings.listen_addr;
    match settings.cookie_security() {
        CookieSecurity::Secure if settings.cookie_secure.is_none() => tracing::info!(
            "session cookies are Secure (COOKIE_SECURE is on by default on {addr}, an address \
             other machines can reach): sign in over HTTPS"
        ),
        CookieSecurity::Secure | CookieSecurity::PlainOnLoopback => {}
        CookieSecurity::PlainOnNetwork => tracing::warn!(
            "COOKIE_SECURE=false on {addr}, an address other machines can reach: session \
             cookies cross the network unencrypted and can be taken and replayed by anyone \
             who sees the traffic. Serve over HTTPS and leave COOKIE_SECURE unset (or true)"
        ),
    }
}

/// What `serve` does about running as root, once its database runs and its socket is
/// bound (all it needed root for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootPlan {
    /// Not root: nothing to give up.
    NotRoot,
    /// Become this OS user, the one the embedded PostgreSQL runs as.
    Become(embedded_pg::ServerUser),
    /// Root, but there is no such user (possible only with `DATABASE_URL`: the embedded
    /// database needs it): keep root, with a warning.
    StayRoot,
}

/// The decision, from whether this process is root and the server's OS user if any.
pub fn root_plan(root: bool, server_user: Option<embedded_pg::ServerUser>) -> RootPlan {
    match (root, server_user) {
        (false, _) => RootPlan::NotRoot,
        (true, Some(user)) => RootPlan::Become(user),
        (true, None) => RootPlan::StayRoot,
    }
}

/// Started as root, the web process becomes the unprivileged `postgres` OS user for good
/// (every thread; see `embedded_pg::become_server_user`), so a flaw in the web server
/// cannot be turned into root. The embedded cluster already runs as that user, its
/// supervisor restarts it as that user, and the cluster's files (its log included) are
/// that user's; the process writes no other file afterwards.
fn give_up_root() -> anyhow::Result<()> {
    let user = embedded_pg::server_os_user().context("looking up the postgres OS user")?;
    match root_plan(embedded_pg::running_as_root(), user) {
        RootPlan::NotRoot => {}
        RootPlan::Become(user) => {
            embedded_pg::become_server_user(&user).context("giving up root")?;
            tracing::info!(
                user = %user.name,
                uid = user.uid,
                gid = user.gid,
                "started as root: now running as the {} OS user",
                user.name
            );
        }
        RootPlan::StayRoot => tracing::warn!(
            "running as root, and there is no postgres OS user to switch to: the web server \
             keeps root. Run it as an ordinary user, or create that user"
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_gives_way_to_the_servers_user() {
        let postgres = embedded_pg::ServerUser {
            name: "postgres".into(),
            uid: 101,
            gid: 104,
        };
        assert_eq!(root_plan(false, Some(postgres.clone())), RootPlan::NotRoot);
        assert_eq!(root_plan(false, None), RootPlan::NotRoot);
        assert_eq!(
            root_plan(true, Some(postgres.clone())),
            RootPlan::Become(postgres)
        );
        assert_eq!(root_plan(true, None), RootPlan::StayRoot);
    }
}
