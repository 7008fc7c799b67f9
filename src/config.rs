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

    /// Mark the session cookie `Secure` (and name it `__Host-pt_session`): browsers then
    /// send it over HTTPS only. Default: on, unless LISTEN_ADDR is a loopback address.
    #[arg(long, env = "COOKIE_SECURE", global = true, action = clap::ArgAction::Set)]
    pub cookie_secure: Option<bool>,

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

/// `COOKIE_SECURE` resolved against the address the server listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecurity {
    /// `Secure` cookies: set so, or by default on an address other machines can reach.
    Secure,
    /// Not `Secure`, by default on a loopback address (a browser on this machine over
    /// plain HTTP).
    PlainOnLoopback,
    /// Not `Secure` although other machines can reach the address: set so explicitly
    /// (plain HTTP on a trusted network); warned about at start.
    PlainOnNetwork,
}

impl CookieSecurity {
    /// The one rule: the setting when it is given; otherwise on unless the address is a
    /// loopback one (`127.0.0.0/8`, `::1`, or `::ffff:127.x.x.x`).
    pub fn resolve(setting: Option<bool>, listen: SocketAddr) -> CookieSecurity {
        let loopback = listen.ip().to_canonical().is_loopback();
        match (setting, loopback) {
            (Some(true), _) | (None, false) => CookieSecurity::Secure,
            (Some(false) | None, true) => CookieSecurity::PlainOnLoopback,
            (Some(false), false) => CookieSecurity::PlainOnNetwork,
        }
    }

    pub fn is_secure(self) -> bool {
        self == CookieSecurity::Secure
    }
}

impl ServeSettings {
    /// `COOKIE_SECURE` as it applies to `LISTEN_ADDR`.
    pub fn cookie_security(&self) -> CookieSecurity {
        CookieSecurity::resolve(self.cookie_secure, self.listen_addr)
    }

    /// The web application's settings, with `COOKIE_SECURE` resolved.
    pub fn web_settings(&self) -> WebSettings {
        WebSettings {
            cookie_secure: self.cookie_security().is_secure(),
            ..self.web.clone()
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
/// Bytes an uploaded import file (a multipart body) may hold, by default: a 1,000-row CSV
/// is about 100 KiB, an XLSX of it less.
pub const IMPORT_MAX_BYTES: usize = 10 * 1024 * 1024;

/// What the web application itself needs to know. `Default` gives the same values as the
/// command line's defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct WebSettings {
    /// Let anonymous visitors read what a viewer reads (a public transparency site).
    #[arg(long, env = "PUBLIC_READ", default_value_t = false, global = true, action = clap::ArgAction::Set)]
    pub public_read: bool,

    /// Whether the session cookie is `Secure`: not a flag of its own, but `COOKIE_SECURE`
    /// resolved against the listening address ([`ServeSettings::web_settings`]).
    #[arg(skip)]
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

    /// Bytes an uploaded file (the contribution import's multipart body) may hold; a
    /// larger upload is answered 413 without being read further.
    #[arg(long, env = "IMPORT_MAX_BYTES", default_value_t = IMPORT_MAX_BYTES, global = true)]
    pub import_max_bytes: usize,

    /// Pretend today is this date (YYYY-MM-DD) for what is due and overdue and for the
    /// forms' "not after today" checks: for demonstrations against the report's own date
    /// and for tests. Unset: the real date (UTC).
    #[arg(long, env = "PT_TODAY", global = true)]
    pub today: Option<chrono::NaiveDate>,

    /// The last day of the Commission's last session (YYYY-MM-DD): `/changes` offers
    /// "since the last session" from the day after. The default is the end of the 51st
    /// session of the Commission on Narcotic Drugs (10-14 March 2008), for which the
    /// seeded report was written.
    #[arg(long, env = "LAST_SESSION", default_value = LAST_SESSION, global = true)]
    pub last_session: chrono::NaiveDate,

    #[command(flatten)]
    pub iati: IatiSettings,
}

/// Who publishes the IATI file (`/iati/activities.xml`, `export-iati`), and where.
#[derive(Debug, Clone, clap::Args)]
pub struct IatiSettings {
    /// The reporting organisation's IATI identifier: the prefix of every activity's.
    #[arg(long = "iati-organisation-ref", env = "IATI_ORGANISATION_REF",
          default_value = IATI_ORGANISATION_REF, global = true)]
    pub organisation_ref: String,

