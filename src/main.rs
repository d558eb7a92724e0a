//! The `sluice` binary: parses flags, installs logging, and runs one mode. The logic lives in
//! the crates and the small mode modules next to this file.

mod allocator;
mod check;
mod cli;
mod controller;
mod report;
mod routes;

use std::process::ExitCode;

use clap::Parser;
use sluice::{file_source, kube_source, model};
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, LogFormat};

fn main() -> ExitCode {
    // One TLS crypto provider for the whole process, chosen before anything builds a config.
    let _ = rustls::crypto::ring::default_provider().install_default();
    allocator::install();
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Gateway(args) => sluice::gateway::run(args.config())
            .map(|_| ExitCode::SUCCESS)
            .map_err(anyhow::Error::from),
        Command::Controller(args) => controller::run(*args).map(|()| ExitCode::SUCCESS),
        Command::Check(args) => check::run(args),
        Command::Routes(args) => routes::run(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("SLUICE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => builder.init(),
    }
}
