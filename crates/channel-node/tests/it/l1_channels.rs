//! The protocol of `loft-channels` against the real `ChannelManager` on the embedded devnet:
//! Rust-signed balance proofs, cooperative close in one transaction, a close with an old
//! proof that loses to the watchtower's update, and an on-chain unlock of a lock whose secret
//! was registered in time. L1 balances must match the off-chain ones to the wei (gas counted).

use crate::common::{ETH, Party, setup};
use alloy::{providers::Provider, rpc::types::TransactionReceipt};
use alloy_primitives::{Address, B256, U256, keccak256};
use loft_channel_node::contracts::{ChannelContracts, ChannelDeployment, settle_data};
use loft_channels::{Channel, Lock, SigningKey, lock::secrethash};
use loft_devnet::Devnet;
use loft_l1::L1Client;

const SETTLE_TIMEOUT: u64 = 10;

struct Net {
    _devnet: Devnet,
    d: ChannelDeployment,
    alice: Party,
    bob: Party,
    tower: Party,
}

async fn net() -> Net {
    let (devnet, _url, d, mut parties) = setup(3).await;
    let tower = parties.pop().expect("3");
    let bob = parties.pop().expect("2");
    let alice = parties.pop().expect("1");
    Net { _devnet: devnet, d, alice, bob, tower }
}

fn cost(r: &TransactionReceipt) -> U256 {
    U256::from(r.gas_used) * U256::from(r.effective_gas_price)
}

async fn mine(l1: &L1Client, blocks: u64) {
    let _: serde_json::Value =
        l1.provider().raw_request("anvil_mine".into(), (format!("0x{blocks:x}"),)).await.expect("mine");
}

/// Opens an ETH channel, Alice depositing `da` and Bob `db`; returns both views.
async fn open(n: &Net, da: u128, db: u128) -> (u64, Channel, Channel, U256, U256) {
    let a = ChannelContracts::new(&n.alice.l1, n.d);
    let b = ChannelContracts::new(&n.bob.l1, n.d);
    let (id, r1) = a
        .open_with_deposit(n.bob.key.address(), Address::ZERO, SETTLE_TIMEOUT, U256::from(da))
        .await
        .expect("open");
    let partner_cost = if db == 0 {
        U256::ZERO
    } else {
        let r2 = b
            .set_total_deposit(id, n.bob.key.address(), U256::from(db), U256::from(db))
            .await
            .expect("deposit");
        eprintln!("gas: partner deposit {}", r2.gas_used);
        cost(&r2)
    };
    let mut alice =
        Channel::new(id, Address::ZERO, n.alice.key.address(), n.bob.key.address(), SETTLE_TIMEOUT);
    let mut bob = Channel::new(id, Address::ZERO, n.bob.key.address(), n.alice.key.address(), SETTLE_TIMEOUT);
    alice.ours.deposit = da;
    alice.theirs.deposit = db;
    bob.ours.deposit = db;
    bob.theirs.deposit = da;
    eprintln!("gas: open with deposit {}", r1.gas_used);
    (id, alice, bob, cost(&r1), partner_cost)
}

fn pay(n: &Net, from: &mut Channel, to: &mut Channel, key: &SigningKey, amount: u128, i: u64) {
    let domain = n.d.domain();
    let mh = keccak256(i.to_be_bytes());
    let sent = from.send_direct(key, &domain, amount, mh).expect("send");
    to.receive_direct(&sent.verify(&domain).expect("sig"), mh).expect("receive");
}

