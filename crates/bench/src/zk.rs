//! `loft bench zk`: what the ZK rollup's block circuit costs, for full blocks of transfers at
//! a few sizes: constraints per transfer, setup and proving time on this machine, the
//! generated Solidity verifier's gas on the embedded L1, and the public data per transfer.
//!
//! Blocks are of shape (`--wide` wide slots, `--slots` transfer slots), all transfer slots
//! used. Each proven block is then submitted to a `ZkRollup` on the embedded L1 (with the
//! committed `Groth16Verifier` holding the block circuit's key): L1 gas per transfer is that
//! transaction's gas (21,000, calldata, the proof check, the state update) over the block's
//! transfers.

use std::time::Instant;

use alloy_primitives::U256;
use anyhow::{Context, bail};
use ark_bn254::Fr;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
use clap::Args;
use loft_devnet::{Devnet, DevnetConfig};
use loft_l1::L1Client;
use loft_rpc::MiningMode;
use loft_zk::{
    block::{Block, BlockBuilder, BlockShape, Op},
    circuit::BlockCircuit,
    eddsa::SecretKey,
    groth16,
    ops::Transfer,
    rules::TRANSFER_BYTES,
    solidity::{ProofWords, input_word, verifier_key_words},
    state::{Params, State},
};

use crate::{
    l1::spinner,
    report::{Better, Report},
};

use loft_zk_node::contracts::{Groth16Verifier, ZkRollup, fr_word};

/// Options of `loft bench zk`.
#[derive(Args, Debug, Clone)]
pub struct ZkArgs {
    /// Block sizes (transfer slots) to prove, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "4,16")]
    pub slots: Vec<usize>,
    /// Wide slots (deposits, withdrawals, exits, change-key, transfers to new accounts) per
    /// block.
    #[arg(long, default_value_t = 1)]
    pub wide: usize,
    /// Depth of the account tree.
    #[arg(long, default_value_t = 24)]
    pub account_depth: usize,
    /// Depth of each balance tree.
    #[arg(long, default_value_t = 3)]
    pub balance_depth: usize,
}

/// A block of `shape` whose transfer slots are all used, among a few accounts.
fn full_block(params: Params, shape: BlockShape) -> anyhow::Result<(Block, BlockCircuit)> {
    let mut state = State::new(params);
    state.create_account([0xf0; 20])?;
    let keys: Vec<SecretKey> = (1..=4u8).map(|i| SecretKey::from_bytes(&[i; 32])).collect();
    for (i, key) in keys.iter().enumerate() {
        let index = state.create_account([i as u8 + 1; 20])?;
        state.credit(index, 0, 10u128.pow(24))?;
        state.set_pubkey(index, key.public())?;
    }
    let mut builder = BlockBuilder::new(state, shape, 0);
    let mut nonces = [0u64; 5];
    for n in 0..shape.transfers {
        let from = 1 + n % 3;
        let to = 1 + (n + 1) % 3;
        let key = &keys[from - 1];
        let mut t = Transfer {
            from: from as u64,
            to: [to as u8; 20],
            token: 0,
            amount: 1_000_000_000_000_000,
            fee: 10_000_000_000_000,
            nonce: nonces[from],
            signature: key.sign(Fr::from(0u64)),
        };
        t.signature = key.sign(t.message());
        nonces[from] += 1;
        builder.push(Op::Transfer(t))?;
    }
    let (block, _) = builder.seal()?;
    block.check_rules()?;
    let circuit = BlockCircuit::new(&block);
    Ok((block, circuit))
}

