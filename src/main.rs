//! The `portfolio-tracker` command line: thin wrappers over the library.

use clap::{Parser, Subcommand};
use portfolio_tracker::config::{DbSettings, ServeSettings};
use portfolio_tracker::{db, store::seed, web};
use std::process::ExitCode;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
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
        Command::Serve => web::serve(&cli.db, &cli.serve).await,
        Command::Migrate => {
            let database = db::Database::open(&cli.db, db::Seeding::Never).await?;
            println!("migrations applied");
            database.close().await;
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

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
