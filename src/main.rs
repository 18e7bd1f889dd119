use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = portcullis::cli::Cli::parse();
    let default_level = match cli.command {
        portcullis::cli::Command::Serve => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("PORTCULLIS_LOG")
                .unwrap_or_else(|_| EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, never into a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let outcome = portcullis::config::Settings::from_args(&cli.settings)
        .map_err(anyhow::Error::from)
        .and_then(|settings| match cli.command {
            portcullis::cli::Command::Serve => portcullis::server::serve(settings),
            portcullis::cli::Command::Admin(admin) => portcullis::cli::run(admin, settings),
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis: {e:#}");
            ExitCode::FAILURE
        }
    }
}
