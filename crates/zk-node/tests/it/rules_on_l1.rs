//! The ZK rollup end to end on an L1 (the embedded devnet, and anvil), driven by loft-zk's
//! rules directly, without the operator (`operator_e2e` runs it), with real Groth16
//! proofs and the generated verifiers: deposits requested on L1 reach L2 through the priority
//! queue; keys are registered with change-key authorised by the owners' Ethereum signatures;
//! transfers between users and to a new address; a withdrawal is paid on L1. Blocks with a
//! wrong new root, altered public data, or a proof made from a forged signature are refused by
//! L1. Then the operator ignores a full-exit request: anyone activates exodus after its
//! deadline, the users rebuild the state from the public data in L1's calldata alone, and
//! every user exits with an exit proof against the last executed root and is paid exactly
//! their L2 balance on L1, once.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex, OnceLock},
};

use alloy::{
    consensus::Transaction as _,
    providers::Provider,
    signers::{Signer, local::PrivateKeySigner},
    sol_types::SolCall,
};
use alloy_primitives::{Address as EthAddress, B256, Bytes, U256, aliases::U24};
use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use loft_l1::L1Client;
use loft_rpc::MiningMode;
use loft_zk::{
    block::{Block, BlockBuilder, BlockShape, Op},
    circuit::BlockCircuit,
    eddsa::SecretKey,
    exit::{Exit, ExitCircuit},
    groth16,
    ops::{ChangeKey, Deposit, FullExit, Transfer, Withdraw, key_hash},
    replay::apply_block,
    solidity::{ProofWords, compile, verifier_source},
    state::{Address, Params, State},
};
use loft_zk_node::{
    contracts::{RollupConfig, ZkRollup},
    keys::RollupKeys,
};

// the smallest account tree its five accounts fit in: proofs are most of the test's time
const PARAMS: Params = Params { account_depth: 4, balance_depth: 2 };
const SHAPE: BlockShape = BlockShape { wide: 2, transfers: 2 };
const EXPIRATION: u64 = 8;
const ETH: u64 = 0;

/// The circuits' keys of this test's shape: `operator_e2e`'s rollup has the same, so the two
/// tests share one setup, kept under `target/loft-test-cache/`.
fn keys() -> RollupKeys {
    let config = RollupConfig {
        account_depth: PARAMS.account_depth,
        balance_depth: PARAMS.balance_depth,
        wide_slots: SHAPE.wide,
        transfer_slots: SHAPE.transfers,
        fee_account: 0,
        ..RollupConfig::devnet()
    };
    let cache = loft_testkit::cache_dir("zk-keys");
    loft_testkit::one_at_a_time(|| RollupKeys::devnet(&cache, &config)).expect("keys")
}

fn b256(f: &Fr) -> B256 {
    let mut out = [0u8; 32];
    out.copy_from_slice(&f.into_bigint().to_bytes_be());
    B256::from(out)
}

fn l2(a: EthAddress) -> Address {
    a.into_array()
}

fn words(proof: &ark_groth16::Proof<ark_bn254::Bn254>) -> [U256; 8] {
    ProofWords::new(proof).0.map(U256::from_be_bytes)
}

/// Each proof this test submits, made once. The scenario runs on two L1s (the devnet and anvil)
/// with the same keys, users and seeds, so both build the same blocks and exits, and Groth16
/// with a given seed makes the same proof of the same witness: each is made by whichever
/// scenario needs it first (the other waits for it) and checked by both L1s' verifiers. The
/// key is what the proof claims (its kind and public statement).
fn proof_once(kind: &'static str, statement: Vec<u8>, make: impl FnOnce() -> [U256; 8]) -> [U256; 8] {
    type Proofs = HashMap<(&'static str, Vec<u8>), Arc<OnceLock<[U256; 8]>>>;
    static PROOFS: LazyLock<Mutex<Proofs>> = LazyLock::new(Mutex::default);
    let proof = PROOFS.lock().expect("proofs").entry((kind, statement)).or_default().clone();
    *proof.get_or_init(make)
}

struct Operator<'a, P: Provider> {
    rollup: &'a ZkRollup::ZkRollupInstance<P>,
    keys: &'a RollupKeys,
    state: State,
    number: u32,
    seen_requests: u64,
}

