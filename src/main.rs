use std::process::ExitCode;

use clap::Parser;
use portcullis::cli::{self, Command};
use portcullis::config::Settings;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let settings = match args.settings().and_then(|s| Settings::from_args(&s)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portcullis: {e}");
            return ExitCode::FAILURE;
        }
    };
    let default_level = match args.command {
        Command::Serve(_) => "info",
        Command::Admin(_) => "warn",
    };
    portcullis::logs::init(settings.log_format, default_level);
    let outcome = match args.command {
        Command::Serve(_) => portcullis::server::serve(settings),
        Command::Admin(admin) => cli::run(admin, settings),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis: {e:#}");
            ExitCode::FAILURE
        }
    }
}
