//! The ZK rollup's operator end to end on the embedded L1, through its JSON-RPC API: users
//! deposit ETH and an ERC-20 on L1, register L2 keys derived from their Ethereum keys, transfer (to an existing
//! account and to a new address) and withdraw; the operator proves and submits every block and
//! the withdrawal is paid on L1. Bad input through the API (a forged signature, a replay, a
//! future nonce, an overdraft, the zero address, malformed bytes, a key change someone else
//! authorised, a deposit sent to the operator) is refused with a clear error and changes
//! nothing. The operator restarts from its record and goes on. Then it stops for good while a
//! full exit waits: exodus, and every user rebuilds the state from L1 alone and exits with
//! exactly their balance of ETH and of the token.

use std::{sync::Arc, time::Duration};

use alloy::providers::Provider;
use alloy_primitives::{Address, U256, aliases::U24};
use loft_l1::{L1Client, contracts::LoftToken};
use loft_rpc::MiningMode;
use loft_testkit::wait_until;
use loft_zk_node::{
    api::{ClientError, OperatorClient, REFUSED},
    contracts::{Deployment, RollupConfig, ZkRollup, add_token, deploy},
    keys::RollupKeys,
    operator::OperatorConfig,
    service::{self, RunningOperator},
    store::Store,
    wallet,
    wire::WireOp,
};

const ETH: u128 = 1_000_000_000_000_000_000;

fn config() -> RollupConfig {
    RollupConfig {
        // the smallest tree its accounts fit in (16): proofs are most of the test's time
        account_depth: 4,
        balance_depth: 2,
        wide_slots: 2,
        transfer_slots: 2,
        fee_account: 0,
        priority_expiration_blocks: 40,
        block_interval: 1,
        min_deposit: 1_000_000_000_000,
    }
}

/// A running operator (started as the CLI starts one) and a client of its API.
struct Running {
    operator: RunningOperator,
    client: OperatorClient,
}

async fn start(d: &Deployment, l1: &L1Client, keys: Arc<RollupKeys>, db: &std::path::Path) -> Running {
    let config =
        OperatorConfig { deployment: d.clone(), block_time: Duration::from_millis(300), l1_confirmations: 0 };
    // the previous operator's store may still be closing on another thread (its last Arc is
    // gone, its redb file not yet released): retry for a while
    let store = wait_until("the store to open", Duration::from_secs(10), async || Store::open(db).ok()).await;
    let any = "127.0.0.1:0".parse().expect("addr");
    let operator = service::run(config, l1.clone(), keys, store, any).await.expect("operator");
    let client = OperatorClient::new(&format!("http://{}", operator.api));
    Running { operator, client }
}

/// Stops the operator and its API, and waits until both let go of it (and of its store).
async fn stop(r: Running) {
    let held = r.operator.operator.clone();
    r.operator.stop().await;
    wait_until("the operator to be let go of", Duration::from_secs(5), async || {
        (held.strong_count() == 0).then_some(())
    })
    .await;
}

/// Waits until `check` holds, or fails after a while (blocks are proven on 2 cores, in a
/// debug build, beside other tests).
async fn until(what: &str, check: impl AsyncFn() -> bool) {
    wait_until(what, Duration::from_secs(600), async || check().await.then_some(())).await
}

