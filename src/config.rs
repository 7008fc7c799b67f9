//! Settings from command-line flags or the environment, with defaults.

use std::net::SocketAddr;
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

/// What the web application itself needs to know.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WebSettings {
    /// Let anonymous visitors read what a viewer reads (a public transparency site).
    #[arg(long, env = "PUBLIC_READ", default_value_t = false, global = true, action = clap::ArgAction::Set)]
    pub public_read: bool,

    /// Mark the session cookie `Secure` (serve over HTTPS when this is on).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false, global = true, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,
}