    /// The reporting organisation's name.
    #[arg(long = "iati-organisation-name", env = "IATI_ORGANISATION_NAME",
          default_value = IATI_ORGANISATION_NAME, global = true)]
    pub organisation_name: String,

    /// The app's public address: the result areas' vocabulary-uri points there.
    #[arg(long, env = "PUBLIC_BASE_URL", default_value = PUBLIC_BASE_URL, global = true)]
    pub public_base_url: String,
}

/// The last day of the 51st session of the Commission on Narcotic Drugs.
pub const LAST_SESSION: &str = "2008-03-14";

/// UNODC's identifier in the IATI registry (DAC code 41123 under the XM-DAC prefix).
pub const IATI_ORGANISATION_REF: &str = "XM-DAC-41123";
pub const IATI_ORGANISATION_NAME: &str = "United Nations Office on Drugs and Crime";
pub const PUBLIC_BASE_URL: &str = "http://localhost:3000";

impl Default for IatiSettings {
    fn default() -> Self {
        IatiSettings {
            organisation_ref: IATI_ORGANISATION_REF.to_string(),
            organisation_name: IATI_ORGANISATION_NAME.to_string(),
            public_base_url: PUBLIC_BASE_URL.to_string(),
        }
    }
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
            import_max_bytes: IMPORT_MAX_BYTES,
            today: None,
            last_session: chrono::NaiveDate::from_ymd_opt(2008, 3, 14).unwrap_or_default(),
            iati: IatiSettings::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn cookies_are_secure_unless_served_on_loopback() {
        use CookieSecurity::*;
        for (setting, listen, expected) in [
            (None, "127.0.0.1:3000", PlainOnLoopback),
            (None, "127.0.0.53:3000", PlainOnLoopback),
            (None, "[::1]:3000", PlainOnLoopback),
            (None, "[::ffff:127.0.0.1]:3000", PlainOnLoopback),
            (None, "0.0.0.0:3000", Secure),
            (None, "[::]:3000", Secure),
            (None, "192.0.2.10:80", Secure),
            (None, "[2001:db8::1]:443", Secure),
            (Some(true), "127.0.0.1:3000", Secure),
            (Some(true), "0.0.0.0:3000", Secure),
            (Some(false), "127.0.0.1:3000", PlainOnLoopback),
            (Some(false), "0.0.0.0:3000", PlainOnNetwork),
            (Some(false), "[::ffff:192.0.2.10]:3000", PlainOnNetwork),
        ] {
            assert_eq!(
                CookieSecurity::resolve(setting, addr(listen)),
                expected,
                "{setting:?} on {listen}"
            );
        }
    }

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeSettings,
    }

    #[test]
    fn the_flag_is_unset_true_or_false_and_resolved_into_the_web_settings() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("pt").chain(args.iter().copied()))
                .map(|cli| cli.serve)
        };
        let default = parse(&["--listen-addr", "0.0.0.0:3000"]).unwrap();
        assert_eq!(default.cookie_secure, None);
        assert!(default.web_settings().cookie_secure, "on a public address");
        let local = parse(&[]).unwrap();
        assert!(!local.web_settings().cookie_secure, "on 127.0.0.1:3000");
        let off = parse(&["--cookie-secure", "false", "--listen-addr", "0.0.0.0:3000"]).unwrap();
        assert_eq!(off.cookie_security(), CookieSecurity::PlainOnNetwork);
        assert!(!off.web_settings().cookie_secure);
        let on = parse(&["--cookie-secure", "true"]).unwrap();
        assert!(on.web_settings().cookie_secure);
        assert!(parse(&["--cookie-secure", "maybe"]).is_err());
    }
}
