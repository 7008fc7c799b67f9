//! Settings from command-line flags or the environment, with defaults.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Where the data lives. Shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct DbSettings {
    /// Use this PostgreSQL server instead of the embedded one,
    /// e.g. postgres://user:pass@localhost/portfolio
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

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

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event, for people (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log collectors: `timestamp`, `level`, `target`,
    /// `fields` (with `message`), and `span` / `spans` (a request's `request_id`).
    Json,
}

/// Settings of the log. Shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct LogSettings {
    /// Write log lines as text or as JSON (one object a line). What is logged is chosen
    /// with RUST_LOG.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
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

    #[command(flatten)]
    pub connections: ConnectionLimits,
}

/// Limits of the connection loop (`web::connections`), which keep slow or abusive
/// clients from holding the server's sockets.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionLimits {
    /// Seconds a client may take to send a request's headers (slow-header attacks);
    /// the connection is closed after it.
    #[arg(long = "header-read-timeout", env = "HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub header_read_timeout_secs: u64,

    /// Connections served at once; one more is answered 503 and closed.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub max_connections: u32,

    /// Connections one client address may hold at once (0: no limit); the addresses in
    /// `TRUSTED_PROXIES` have none, being many clients.
    #[arg(long, env = "MAX_CONNECTIONS_PER_CLIENT", default_value_t = MAX_CONNECTIONS_PER_CLIENT,
          global = true)]
    pub max_connections_per_client: u32,

    /// Seconds a shutdown (SIGTERM, Ctrl-C) waits for requests in flight before it
    /// closes their connections.
    #[arg(long = "shutdown-grace", env = "SHUTDOWN_GRACE_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=3600), global = true)]
    pub shutdown_grace_secs: u64,
}

/// Connections served at once, by default: well under the usual limit of 1,024 open
/// files, which the database pool and the embedded server's files share.
pub const MAX_CONNECTIONS: u32 = 512;

/// Connections one client may hold, by default: a whole office behind one address
/// (browsers open about six each) fits, one machine cannot take every slot.
pub const MAX_CONNECTIONS_PER_CLIENT: u32 = 128;

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout_secs: 10,
            max_connections: MAX_CONNECTIONS,
            max_connections_per_client: MAX_CONNECTIONS_PER_CLIENT,
            shutdown_grace_secs: 10,
        }
    }
}

/// Sign-in attempts a minute one client may make (POST /login), by default.
pub const LOGIN_RATE_PER_MINUTE: u32 = 20;
/// Admin writes (POST to /admin/...) a minute one client may make, by default.
pub const ADMIN_WRITE_RATE_PER_MINUTE: u32 = 120;
/// Sign-ins that may wait for a password check while others are checked, by default.
pub const SIGN_IN_QUEUE: usize = 32;
/// Seconds a request may take before it is answered 503, by default.
pub const REQUEST_TIMEOUT_SECS: u64 = 30;
/// Bytes a request body (a form) may hold, by default.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

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

    /// Seconds a request may take (reading its body included) before it is answered 503
    /// "took too long"; what it was doing is abandoned (a transaction rolls back).
    #[arg(long = "request-timeout", env = "REQUEST_TIMEOUT_SECS", default_value_t = REQUEST_TIMEOUT_SECS,
          value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub request_timeout_secs: u64,

    /// Bytes a request body may hold; a larger form is answered 413.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = MAX_BODY_BYTES, global = true)]
    pub max_body_bytes: usize,
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
            request_timeout_secs: REQUEST_TIMEOUT_SECS,
            max_body_bytes: MAX_BODY_BYTES,
        }
    }
}
