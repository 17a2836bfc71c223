//! The one-step contract against the Rust VM: every step of the per-class programs, of
//! random programs and of a program that reads preimages, and the first, last and every
//! syscall step of the Rust guest program (boot data loaded as local data, the list as a
//! keccak preimage), is proven by the VM and executed by `RiscvStep` on the embedded
//! devnet's EVM, which must return the same post-state hash. The gas of every step is
//! measured (median and worst; the goal is under 1,000,000).

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    sol,
};
use loft_fault_vm::{
    Machine, MapOracle, StepWitness,
    oracle::{KECCAK_KEY, LOCAL_KEY},
};
use loft_l1::L1Client;
use loft_rpc::MiningMode;

use crate::qemu::{assemble, tools};

sol! {
    #[sol(rpc)]
    interface IRiscvStep {
        function step(bytes calldata stateData, bytes calldata proof, bytes32 localContext) external returns (bytes32);
    }
    #[sol(rpc)]
    interface IPreimageOracle {
        function loadKeccak256PreimagePart(uint256 partOffset, bytes calldata preimage) external;
        function loadLocalData(uint256 ident, bytes32 localContext, bytes32 word, uint256 size, uint256 partOffset) external returns (bytes32);
    }
}

/// The creation code of a committed artifact.
fn creation_code(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../contracts/artifacts/{name}.json"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("artifact")).expect("json");
    let hex = json["bytecode"].as_str().expect("bytecode");
    alloy::primitives::hex::decode(hex).expect("hex")
}

struct OnChain {
    l1: L1Client,
    step: Address,
    oracle: Address,
    gas: Vec<u64>,
    /// The dispute the steps belong to: local data is loaded, and read, under it.
    context: B256,
    loaded: std::collections::HashSet<(B256, u32, B256)>,
}

impl OnChain {
    async fn deploy(url: &str) -> Self {
        let l1 = L1Client::connect(url, loft_l1::dev_signers(1).expect("keys")[0].clone()).await.expect("l1");
        let oracle = l1.deploy(creation_code("PreimageOracle").into()).await.expect("deploy the oracle");
        let mut code = creation_code("RiscvStep");
        code.extend_from_slice(&B256::left_padding_from(oracle.as_slice()).0);
        let step = l1.deploy(code.into()).await.expect("deploy the step");
        Self { l1, step, oracle, gas: Vec::new(), context: B256::ZERO, loaded: Default::default() }
    }

    /// Executes the witness's step on L1 (loading its preimage part first) and requires the
    /// VM's post-state hash.
    async fn check(&mut self, w: &StepWitness, what: &str) {
        if let Some(read) = &w.preimage {
            // the part of the stream the step reads, once per part
            // a read at the stream's end needs only the stream's length, which any part gives
            let end = 8 + read.preimage.len() as u32;
            let offset = if read.offset >= end { 0 } else { read.offset };
            if self.loaded.insert((read.key, offset, self.context)) {
                let oracle = IPreimageOracle::new(self.oracle, self.l1.provider().clone());
                let receipt = match read.key[0] {
                    KECCAK_KEY => oracle
                        .loadKeccak256PreimagePart(U256::from(offset), read.preimage.clone().into())
                        .send()
                        .await
                        .expect("send")
                        .get_receipt()
                        .await
                        .expect("receipt"),
                    // boot data, loaded by this caller for this dispute (the context the steps use)
                    LOCAL_KEY => {
                        let ident = u64::from_be_bytes(read.key[24..].try_into().expect("8 bytes"));
                        let mut word = [0u8; 32];
                        word[..read.preimage.len()].copy_from_slice(&read.preimage);
                        let size = U256::from(read.preimage.len());
                        oracle
                            .loadLocalData(
                                U256::from(ident),
                                self.context,
                                B256::from(word),
                                size,
                                U256::from(offset),
                            )
                            .send()
                            .await
                            .expect("send")
                            .get_receipt()
                            .await
                            .expect("receipt")
                    }
                    other => panic!("{what}: key type {other}"),
                };
                assert!(receipt.status(), "{what}: the preimage part loads");
            }
        }
        let step = IRiscvStep::new(self.step, self.l1.provider().clone());
        let call = step.step(Bytes::copy_from_slice(&w.state), w.proof.clone().into(), self.context);
        let post = call.call().await.unwrap_or_else(|e| panic!("{what}: the contract refused the step: {e}"));
        if post != w.post_hash {
            let pre = loft_fault_vm::VmState::decode(&w.state).expect("state");
            panic!(
                "{what}: the contract's post-state {post} differs from the VM's {} (pc {:#x}, leaves {:?}, a0..a2 {:?}, a7 {})",
                w.post_hash,
                pre.pc,
                w.leaves,
                &pre.regs[10..13],
                pre.regs[17]
            );
        }
        self.gas.push(call.estimate_gas().await.expect("gas"));
    }
}

