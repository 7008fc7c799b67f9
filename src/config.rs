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
}
