//! The `sluice` binary: parses flags and wires a source to the proxy.

use clap::{Parser, Subcommand};

/// sluice: a Kubernetes ingress controller and standalone HTTP gateway.
#[derive(Parser, Debug)]
#[command(name = "sluice", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve traffic from Kubernetes YAML files (not yet available).
    Gateway,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Gateway => anyhow::bail!("`sluice gateway` is not available yet"),
    }
}
