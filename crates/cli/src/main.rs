//! `loft`: one command for the devnet, the L2s built so far (the optimistic rollup, the ZK
//! rollup, state channels) and the benchmarks. A sidechain and Plasma are planned, not built.

mod channel_cmd;
mod devnet;
mod rollup;
mod rollup_cmd;
mod zk_cmd;

use clap::{Parser, Subcommand};

/// loft: a Layer 2 framework on an Ethereum L1: an optimistic rollup, a ZK rollup and state
/// channels (a sidechain and Plasma are planned).
#[derive(Parser)]
#[command(name = "loft", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the embedded L1 devnet (or use an external node) with loft's contracts deployed and
    /// the optimistic rollup (sequencer, batcher, replica, proposer) on top, with a demo.
    Devnet(devnet::DevnetArgs),
    /// Use the optimistic rollup: deposit, withdraw, prove, finalize, status; or run a replica.
    Rollup {
        #[command(subcommand)]
        command: rollup_cmd::RollupCommand,
    },
    /// Use the ZK rollup: run the operator; deposit, register, transfer, withdraw, status;
    /// exit through exodus mode from L1 alone.
    Zk {
        #[command(subcommand)]
        command: zk_cmd::ZkCommand,
    },
    /// Use the state-channel network: run a node; open, deposit, pay (directly or through
    /// mediators), list channels and payments, close, settle.
    Channel {
        #[command(subcommand)]
        command: channel_cmd::ChannelCommand,
    },
    /// Run a benchmark and write target/loft-bench/NAME.json.
    Bench {
        #[command(subcommand)]
        bench: loft_bench::BenchCommand,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_target(false)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Devnet(args) => devnet::run(args).await,
        Command::Rollup { command } => rollup_cmd::run(command).await,
        Command::Zk { command } => zk_cmd::run(command).await,
        Command::Channel { command } => channel_cmd::run(command).await,
        Command::Bench { bench } => loft_bench::run(bench).await,
    }
}
