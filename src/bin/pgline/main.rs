//! The `pgline` command-line tool: `demo`, `load` and `query`.
//!
//! `pgline demo` with no `--url` starts a throwaway local PostgreSQL cluster, loads
//! 1,000,000 rows with `execute_many` and with binary COPY, prints rows/s and client CPU
//! per row for each, and stops the cluster.

mod copy_format;
mod cpu;
mod demo;
mod load;
mod query;

use clap::{Parser, Subcommand};

/// pgline: a PostgreSQL wire-protocol client; bulk loads at the server's ceiling.
#[derive(Parser, Debug)]
#[command(name = "pgline", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load generated rows with execute_many and COPY, and report rows/s and client CPU.
    Demo(demo::DemoArgs),
    /// Load a CSV or TSV file (or stdin) into a table.
    Load(load::LoadArgs),
    /// Run SQL and print the results.
    Query(query::QueryArgs),
}

/// The connection settings: `--url` / `DATABASE_URL` over the `PG*` variables.
pub(crate) fn connect_config(url: Option<&str>) -> Result<pgline::Config, pgline::Error> {
    pgline::Config::parse(url.unwrap_or(""))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Load(args) => load::run(args).await,
            Command::Query(args) => query::run(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
