//! The `irsa-issuer` binary: parse, start logging, dispatch, pick the exit code. The command
//! line lives here, not in the library: `anyhow` stays at this edge, and the library's API is
//! typed errors only.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::ExitCode;

use clap::Parser;
mod cli;

use cli::{Cli, Outcome};

/// Exit code for a command line that does not parse (sysexits' EX_USAGE), kept apart from 1
/// (the command failed) and 2 (a plan has pending changes).
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    cli::init_tracing(&cli);
    irsa_issuer::serve::tls::install_default_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::ChangesPending) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e}");
            let root: &(dyn std::error::Error + 'static) = e.as_ref();
            for cause in irsa_issuer::errors::causes(root) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