impl<P: Provider> Operator<'_, P> {
    /// The priority requests L1 holds that this operator has not taken yet.
    async fn priority_ops(&mut self) -> Vec<Op> {
        let logs = self.rollup.NewPriorityRequest_filter().from_block(0).query().await.expect("logs");
        let mut ops = Vec::new();
        for (e, _) in logs {
            if e.id < self.seen_requests {
                continue;
            }
            self.seen_requests = e.id + 1;
            ops.push(match e.opType {
                1 => Op::Deposit(Deposit { to: l2(e.owner), token: e.tokenId as u64, amount: e.amount }),
                5 => Op::FullExit(FullExit {
                    account: e.accountId.to::<u64>(),
                    token: e.tokenId as u64,
                    owner: l2(e.owner),
                }),
                other => panic!("unknown priority op {other}"),
            });
        }
        ops
    }

    fn build(&self, ops: Vec<Op>) -> (Block, State) {
        let mut b = BlockBuilder::new(self.state.clone(), SHAPE, 0);
        for op in ops {
            b.push(op).expect("the block takes it");
        }
        let (block, state) = b.seal().expect("seal");
        block.check_rules().expect("the rules hold");
        (block, state)
    }

    /// The proof of block `self.number + 1`, `circuit` its witness (`what` says which: the
    /// block itself or a forgery of it).
    fn prove(&self, what: &'static str, block: &Block, circuit: impl FnOnce() -> BlockCircuit) -> [U256; 8] {
        let statement = [
            &(self.number + 1).to_be_bytes()[..],
            b256(&self.state.root()).as_slice(),
            b256(&block.new_root).as_slice(),
            &block.pubdata,
        ]
        .concat();
        proof_once(what, statement, || {
            words(&groth16::prove(&self.keys.block, circuit(), [self.number as u8; 32]).expect("prove"))
        })
    }

    async fn submit(&mut self, block: Block, state: State, witnesses: Vec<Bytes>) -> u64 {
        let proof = self.prove("block", &block, || BlockCircuit::new(&block));
        let n = self.number + 1;
        let receipt = self
            .rollup
            .submitBlock(n, b256(&block.new_root), block.pubdata.clone().into(), witnesses, proof)
            .send()
            .await
            .expect("submit")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(receipt.status(), "block {n} accepted");
        assert_eq!(self.rollup.stateRoot().call().await.expect("root"), b256(&block.new_root));
        self.number = n;
        self.state = state;
        receipt.gas_used
    }
}

macro_rules! send {
    ($call:expr) => {{
        let receipt = $call.send().await.expect("send").get_receipt().await.expect("receipt");
        assert!(receipt.status(), "transaction succeeds");
    }};
}

fn signed_transfer(k: &SecretKey, from: u64, to: Address, amount: u128, fee: u128, nonce: u64) -> Op {
    let mut t = Transfer { from, to, token: ETH, amount, fee, nonce, signature: k.sign(Fr::from(0u64)) };
    t.signature = k.sign(t.message());
    Op::Transfer(t)
}