fn refused(r: Result<loft_zk_node::api::Accepted, ClientError>) -> String {
    match r {
        Err(ClientError::Refused { code, message }) => {
            assert_eq!(code, REFUSED as i64, "{message}");
            message
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_on_the_devnet() {
    // the operator's log (RUST_LOG=info) says what it proves and submits
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let devnet = loft_testkit::devnet(MiningMode::Instant).await;
    let url = devnet.url();
    let signers = loft_l1::dev_signers(5).expect("keys");
    let operator_l1 = L1Client::connect(&url, signers[0].clone()).await.expect("l1");
    let mut users = Vec::new();
    for s in &signers[1..5] {
        users.push(L1Client::connect(&url, s.clone()).await.expect("l1"));
    }
    let dir = tempfile::tempdir().expect("dir");
    // set up once per shape and kept under target/loft-test-cache/ (the file names the shape)
    let cache = loft_testkit::cache_dir("zk-keys");
    let keys = Arc::new(loft_testkit::one_at_a_time(|| RollupKeys::devnet(&cache, &config())).expect("keys"));
    let d = deploy(&operator_l1, &config(), &keys).await.expect("deploy");
    let db = dir.path().join("operator.redb");

    // an ERC-20, registered by the governor (once: a second registration changes nothing)
    let supply = U256::from(1_000u64) * U256::from(ETH);
    let code =
        loft_l1::contracts::loft_token_creation_code("Loft Token", "LOFT", supply, operator_l1.address());
    let token_address = operator_l1.deploy(code).await.expect("token");
    assert_eq!(add_token(&operator_l1, &d, token_address).await.expect("add token"), 1);
    assert_eq!(add_token(&operator_l1, &d, token_address).await.expect("add token again"), 1);
    let token = LoftToken::new(token_address, operator_l1.provider().clone());
    let token_balance =
        async |who: Address| -> u128 { token.balanceOf(who).call().await.expect("balanceOf").to::<u128>() };
    for user in &users[..2] {
        let r = token.transfer(user.address(), U256::from(100 * ETH)).send().await.expect("send");
        assert!(r.get_receipt().await.expect("receipt").status());
    }

    let running = start(&d, &operator_l1, keys.clone(), &db).await;
    let api = running.client.clone();

    // deposits on L1 reach L2 through the priority queue
    for (i, amount) in [(0usize, ETH), (1, ETH / 2)] {
        let r = ZkRollup::new(d.rollup, users[i].provider().clone());
        let receipt = r.depositETH(users[i].address()).value(U256::from(amount)).send().await.expect("send");
        assert!(receipt.get_receipt().await.expect("receipt").status());
    }
    let (a, b) = (users[0].address(), users[1].address());
    for (i, amount) in [(0usize, 100 * ETH), (1, 50 * ETH)] {
        wallet::deposit_erc20(&users[i], &d, token_address, amount, users[i].address())
            .await
            .expect("deposit");
    }
    assert_eq!(wallet::token_id(&users[0], &d, token_address).await.expect("id"), Some(1));
    assert_eq!(token_balance(d.rollup).await, 150 * ETH, "the rollup holds the deposited tokens");
    until("both deposits", async || {
        api.account(b)
            .await
            .ok()
            .flatten()
            .is_some_and(|x| x.balances[0].to::<u128>() == ETH / 2 && x.balances[1].to::<u128>() == 50 * ETH)
    })
    .await;
    let ia = api.account(a).await.expect("api").expect("account").index;
    let ib = api.account(b).await.expect("api").expect("account").index;

    // keys derived from Ethereum signatures, registered with change-key
    let ka = wallet::derive_l2_key(&signers[1], &d).await.expect("key");
    let kb = wallet::derive_l2_key(&signers[2], &d).await.expect("key");
    assert_eq!(ka, wallet::derive_l2_key(&signers[1], &d).await.expect("key"), "the same key every time");
    // authorised by someone else: refused
    let stolen = wallet::change_key(&signers[3], &d, ia, &ka, 0, 0, 0).await.expect("sign");
    assert!(refused(api.submit(&stolen).await).contains("not authorised"));
    // signed for a fee of 0: the operator (or anyone replaying the signature) can not make
    // it pay another fee, or pay in another token
    let signed = wallet::change_key(&signers[1], &d, ia, &ka, 0, 0, 0).await.expect("sign");
    for (token, amount) in [(0u64, 1_000_000_000_000u128), (1, 0)] {
        let WireOp::ChangeKey { account, key, nonce, eth_signature, .. } = signed.clone() else {
            panic!("a change-key")
        };
        let greedy = WireOp::ChangeKey {
            account,
            key,
            nonce,
            fee_token: token,
            fee: alloy_primitives::U128::from(amount),
            eth_signature,
        };
        assert!(
            refused(api.submit(&greedy).await).contains("not authorised"),
            "fee {amount} of token {token}"
        );
    }
    for (signer, index, key) in [(&signers[1], ia, &ka), (&signers[2], ib, &kb)] {
        let op = wallet::change_key(signer, &d, index, key, 0, 0, 0).await.expect("sign");
        api.submit(&op).await.expect("change key accepted");
    }
    let fee = 1_000_000_000_000u128;
    api.submit(&wallet::transfer(&ka, ia, b, 0, ETH / 10, fee, 1)).await.expect("transfer");
    let c = users[2].address();
    api.submit(&wallet::transfer(&kb, ib, c, 0, ETH / 100, fee, 1)).await.expect("to a new address");

    // bad input: refused with a clear error, nothing changes
    let before = api.status().await.expect("status").latest_root;
    let forged = wallet::transfer(&kb, ia, b, 0, 1_000, 0, 2);
    assert!(refused(api.submit(&forged).await).contains("invalid signature"));
    assert!(
        refused(api.submit(&wallet::transfer(&ka, ia, b, 0, 1_000, 0, 1)).await).contains("nonce mismatch")
    );
    assert!(
        refused(api.submit(&wallet::transfer(&ka, ia, b, 0, 1_000, 0, 9)).await).contains("nonce mismatch")
    );
    assert!(
        refused(api.submit(&wallet::transfer(&ka, ia, b, 0, 10 * ETH, 0, 2)).await).contains("insufficient")
    );
    assert!(
        refused(api.submit(&wallet::transfer(&ka, ia, Address::ZERO, 0, 1_000, 0, 2)).await)
            .contains("zero address")
    );
    assert!(
        refused(api.submit(&wallet::transfer(&ka, ia, b, 0, 1_234_567_891_234_567_891, 0, 2)).await)
            .contains("packable")
    );
    let mut garbage = wallet::transfer(&ka, ia, b, 0, 1_000, 0, 2);
    if let WireOp::Transfer { signature, .. } = &mut garbage {
        *signature = vec![0xff; 64].into();
    }
    assert!(refused(api.submit(&garbage).await).contains("malformed signature"));
    let deposit =
        WireOp::Deposit { priority_id: 0, to: a, token: 0, amount: alloy_primitives::U128::from(5u64) };
    assert!(refused(api.submit(&deposit).await).contains("requested on L1"));
    assert_eq!(api.status().await.expect("status").latest_root, before, "refusals change nothing");

    // a withdrawal, proven, submitted and paid on L1
    api.submit(&wallet::withdraw(&ka, ia, 0, ETH / 5, fee, 2, a)).await.expect("withdraw");
    until("the withdrawal executed on L1", async || {
        let s = api.status().await.expect("status");
        s.open_ops == 0 && s.last_submitted == s.last_sealed && s.state_root == s.latest_root
    })
    .await;
    let rollup = ZkRollup::new(d.rollup, users[3].provider().clone());
    let before = operator_l1.balance(a).await.expect("balance");
    let r = rollup.withdrawPending(a, 0, ETH / 5).send().await.expect("send");
    assert!(r.get_receipt().await.expect("receipt").status());
    assert_eq!(operator_l1.balance(a).await.expect("balance") - before, U256::from(ETH / 5));

    // a restart from the record: same state, and it goes on
    let status = api.status().await.expect("status");
    stop(running).await;
    let running = start(&d, &operator_l1, keys.clone(), &db).await;
    let api = running.client.clone();
    assert_eq!(
        api.status().await.expect("status").latest_root,
        status.latest_root,
        "restarted where it stopped"
    );
    api.submit(&wallet::transfer(&kb, ib, a, 0, ETH / 50, fee, 2)).await.expect("transfer after restart");
    // the token: a transfer and a withdrawal, each paying its fee in the token
    api.submit(&wallet::transfer(&kb, ib, a, 1, 5 * ETH, fee, 3)).await.expect("token transfer");
    assert!(
        refused(api.submit(&wallet::transfer(&kb, ib, a, 1, 50 * ETH, fee, 4)).await)
            .contains("insufficient"),
        "b holds 45 tokens less the fee"
    );
    api.submit(&wallet::withdraw(&ka, ia, 1, 20 * ETH, fee, 3, a)).await.expect("token withdrawal");
    until("the blocks after the restart", async || {
        let s = api.status().await.expect("status");
        s.open_ops == 0 && s.last_submitted == s.last_sealed && s.state_root == s.latest_root
    })
    .await;
    let held =
        async |who: Address| api.account(who).await.expect("api").expect("account").balances[1].to::<u128>();
    assert_eq!(held(a).await, 85 * ETH - fee);
    assert_eq!(held(b).await, 45 * ETH - fee);
    assert_eq!(held(d.operator).await, 2 * fee, "the operator's token fees");
    let before = token_balance(a).await;
    let r = rollup.withdrawPending(a, 1, 20 * ETH).send().await.expect("send");
    assert!(r.get_receipt().await.expect("receipt").status());
    assert_eq!(token_balance(a).await - before, 20 * ETH, "the token withdrawal paid on L1");

    // the operator stops for good while a full exit waits
    let r = ZkRollup::new(d.rollup, users[1].provider().clone());
    assert!(
        r.requestFullExit(U24::from(ib), 0)
            .send()
            .await
            .expect("send")
            .get_receipt()
            .await
            .expect("r")
            .status()
    );
    stop(running).await;
    // the deadline: the queue's clock (one request, a block every `block_interval` L1 blocks)
    // plus the expiration
    for _ in 0..config().priority_expiration_blocks + config().block_interval {
        let _: serde_json::Value =
            operator_l1.provider().raw_request("evm_mine".into(), ()).await.expect("mine");
    }
    assert!(rollup.activateExodusMode().send().await.expect("send").get_receipt().await.expect("r").status());

    // every user rebuilds the state from L1 alone and exits with exactly their balance, once
    let state = wallet::rebuild_state(&users[3], &d).await.expect("rebuilt from L1");
    for owner in [d.operator, a, b, c] {
        let index = state.index_of(&owner.into_array()).expect("an account");
        for token_id in [0u16, 1] {
            let (exit, proof) =
                wallet::exit_proof(&keys.exit, &state, index, token_id.into()).expect("exit proof");
            if exit.amount == 0 {
                continue;
            }
            let id = U24::from(index);
            let r = rollup.exit(id, token_id, exit.amount, owner, proof).send().await.expect("send");
            assert!(r.get_receipt().await.expect("receipt").status());
            assert!(rollup.exit(id, token_id, exit.amount, owner, proof).call().await.is_err(), "once");
            let paid = async || {
                if token_id == 0 {
                    operator_l1.balance(owner).await.expect("balance").to::<u128>()
                } else {
                    token_balance(owner).await
                }
            };
            let before = paid().await;
            let r = rollup.withdrawPending(owner, token_id, exit.amount).send().await.expect("send");
            assert!(r.get_receipt().await.expect("receipt").status());
            assert_eq!(paid().await - before, exit.amount);
        }
    }
    assert_eq!(operator_l1.balance(d.rollup).await.expect("balance"), U256::ZERO, "every wei paid out");
    assert_eq!(token_balance(d.rollup).await, 0, "every token paid out");
    devnet.stop().await;
}