/// Proves and checks every step of `elf`'s run; returns the steps.
async fn all_steps(chain: &mut OnChain, elf: &[u8], oracle: &mut MapOracle, name: &str) -> u64 {
    let mut m = Machine::load_elf(elf).expect("load");
    while !m.exited {
        let w = m.prove_step(oracle).expect("prove");
        chain.check(&w, &format!("{name} step {}", m.step - 1)).await;
    }
    // an exited machine steps to itself
    let w = m.prove_step(oracle).expect("prove");
    chain.check(&w, &format!("{name} after exit")).await;
    m.step
}

fn median_and_max(mut gas: Vec<u64>) -> (u64, u64) {
    gas.sort_unstable();
    (gas[gas.len() / 2], gas[gas.len() - 1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_steps_as_the_vm_does() {
    let Some((gcc, _)) = tools() else { return };
    let devnet = loft_testkit::devnet(MiningMode::Instant).await;
    let mut chain = OnChain::deploy(&devnet.url()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let programs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/programs");
    let mut steps = 0;
    for name in ["alu", "muldiv", "memory", "amo", "control", "compressed"] {
        let source = std::fs::read_to_string(programs.join(format!("{name}.S"))).expect("source");
        let elf = assemble(&gcc, &source, dir.path(), name);
        steps += all_steps(&mut chain, &elf, &mut MapOracle::new(), name).await;
    }
    for seed in 0..4 {
        let elf = assemble(&gcc, &crate::random::program(500 + seed, 150), dir.path(), "random");
        steps += all_steps(&mut chain, &elf, &mut MapOracle::new(), &format!("random-{seed}")).await;
    }
    let mut oracle = MapOracle::new();
    let key = oracle.insert_keccak((0..100u8).collect());
    let elf = assemble(&gcc, &crate::preimage::reader(key), dir.path(), "reader");
    steps += all_steps(&mut chain, &elf, &mut oracle, "reader").await;
    // the Rust guest program: its first steps, every syscall, a step every 100,000 and its
    // last steps (1.5 million in all; each checked step is also proven from the same run)
    if let Some(elf) = crate::guest::guest_elf("preimage-sum") {
        let list: Vec<u8> = (0..=255u8).collect();
        let sum = list.iter().map(|&b| b as u64).sum();
        for claim in [sum, sum + 1] {
            // two disputes, each with its own boot data: the same local keys, other contexts
            chain.context = B256::from(U256::from(claim));
            let mut oracle = crate::guest::sum_oracle(&list, claim);
            let mut counter = Machine::load_elf(&elf).expect("load");
            counter.run(&mut oracle, u64::MAX).expect("run");
            let last = counter.step;
            let mut m = Machine::load_elf(&elf).expect("load");
            while !m.exited {
                let ecall = m.memory.read_le::<4>(m.pc) == 0x73;
                if m.step < 200 || ecall || m.step.is_multiple_of(100_000) || m.step + 20 >= last {
                    let w = m.prove_step(&mut oracle).expect("prove");
                    chain.check(&w, &format!("preimage-sum({claim}) step {}", m.step - 1)).await;
                    steps += 1;
                } else {
                    m.step(&mut oracle).expect("step");
                }
            }
            assert_eq!(m.exit_code, (claim != sum) as u8);
        }
    }
    let (median, max) = median_and_max(std::mem::take(&mut chain.gas));
    println!("{steps} steps agree; gas per step: median {median}, worst {max}");
    assert!(max < 1_000_000, "a step costs {max} gas");
    devnet.stop().await;
}