#[tokio::test]
async fn thousands_of_payments_then_one_cooperative_close() {
    let n = net().await;
    let a0 = n.alice.l1.balance(n.alice.key.address()).await.expect("bal");
    let b0 = n.bob.l1.balance(n.bob.key.address()).await.expect("bal");
    let (id, mut alice, mut bob, ca, cb) = open(&n, 5 * ETH, 2 * ETH).await;
    for i in 0..2000 {
        pay(&n, &mut alice, &mut bob, &n.alice.key, ETH / 1000, i);
    }
    for i in 0..300 {
        pay(&n, &mut bob, &mut alice, &n.bob.key, ETH / 2000, 10_000 + i);
    }
    let alice_final = U256::from(5 * ETH - 2 * ETH + 300 * ETH / 2000);
    let bob_final = U256::from(2 * ETH + 2 * ETH - 300 * ETH / 2000);
    assert_eq!(alice.our_balance(), alice_final);
    assert_eq!(bob.our_balance(), bob_final);
    assert_eq!(alice.cooperative_balances(), bob.cooperative_balances(), "both agree");

    let ((p1, b1), (p2, b2)) = alice.cooperative_balances();
    let expiration = n.alice.l1.block_number().await.expect("head") + 20;
    let digest = n.d.domain().cooperative_settle_digest(id, p1, b1, p2, b2, expiration);
    let (k1, k2) =
        if p1 == n.alice.key.address() { (&n.alice.key, &n.bob.key) } else { (&n.bob.key, &n.alice.key) };
    let close = ChannelContracts::new(&n.alice.l1, n.d)
        .cooperative_settle(id, b1, b2, expiration, &k1.sign_digest(&digest), &k2.sign_digest(&digest))
        .await
        .expect("cooperative settle");
    eprintln!("gas: cooperative settle {}", close.gas_used);
    let a1 = n.alice.l1.balance(n.alice.key.address()).await.expect("bal");
    let b1l1 = n.bob.l1.balance(n.bob.key.address()).await.expect("bal");
    assert_eq!(a1 + ca + cost(&close), a0 - U256::from(5 * ETH) + alice_final);
    assert_eq!(b1l1 + cb, b0 - U256::from(2 * ETH) + bob_final);
    let ch = ChannelContracts::new(&n.alice.l1, n.d).channel(id).await.expect("channel");
    assert_eq!(ch.state, 3, "settled");
    // A replay of the same close is refused with the contract's reason.
    let again = ChannelContracts::new(&n.bob.l1, n.d)
        .cooperative_settle(id, b1, b2, expiration, &k1.sign_digest(&digest), &k2.sign_digest(&digest))
        .await
        .expect_err("replay");
    assert!(again.to_string().contains("WrongState"), "{again}");
}

/// Alice paid Bob 10 times, Bob paid Alice 30 times; Bob closes with Alice's nonce-3 proof and
/// without his own payments. Alice is offline: her watchtower submits Bob's nonce-30 proof with
/// her delegation (after an older one of his); an attempt with a stale nonce fails; the settle
/// pays Alice everything she is due.
#[tokio::test]
async fn old_state_close_loses_to_the_watchtower() {
    let n = net().await;
    let domain = n.d.domain();
    let a0 = n.alice.l1.balance(n.alice.key.address()).await.expect("bal");
    let (id, mut alice, mut bob, ca, _) = open(&n, 3 * ETH, 3 * ETH).await;
    let mut alice_proofs = Vec::new();
    for i in 0..10 {
        pay(&n, &mut alice, &mut bob, &n.alice.key, ETH / 10, i);
        alice_proofs.push(bob.theirs.proof.expect("proof"));
    }
    let mut bob_proofs = Vec::new();
    for i in 0..30 {
        pay(&n, &mut bob, &mut alice, &n.bob.key, ETH / 20, 100 + i);
        bob_proofs.push(alice.theirs.proof.expect("proof"));
    }
    // Alice hands her watchtower Bob's newest proof with a delegation.
    let newest = alice.theirs.proof.expect("newest");
    let delegation =
        n.alice.key.sign_digest(&newest.update_authorization_digest(&domain, n.alice.key.address()));
    let older = bob_proofs[4];
    let older_delegation =
        n.alice.key.sign_digest(&older.update_authorization_digest(&domain, n.alice.key.address()));

    let bob_l1 = ChannelContracts::new(&n.bob.l1, n.d);
    bob_l1.close(id, Some(&alice_proofs[2])).await.expect("close");
    let tower = ChannelContracts::new(&n.tower.l1, n.d);
    tower
        .update_non_closing(id, n.alice.key.address(), &older, Some(&older_delegation))
        .await
        .expect("older");
    tower.update_non_closing(id, n.alice.key.address(), &newest, Some(&delegation)).await.expect("newest");
    let stale = tower.update_non_closing(id, n.alice.key.address(), &older, Some(&older_delegation)).await;
    assert!(stale.expect_err("stale").to_string().contains("StaleNonce"));
    // Bob can not pass his own old proof off as Alice's update.
    let forged = bob_l1.update_non_closing(id, n.alice.key.address(), &bob_proofs[0], None).await;
    assert!(forged.is_err());
    // Settling early is refused.
    let early = bob_l1
        .settle(
            id,
            settle_data(n.alice.key.address(), Some(&alice_proofs[2])),
            settle_data(n.bob.key.address(), Some(&newest)),
        )
        .await;
    assert!(early.expect_err("early").to_string().contains("SettlePeriodNotOver"));
    mine(&n.bob.l1, SETTLE_TIMEOUT + 1).await;
    bob_l1
        .settle(
            id,
            settle_data(n.alice.key.address(), Some(&alice_proofs[2])),
            settle_data(n.bob.key.address(), Some(&newest)),
        )
        .await
        .expect("settle");
    let a1 = n.alice.l1.balance(n.alice.key.address()).await.expect("bal");
    // Bob's old choice of Alice's proof (3 payments instead of 10) only helps Alice.
    let due_at_least = U256::from(3 * ETH - 10 * ETH / 10 + 30 * ETH / 20);
    let got = a1 + ca - (a0 - U256::from(3 * ETH));
    assert_eq!(got, U256::from(3 * ETH - 3 * ETH / 10 + 30 * ETH / 20));
    assert!(got >= due_at_least);
}