async fn scenario(url: &str) {
    let solc = loft_testkit::find_tool("solc").expect("solc");
    let signers = loft_l1::dev_signers(5).expect("keys");
    let operator_l1 = L1Client::connect(url, signers[0].clone()).await.expect("l1");
    let users: Vec<PrivateKeySigner> = signers[1..4].to_vec();
    let user_l1: Vec<L1Client> = {
        let mut v = Vec::new();
        for s in &users {
            v.push(L1Client::connect(url, s.clone()).await.expect("l1"));
        }
        v
    };
    // anyone may pay out a pending balance: a fifth account does, so balances change by exactly
    // the amounts paid
    let relayer = L1Client::connect(url, signers[4].clone()).await.expect("l1");
    let keys = keys();
    let mut verifiers = Vec::new();
    for (vk, name) in [(&keys.block.verifying, "BlockVerifier"), (&keys.exit.verifying, "ExitVerifier")] {
        let code = compile(&solc, &verifier_source(vk, name), name).expect("solc");
        verifiers.push(operator_l1.deploy(code.into()).await.expect("deploy verifier"));
    }
    let mut genesis = State::new(PARAMS);
    genesis.create_account(l2(operator_l1.address())).expect("fee account");
    let provider = operator_l1.provider().clone();
    let rollup = ZkRollup::deploy(
        provider.clone(),
        verifiers[0],
        verifiers[1],
        b256(&genesis.root()),
        operator_l1.address(),
        operator_l1.address(),
        SHAPE.wide as u16,
        SHAPE.transfers as u16,
        PARAMS.balance_depth as u8,
        PARAMS.account_depth as u8,
        EXPIRATION,
        1,
        10u128.pow(15),
    )
    .await
    .expect("deploy rollup");
    let mut op =
        Operator { rollup: &rollup, keys: &keys, state: genesis.clone(), number: 0, seen_requests: 0 };
    assert!(
        rollup.depositETH(users[0].address()).value(U256::from(10u64.pow(14))).call().await.is_err(),
        "dust is refused"
    );

    // deposits on L1 become priority requests; block 1 serves them and opens accounts 1 and 2
    let eth = 10u128.pow(18);
    for (i, amount) in [(0usize, eth), (1, eth / 2)] {
        let r = ZkRollup::new(*rollup.address(), user_l1[i].provider().clone());
        send!(r.depositETH(users[i].address()).value(U256::from(amount)));
    }
    let deposits = op.priority_ops().await;
    assert_eq!(deposits.len(), 2);
    let (block, state) = op.build(deposits);
    let gas = op.submit(block, state, vec![]).await;
    println!("block 1 (2 deposits): {gas} gas");
    let (u1, u2) = (1u64, 2u64);
    assert_eq!(op.state.balance(u1, ETH), eth);

    // block 2: both register L2 keys, authorised by their Ethereum keys; then two transfers
    let l2_keys = [SecretKey::from_bytes(&[11; 32]), SecretKey::from_bytes(&[12; 32])];
    let mut witnesses = Vec::new();
    let mut ops = Vec::new();
    for (i, account) in [(0usize, u1), (1, u2)] {
        let key = l2_keys[i].public();
        let digest = rollup
            .changeKeyDigest(U24::from(account), b256(&key_hash(&key)), 0, ETH as u8, 0)
            .call()
            .await
            .expect("digest");
        let sig = users[i].sign_message(digest.as_slice()).await.expect("sign");
        witnesses.push(Bytes::from(sig.as_bytes().to_vec()));
        ops.push(Op::ChangeKey(ChangeKey { account, key, nonce: 0, fee_token: ETH, fee: 0 }));
    }
    let fee = 10u128.pow(12);
    ops.push(signed_transfer(&l2_keys[0], u1, l2(users[1].address()), eth / 10, fee, 1));
    ops.push(signed_transfer(&l2_keys[1], u2, l2(users[0].address()), eth / 20, fee, 1));
    let (block, state) = op.build(ops);
    // a change-key signed by the wrong Ethereum key is refused by L1
    let mut wrong = witnesses.clone();
    let digest = rollup
        .changeKeyDigest(U24::from(1u64), b256(&key_hash(&l2_keys[0].public())), 0, ETH as u8, 0)
        .call()
        .await
        .expect("digest");
    wrong[0] = Bytes::from(users[2].sign_message(digest.as_slice()).await.expect("sign").as_bytes().to_vec());
    let proof = op.prove("block", &block, || BlockCircuit::new(&block));
    assert!(
        rollup
            .submitBlock(1 + op.number, b256(&block.new_root), block.pubdata.clone().into(), wrong, proof)
            .call()
            .await
            .is_err(),
        "a key change someone else authorised is refused"
    );
    let gas = op.submit(block, state, witnesses).await;
    println!("block 2 (2 change-key, 2 transfers): {gas} gas");

    // block 3: a withdrawal and a transfer to a new address
    let mut w = Withdraw {
        account: u1,
        token: ETH,
        amount: eth / 5,
        fee,
        nonce: 2,
        to: l2(users[0].address()),
        signature: l2_keys[0].sign(Fr::from(0u64)),
    };
    w.signature = l2_keys[0].sign(w.message());
    let (block, state) = op.build(vec![
        Op::Withdraw(w),
        signed_transfer(&l2_keys[1], u2, l2(users[2].address()), eth / 100, fee, 2),
    ]);
    let n = op.number + 1;
    let proof = op.prove("block", &block, || BlockCircuit::new(&block));
    // tampered: a wrong new root, altered public data, a proof from a forged signature
    let wrong_root = block.new_root + Fr::from(1u64);
    assert!(
        rollup
            .submitBlock(n, b256(&wrong_root), block.pubdata.clone().into(), vec![], proof)
            .call()
            .await
            .is_err(),
        "a wrong new root is refused"
    );
    let mut altered = block.pubdata.clone();
    altered[10] ^= 1;
    assert!(
        rollup.submitBlock(n, b256(&block.new_root), altered.into(), vec![], proof).call().await.is_err(),
        "altered public data is refused"
    );
    let forged_proof = op.prove("forged", &block, || {
        let mut forged = BlockCircuit::new(&block);
        forged.wides[0].amount *= 2;
        forged.wides[0].signature = SecretKey::from_bytes(&[66; 32]).sign(Fr::from(1u64));
        forged
    });
    assert!(
        rollup
            .submitBlock(n, b256(&block.new_root), block.pubdata.clone().into(), vec![], forged_proof)
            .call()
            .await
            .is_err(),
        "a proof of a forged signature is refused"
    );
    let gas = op.submit(block, state, vec![]).await;
    println!("block 3 (withdraw, transfer to new): {gas} gas");
    let before = operator_l1.balance(users[0].address()).await.expect("balance");
    let r = ZkRollup::new(*rollup.address(), relayer.provider().clone());
    send!(r.withdrawPending(users[0].address(), 0, eth / 5));
    assert_eq!(operator_l1.balance(users[0].address()).await.expect("balance") - before, U256::from(eth / 5));
    assert!(rollup.withdrawPending(users[0].address(), 0, 1).call().await.is_err(), "paid once");

    // the operator ignores a full exit; after the deadline anyone activates exodus
    let r = ZkRollup::new(*rollup.address(), user_l1[1].provider().clone());
    send!(r.requestFullExit(U24::from(u2), 0));
    assert!(rollup.activateExodusMode().call().await.is_err(), "not before the deadline");
    // the deadline: now, plus the queue's clock (one request: a block interval of 1 over 2
    // wide slots rounds up to 1 L1 block), plus the expiration
    for _ in 0..EXPIRATION + 1 {
        let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await.expect("mine");
    }
    send!(rollup.activateExodusMode());
    assert!(rollup.exodusMode().call().await.expect("mode"));

    // the operator is gone: a user rebuilds the state from the public data in L1's calldata
    let mut last = genesis;
    for (e, log) in rollup.BlockCommitted_filter().from_block(0).query().await.expect("logs") {
        let hash = log.transaction_hash.expect("mined");
        let tx = provider.get_transaction_by_hash(hash).await.expect("rpc").expect("the block's transaction");
        let call = ZkRollup::submitBlockCall::abi_decode(tx.input()).expect("a submitBlock call");
        apply_block(&mut last, SHAPE, 0, &call.pubdata).expect("replay");
        assert_eq!(b256(&last.root()), e.newRoot, "block {} rebuilt", e.blockNumber);
    }
    assert_eq!(b256(&last.root()), rollup.stateRoot().call().await.expect("root"));
    assert_eq!(last.root(), op.state.root());

    // every account exits with its balance at the last executed root, paid once on L1
    let accounts: Vec<(u64, EthAddress)> = vec![
        (0, operator_l1.address()),
        (u1, users[0].address()),
        (u2, users[1].address()),
        (last.index_of(&l2(users[2].address())).expect("opened by the transfer"), users[2].address()),
    ];
    for (index, owner) in accounts {
        let exit = Exit::new(&last, index, ETH).expect("exit");
        assert!(exit.amount > 0, "account {index} has funds");
        let statement =
            [&index.to_be_bytes()[..], &exit.amount.to_be_bytes(), b256(&last.root()).as_slice()].concat();
        let proof = proof_once("exit", statement, || {
            words(&groth16::prove(&keys.exit, ExitCircuit::new(&exit), [9; 32]).expect("prove"))
        });
        let id = U24::from(index);
        assert!(rollup.exit(id, 0, exit.amount + 1, owner, proof).call().await.is_err(), "not a wei more");
        send!(rollup.exit(id, 0, exit.amount, owner, proof));
        assert!(rollup.exit(id, 0, exit.amount, owner, proof).call().await.is_err(), "once");
        let before = operator_l1.balance(owner).await.expect("balance");
        let r = ZkRollup::new(*rollup.address(), relayer.provider().clone());
        send!(r.withdrawPending(owner, 0, exit.amount));
        let paid = operator_l1.balance(owner).await.expect("balance") - before;
        assert_eq!(paid, U256::from(exit.amount), "account {index} is paid its L2 balance");
    }
    // what L1 holds is exactly what the L2 accounts held (plus nothing, minus nothing)
    assert_eq!(operator_l1.balance(*rollup.address()).await.expect("balance"), U256::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_rollup_on_the_devnet() {
    if loft_testkit::tool("solc").is_none() {
        return;
    }
    let devnet = loft_testkit::devnet(MiningMode::Instant).await;
    scenario(&devnet.url()).await;
    devnet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zk_rollup_on_anvil() {
    let (Some(_), Some(anvil)) = (loft_testkit::tool("solc"), loft_testkit::anvil()) else { return };
    scenario(&anvil.endpoint()).await;
}
