//! Settings from command-line flags or the environment, with defaults.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Where the data lives. Shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct DbSettings {
    /// Use this PostgreSQL server instead of the embedded one,
    /// e.g. postgres://portfolio_app:pass@localhost/portfolio: the role the application
    /// reads and writes as (see DATABASE_OWNER_URL).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// With DATABASE_URL: the same database as the role that owns its tables, e.g.
    /// postgres://portfolio_owner:pass@localhost/portfolio. Migrations run as this role,
    /// which then grants DATABASE_URL's role only what the application needs (the audit
    /// trail: read and append). Unset: DATABASE_URL's role does everything itself.
    #[arg(
        long,
        env = "DATABASE_OWNER_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_owner_url: Option<String>,

    /// Where the embedded PostgreSQL cluster lives when DATABASE_URL is not set.
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Connections this process keeps open to PostgreSQL at most. With several instances
    /// the server's max_connections must cover all their pools (see the README).
    #[arg(
        long = "database-pool-size",
        env = "DATABASE_POOL_SIZE",
        default_value_t = crate::db::DEFAULT_POOL_SIZE,
        value_parser = clap::value_parser!(u32).range(1..=1000),
        global = true
    )]
    pub pool_size: u32,

    /// Not a flag: whether this command must run the embedded server itself (`serve`)
    /// rather than use the one another process runs for the same DATA_DIR.
    #[arg(skip)]
    pub own_embedded_server: bool,
}

/// Settings of the web server.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeSettings {
    /// Address and port the web server listens on.
    #[arg(
        long,
        env = "LISTEN_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub listen_addr: SocketAddr,

    #[command(flatten)]
    pub web: WebSettings,
}

/// Sign-in attempts a minute one client may make (POST /login), by default.
pub const LOGIN_RATE_PER_MINUTE: u32 = 20;
/// Admin writes (POST to /admin/...) a minute one client may make, by default.
pub const ADMIN_WRITE_RATE_PER_MINUTE: u32 = 120;
/// Sign-ins that may wait for a password check while others are checked, by default.
pub const SIGN_IN_QUEUE: usize = 32;

/// What the web application itself needs to know. `Default` gives the same values as the
/// command line's defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct WebSettings {
    /// Let anonymous visitors read what a viewer reads (a public transparency site).
    #[arg(long, env = "PUBLIC_READ", default_value_t = false, global = true, action = clap::ArgAction::Set)]
    pub public_read: bool,

    /// Mark the session cookie `Secure` (serve over HTTPS when this is on).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false, global = true, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,

    /// Proxies (IP addresses, comma-separated) whose X-Forwarded-For header names the
    /// client. Unset: the header is ignored and the client is the connection's peer.
    #[arg(
        long,
        env = "TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true,
        num_args = 0..
    )]
    pub trusted_proxies: Vec<IpAddr>,

    /// Sign-in attempts (POST /login) one client may make a minute; 0 turns the limit off.
    #[arg(long, env = "LOGIN_RATE_PER_MINUTE", default_value_t = LOGIN_RATE_PER_MINUTE, global = true)]
    pub login_rate_per_minute: u32,

    /// Admin writes (POST to /admin/...) one client may make a minute; 0 turns it off.
    #[arg(long, env = "ADMIN_WRITE_RATE_PER_MINUTE", default_value_t = ADMIN_WRITE_RATE_PER_MINUTE, global = true)]
    pub admin_write_rate_per_minute: u32,

    /// Sign-ins that may wait while passwords are checked (4 at a time); one more is
    /// answered 429 at once.
    #[arg(long, env = "SIGN_IN_QUEUE", default_value_t = SIGN_IN_QUEUE, global = true)]
    pub sign_in_queue: usize,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            public_read: false,
            cookie_secure: false,
            trusted_proxies: Vec::new(),
            login_rate_per_minute: LOGIN_RATE_PER_MINUTE,
            admin_write_rate_per_minute: ADMIN_WRITE_RATE_PER_MINUTE,
            sign_in_queue: SIGN_IN_QUEUE,
        }
    }
}