/// Alice locks 1 ETH to Bob; Bob learns the secret and Alice goes silent: Bob registers the
/// secret on L1 before the lock expires, closes with Alice's proof holding the lock, settles,
/// and `unlock` pays him the lock.
#[tokio::test]
async fn a_registered_lock_is_claimed_on_chain() {
    let n = net().await;
    let domain = n.d.domain();
    let (id, mut alice, mut bob, _, _) = open(&n, 2 * ETH, 0).await;
    let head = n.alice.l1.block_number().await.expect("head");
    let secret = B256::repeat_byte(0x5e);
    let pending = Lock { expiration: head + 40, amount: ETH, secrethash: secrethash(&secret) };
    let never =
        Lock { expiration: head + 30, amount: ETH / 4, secrethash: secrethash(&B256::repeat_byte(1)) };
    for (i, lock) in [pending, never].into_iter().enumerate() {
        let mh = keccak256([i as u8]);
        let sent = alice.send_locked(&n.alice.key, &domain, lock, head, mh).expect("lock");
        bob.receive_locked(&sent.verify(&domain).expect("sig"), &lock, head, mh).expect("receive");
    }
    let bob_l1 = ChannelContracts::new(&n.bob.l1, n.d);
    let reg = bob_l1.register_secret(secret).await.expect("register");
    eprintln!("gas: register secret {}", reg.gas_used);
    let close = bob_l1.close(id, bob.theirs.proof.as_ref()).await.expect("close");
    mine(&n.bob.l1, SETTLE_TIMEOUT + 1).await;
    let b0 = n.bob.l1.balance(n.bob.key.address()).await.expect("bal");
    let a0 = n.alice.l1.balance(n.alice.key.address()).await.expect("bal");
    let settle = bob_l1
        .settle(
            id,
            settle_data(n.alice.key.address(), bob.theirs.proof.as_ref()),
            settle_data(n.bob.key.address(), None),
        )
        .await
        .expect("settle");
    eprintln!("gas: close {}, settle {}", close.gas_used, settle.gas_used);
    // Not before every unregistered lock expired.
    let early = bob_l1.unlock(id, n.alice.key.address(), &bob.theirs.locks).await;
    assert!(early.expect_err("pending").to_string().contains("LockStillPending"));
    mine(&n.bob.l1, 30).await;
    let unlock = bob_l1.unlock(id, n.alice.key.address(), &bob.theirs.locks).await.expect("unlock");
    eprintln!("gas: unlock of 2 locks {}", unlock.gas_used);
    let b1 = n.bob.l1.balance(n.bob.key.address()).await.expect("bal");
    let a1 = n.alice.l1.balance(n.alice.key.address()).await.expect("bal");
    assert_eq!(b1 + cost(&settle) + cost(&unlock), b0 + U256::from(ETH));
    assert_eq!(a1, a0 + U256::from(2 * ETH - ETH), "Alice gets back the rest and the unclaimed lock");
}
