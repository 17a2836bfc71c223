//! loft's benchmarks. Each prints a table and writes `target/loft-bench/NAME.json` in the
//! format described in `docs/bench.md`; comparisons (anvil, L1-direct) are measured in the
//! same run.

pub mod channels;
pub mod fault;
pub mod l1;
pub mod report;
pub mod rollup;
pub mod rollup_hour;
pub mod zk;

use clap::Subcommand;

/// `loft bench ...`
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// L1 engine throughput (ETH and ERC-20 transfers) against anvil, and L1-direct gas.
    L1(l1::L1Args),
    /// Optimistic rollup: L1 gas per L2 transaction (calldata), bytes per transaction,
    /// compression, sequencer throughput, against L1-direct.
    Rollup(rollup::RollupArgs),
    /// ZK rollup: constraints per transfer, setup and proving time, verifier gas, public
    /// data per transfer.
    Zk(zk::ZkArgs),
    /// Payment channels: persisted direct payments per second between two nodes over
    /// loopback, L1 gas of a channel's life against L1 transfers.
    Channels(channels::ChannelsArgs),
    /// Fault proofs: the fault-proof VM's speed on a guest program, with and without a
    /// memory root per instruction, and the time to prove a run's last instruction.
    Fault(fault::FaultArgs),
}

/// Runs a benchmark.
pub async fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::L1(args) => l1::run(args).await.map(|_| ()),
        BenchCommand::Rollup(args) => rollup::run(args).await.map(|_| ()),
        BenchCommand::Zk(args) => zk::run(args).await.map(|_| ()),
        BenchCommand::Channels(args) => channels::run(args).await.map(|_| ()),
        BenchCommand::Fault(args) => fault::run(args).await.map(|_| ()),
    }
}
