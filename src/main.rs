//! The `portfolio-tracker` command line: thin wrappers over the library.

use clap::{Parser, Subcommand};
use portfolio_tracker::config::{DbSettings, LogFormat, LogSettings, ServeSettings};
use portfolio_tracker::domain::auth::Role;
use portfolio_tracker::{backup, commands, db, portable, store::generate, store::seed, web};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc: the dashboards are rebuilt as many small allocations per revision; it
/// frees them back without the fragmentation (and resident memory) glibc's arenas keep.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (the version libmimalloc-sys
/// vendors; a test below checks the number still names it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps resident memory near what is in use. A rebuild frees a whole revision at once;
/// with mimalloc's defaults that memory stays resident for a while, and transparent huge
/// pages round the heap up in 2 MiB steps: together they doubled the peak at 5,000 items.
fn tune_allocator() {
    // SAFETY: plain calls with constant arguments; neither touches memory of ours.
    unsafe {
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "portfolio-tracker",
    version,
    about = "Tracks a portfolio of programmes, their strategy alignment, budgets, pledges and funding gaps."
)]
struct Cli {
    #[command(flatten)]
    db: DbSettings,

    #[command(flatten)]
    serve: ServeSettings,

    #[command(flatten)]
    log: LogSettings,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web application (the default when no subcommand is given).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the report's portfolio from the seed data; running it again changes nothing.
    Seed,
    /// Write a backup of the database to FILE (pg_dump custom format); works while the
    /// server runs.
    #[command(long_about = BACKUP_HELP)]
    Backup {
        /// Where to write the backup (replaced if it exists, once the backup is complete).
        file: PathBuf,
    },
    /// Restore a backup made by `backup` into the database (stop the server first).
    #[command(long_about = RESTORE_HELP)]
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Replace the database even though it holds data (a portfolio, accounts, an
        /// audit trail): what it holds now is lost.
        #[arg(long)]
        replace: bool,
    },
    /// Write every published item as an IATI 2.03 activity file to stdout
    /// (IATI_ORGANISATION_REF, IATI_ORGANISATION_NAME, PUBLIC_BASE_URL; see the README).
    ExportIati,
    /// Write every record (the whole portfolio, accounts and audit trail) as one JSON
    /// document to stdout, or to --output (see docs/portfolio-format.md).
    #[command(long_about = EXPORT_HELP)]
    Export {
        /// Include the accounts' password hashes, so that people can sign in on the
        /// database the file is imported into.
        #[arg(long)]
        with_credentials: bool,
        /// Write the document to this file (mode 0600) instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Load a document made by `export` into an empty database (one transaction).
    #[command(long_about = IMPORT_HELP)]
    Import {
        /// The document; `-` reads standard input.
        file: PathBuf,
    },
    /// Import contributions from a CSV or XLSX file: every row or none, in one
    /// transaction (the columns are in the README). Problems are listed as `line N,
    /// column X: message` and nothing is saved.
    ImportContributions {
        /// The CSV (UTF-8) or XLSX file.
        file: PathBuf,
        /// Check every row and report; save nothing.
        #[arg(long)]
        dry_run: bool,
        /// Create the organisations the file names that do not exist yet (kind "other").
        #[arg(long)]
        create_organisations: bool,
        /// Save amounts no exchange rate converts yet (shown in their own currency until
        /// the rate is added), as the form's "Save without a USD figure".
        #[arg(long)]
        without_rate: bool,
    },
    /// Manage accounts (works with or without a running server).
    #[command(subcommand)]
    User(UserCommand),
    /// Add a deterministic synthetic portfolio to the seeded report (benchmarks, load tests).
    #[command(long_about = GENERATE_HELP)]
    Generate {
        /// Items in all: programmes and initiatives, components and sub-components.
        #[arg(long)]
        items: u32,
        /// Contributions (pledged, committed or paid), spread over the items.
        #[arg(long)]
        contributions: u32,
        /// Seed of the random generator: the same items, contributions and seed give the
        /// same portfolio.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Load even when the database holds more than the seeded report; a portfolio
        /// generated earlier (gen-* items, gen-org-* organisations, Genland/Genregion
        /// places) is removed first, everything else stays.
        #[arg(long)]
        force: bool,
    },
}

const GENERATE_HELP: &str = "\
Add a deterministic synthetic portfolio to the seeded report, for benchmarks and load tests.

Everything is loaded in one transaction, then ANALYZE runs. It refuses (and writes nothing)
when the database holds anything but the seeded report (an item, organisation or place the
seed files do not name, a budget or contribution without a seed key) unless --force.

Names to address the generated rows by:
  gen-<n>            the n-th programme or initiative (n from 1); gen-1 ... gen-10 and their
                     components are always published, the rest has about 10 % drafts
  gen-<n>-<c>        its components;  gen-<n>-<c>-<s>  their sub-components
                     (gen-1-1-1 always exists)
  gen-org-<k>        organisations (k from 1; the lowest k give the most money)
  Genland <k>        countries;  Genregion <k>  regions (the lowest k have the most items)
  code names         two words such as \"Amber Heron\" in each family's titles and summaries;
                     searching for one finds about 1 % of the items
About a third of the items state no budget; budgets and contributions come in USD, EUR,
GBP, JPY, NOK, CHF, SEK, DKK and CAD, with monthly exchange rates for 2006-2013 added where
the database has none.";

const BACKUP_HELP: &str = "\
Write a backup of the database to FILE: a PostgreSQL custom-format dump (pg_dump -Fc) of
the embedded database of DATA_DIR, or of DATABASE_URL. It is one consistent snapshot, so
the server may keep running (the backup then uses the running server's database). The
file is written next to FILE and renamed to FILE when complete, with mode 0600: it holds
the accounts' password hashes and the sessions. pg_dump is taken from the PostgreSQL
installation the embedded server runs from (with DATABASE_URL: PATH first).";

const RESTORE_HELP: &str = "\
Restore a backup made by `portfolio-tracker backup` (or pg_dump -Fc of this application's
database) into the embedded database of DATA_DIR, or into DATABASE_URL, then apply any
pending migrations. A fresh DATA_DIR is created. A database that already holds anything is
left as it is unless --replace. The restore never leaves a half-restored database: into
the embedded cluster it restores into a new database and swaps it in only when complete;
into DATABASE_URL it restores in one transaction. Stop the server of the DATA_DIR first
(with DATABASE_URL, restart the instances afterwards). Owners and grants in the dump are
ignored (--no-owner --no-privileges): the restored objects belong to the role that
restores them.";

const EXPORT_HELP: &str = "\
Write every record of the database of DATA_DIR (or DATABASE_URL) as one JSON document:
items, places, organisations, alignments, budgets, contributions, exchange rates, result
areas, themes, accounts and the audit trail, each table in primary-key order with its ids,
read in one snapshot (the server may keep running). The same database always gives the
same bytes, and `import` of the file gives a database that exports them again. Password
hashes are left out unless --with-credentials. The format is versioned and described in
docs/portfolio-format.md.";

const IMPORT_HELP: &str = "\
Load a document made by `export` into the database of DATA_DIR (or DATABASE_URL), after
applying the migrations. The database must be empty: nothing in it beyond what the
migrations insert (`portfolio-tracker migrate` on a new database, or a new DATA_DIR).
The file is checked before the database is touched (JSON, format, version), and it is
loaded in one transaction: on any error nothing is changed. Accounts exported without
--with-credentials cannot sign in until an administrator sets their password
(`user reset-password`).";

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account. The password is asked for, or read from stdin.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The person's name, shown in the accounts list.
        #[arg(long, default_value = "")]
        name: String,
        /// Read the password from the first line of standard input (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List every account.
    List,
    /// Change an account's role; the person's sessions end.
    SetRole {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Disable an account; the person is signed out at once.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled account again.
    Enable {
        #[arg(long)]
        email: String,
    },
    /// Create a personal API token for an account and print it (shown this once).
    Token {
        #[arg(long)]
        email: String,
        /// What uses it, shown in the person's list of tokens.
        #[arg(long)]
        name: String,
        /// Read-write (admins only): may record and change contributions.
        #[arg(long)]
        write: bool,
        /// How many days it is valid (1 to 366).
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    /// Set a new password; the person's sessions end.
    ResetPassword {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
}

fn parse_role(value: &str) -> Result<Role, String> {
    Role::parse(value).ok_or_else(|| format!("unknown role {value:?}: use viewer, staff or admin"))
}

/// Reads a new password before the async runtime starts (the prompt blocks on the tty).
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_string());
    }
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "no terminal to ask for the password on: pass --password-stdin and pipe it in"
    );
    let first = rpassword::prompt_password("New password (at least 12 characters): ")?;
    let second = rpassword::prompt_password("The same password again: ")?;
    anyhow::ensure!(
        first == second,
        "the two passwords differ; nothing was changed"
    );
    Ok(first)
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    init_tracing(
        matches!(cli.command, None | Some(Command::Serve)),
        cli.log.log_format,
    );
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            // A second `serve` on one DATA_DIR stops with a message naming the first.
            let db = DbSettings {
                own_embedded_server: true,
                ..cli.db
            };
            web::serve(&db, &cli.serve).await
        }
        Command::Backup { file } => {
            println!("{}", backup::backup(&cli.db, &file).await?);
            Ok(())
        }
        Command::Restore { file, replace } => {
            println!("{}", backup::restore(&cli.db, &file, replace).await?);
            Ok(())
        }
        Command::Migrate => {
            let database = db::Database::open(&cli.db, db::Seeding::Never).await?;
            println!("migrations applied");
            database.close().await;
            Ok(())
        }
        Command::User(command) => {
            let password = match &command {
                UserCommand::Add { password_stdin, .. }
                | UserCommand::ResetPassword { password_stdin, .. } => {
                    Some(tokio::task::block_in_place(|| {
                        read_password(*password_stdin)
                    })?)
                }
                _ => None,
            };
            let database = db::Database::open(&cli.db, db::Seeding::Never).await?;
            let pool = &database.pool;
            let pw = password.as_deref().unwrap_or_default();
            let outcome = match &command {
                UserCommand::Add {
                    email, role, name, ..
                } => commands::add(pool, email, name, *role, pw).await,
                UserCommand::List => commands::list(pool).await,
                UserCommand::SetRole { email, role } => {
                    commands::set_role(pool, email, *role).await
                }
                UserCommand::Disable { email } => commands::disable(pool, email).await,
                UserCommand::Enable { email } => commands::enable(pool, email).await,
                UserCommand::ResetPassword { email, .. } => {
                    commands::reset_password(pool, email, pw).await
                }
                UserCommand::Token {
                    email,
                    name,
                    write,
                    days,
                } => commands::token(pool, email, name, *write, *days).await,
            };
            database.close().await;
            println!("{}", outcome?.trim_end());
            Ok(())
        }
        Command::Generate {
            items,
            contributions,
            seed,
            force,
        } => {
            use std::io::IsTerminal;
            let database = db::Database::open(&cli.db, db::Seeding::IfEmpty).await?;
            let options = generate::Options {
                items,
                contributions,
                seed,
                force,
            };
            let outcome = async {
                let owner = database.owner_pool().await?;
                let outcome = generate::generate(
                    &database.pool,
                    owner.as_ref().unwrap_or(&database.pool),
                    &options,
                    std::io::stderr().is_terminal(),
                )
                .await;
                if let Some(owner) = owner {
                    owner.close().await;
                }
                outcome
            }
            .await;
            database.close().await;
            println!("{}", outcome?);
            Ok(())
        }
        Command::ExportIati => {
            let database = db::Database::open(&cli.db, db::Seeding::Never).await?;
            let data = portfolio_tracker::store::portfolio::load(&database.pool).await;
            database.close().await;
            let data = data?;
            let index = portfolio_tracker::iati::Index::new(&data);
            let publisher = portfolio_tracker::iati::Publisher::new(
                &data,
                &index,
                &cli.serve.web.iati,
                chrono::Utc::now(),
            );
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            publisher.write_all(&mut out)?;
            std::io::Write::flush(&mut out)?;
            Ok(())
        }
        Command::Export {
            with_credentials,
            output,
        } => {
            let credentials = if with_credentials {
                portable::Credentials::Included
            } else {
                portable::Credentials::Left
            };
            let said = commands::export(&cli.db, credentials, output.as_deref()).await?;
            // The document itself may be on stdout.
            if output.is_some() {
                println!("{said}");
            } else {
                eprintln!("{said}");
            }
            Ok(())
        }
        Command::Import { file } => {
            println!("{}", commands::import(&cli.db, &file).await?);
            Ok(())
        }
        Command::ImportContributions {
            file,
            dry_run,
            create_organisations,
            without_rate,
        } => {
            let database = db::Database::open(&cli.db, db::Seeding::Never).await?;
            let args = commands::ImportArgs {
                file: &file,
                dry_run,
                create_organisations,
                without_rate,
                progress: true,
            };
            let outcome = commands::import_contributions(&database.pool, args).await;
            database.close().await;
            println!("{}", outcome?);
            Ok(())
        }
        Command::Seed => {
            let database = db::Database::open(&cli.db, db::Seeding::Never).await?;
            let report = seed::load(&database.pool).await;
            database.close().await;
            println!("{}", report?);
            Ok(())
        }
    }
}

/// Logs go to stderr: text, coloured only on a terminal, or JSON lines (LOG_FORMAT). The
/// server logs at info by default; the one-shot commands only warn, so their own output
/// stays readable.
fn init_tracing(serving: bool, format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let default = if serving {
        "info,sqlx=warn,tower_http=info"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        // A request's line carries its span (`span.request_id`) and the spans it is in.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

#[cfg(test)]
mod tests {
    /// The option number is mimalloc's enum position, not a stable name: this fails when
    /// an upgrade moves it (purge_delay is the one option near it whose default is 1000 ms).
    #[test]
    fn the_purge_delay_option_number_names_purge_delay() {
        // SAFETY: reads an option.
        let value = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        let neighbours = unsafe {
            [
                libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY - 1),
                libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY + 1),
            ]
        };
        assert!(
            value == 1000 || value == 0,
            "purge delay reads {value}, expected the default 1000 (or 0 once tuned)"
        );
        assert!(!neighbours.contains(&1000), "{neighbours:?}");
    }
}