/// Runs the ZK benchmark and writes `target/loft-bench/zk.json`.
pub async fn run(args: ZkArgs) -> anyhow::Result<Report> {
    if args.slots.is_empty() || args.slots.contains(&0) {
        bail!("--slots needs block sizes of at least 1");
    }
    let params = Params { account_depth: args.account_depth, balance_depth: args.balance_depth };
    let mut report = Report::new("zk");
    let mut verify_gas = None;
    let largest = args.slots.iter().copied().max().unwrap_or(1);
    for &slots in &args.slots {
        let n = slots as u64;
        let pb = spinner(format!("{slots} transfer slots: building the block"));
        let shape = BlockShape { wide: args.wide, transfers: slots };
        let (sealed, block) = full_block(params, shape)?;
        let commitment = block.commitment;
        let cs = ConstraintSystem::<Fr>::new_ref();
        block.clone().generate_constraints(cs.clone())?;
        if !cs.is_satisfied()? {
            bail!("the block does not satisfy its circuit");
        }
        let constraints = cs.num_constraints();
        pb.set_message(format!("{slots} transfer slots ({constraints} constraints): setup"));
        let start = Instant::now();
        let keys = groth16::deterministic_setup(BlockCircuit::blank(params, shape, 0)?, [42; 32])?;
        let setup_s = start.elapsed().as_secs_f64();
        pb.set_message(format!("{slots} transfer slots ({constraints} constraints): proving"));
        let start = Instant::now();
        let proof = groth16::prove(&keys, block, [43; 32])?;
        let prove_s = start.elapsed().as_secs_f64();
        if !groth16::verify(&keys, &[commitment], &proof) {
            bail!("the proof does not verify");
        }
        pb.set_message(format!("{slots} transfer slots: submitting the block on the embedded L1"));
        let (verify, submit) = evm_gas(&keys, &proof, &sealed).await?;
        verify_gas.get_or_insert(verify);
        pb.finish_and_clear();
        report.push(&format!("zk.l1_gas.block_{slots}"), submit as f64, "gas", Better::Lower, 1);
        report.push(
            &format!("zk.l1_gas_per_tx.transfer.block_{slots}"),
            submit as f64 / n as f64,
            "gas",
            Better::Lower,
            n,
        );
        report.push(
            &format!("zk.constraints.block_{slots}"),
            constraints as f64,
            "constraints",
            Better::Lower,
            n,
        );
        report.push(&format!("zk.setup_s.block_{slots}"), setup_s, "s", Better::Lower, n);
        report.push(&format!("zk.prove_s.block_{slots}"), prove_s, "s", Better::Lower, n);
        if slots == largest {
            report.push("zk.block_size", slots as f64, "transfers", Better::Higher, n);
            report.push(
                "zk.constraints_per_transfer",
                constraints as f64 / n as f64,
                "constraints",
                Better::Lower,
                n,
            );
            report.push("zk.prove_s_per_transfer", prove_s / n as f64, "s", Better::Lower, n);
            report.push("zk.l1_gas_per_tx.transfer", submit as f64 / n as f64, "gas", Better::Lower, n);
        }
    }
    report.push("zk.verify_gas", verify_gas.unwrap_or_default() as f64, "gas", Better::Lower, 1);
    report.push("zk.pubdata_bytes_per_transfer", TRANSFER_BYTES as f64, "B", Better::Lower, 1);
    report.finish()?;
    Ok(report)
}

/// On a fresh embedded L1: the gas of `verifyProof` (the call alone, without the 21,000 of a
/// transaction) and of `submitBlock` for `block` (the whole transaction).
async fn evm_gas(
    keys: &groth16::Keys,
    proof: &ark_groth16::Proof<ark_bn254::Bn254>,
    block: &Block,
) -> anyhow::Result<(u64, u64)> {
    let devnet = Devnet::start(DevnetConfig {
        addr: "127.0.0.1:0".parse()?,
        mining: MiningMode::Instant,
        ..Default::default()
    })
    .await?;
    let l1 = L1Client::connect(&devnet.url(), loft_l1::dev_signers(1)?.remove(0)).await?;
    let vk =
        verifier_key_words(&keys.verifying).context("a key with one public input")?.map(U256::from_be_bytes);
    let code = Groth16Verifier::deploy_builder(l1.provider().clone(), vk).calldata().clone();
    let verifier = Groth16Verifier::new(l1.deploy(code).await?, l1.provider().clone());
    let words = ProofWords::new(proof).0.map(U256::from_be_bytes);
    let input = [U256::from_be_bytes(input_word(&block.commitment()))];
    if !verifier.verifyProof(words, input).call().await? {
        bail!("the EVM refused a valid proof");
    }
    let verify = verifier.verifyProof(words, input).estimate_gas().await?.saturating_sub(21_000);
    // the rollup starts at the block's old root (the bench's accounts are its genesis)
    let code = ZkRollup::deploy_builder(
        l1.provider().clone(),
        *verifier.address(),
        *verifier.address(),
        fr_word(&block.old_root),
        l1.address(),
        l1.address(),
        block.shape.wide as u16,
        block.shape.transfers as u16,
        3,
        24,
        600,
        10,
        0,
    )
    .calldata()
    .clone();
    let rollup = ZkRollup::new(l1.deploy(code).await?, l1.provider().clone());
    let receipt = rollup
        .submitBlock(1, fr_word(&block.new_root), block.pubdata.clone().into(), vec![], words)
        .send()
        .await?
        .get_receipt()
        .await?;
    if !receipt.status() {
        bail!("L1 refused the block");
    }
    devnet.stop().await;
    Ok((verify, receipt.gas_used))
}
