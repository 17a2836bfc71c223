//! Channels of realistic, really signed transactions: the round trip through frames, L1
//! payloads and the channel bank, and (ignored by default, it takes a while) the
//! compression figures behind `DEFAULT_COMPRESSION`:
//!
//! ```text
//! cargo test -p loft-rollup --test it batch_compression -- --ignored --nocapture
//! ```

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    signers::{SignerSync, local::PrivateKeySigner},
};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use loft_rollup::batch::{
    ChannelBank, ChannelEncoder, ChannelId, Compression, DEFAULT_COMPRESSION, L2BlockBatch,
    MAX_CHANNEL_BYTES, decompress, encode_batches,
};
use std::time::Instant;

const CHAIN_ID: u64 = 42069;
const SENDERS: usize = 16;
const TOKENS: usize = 4;

/// splitmix64: a small deterministic generator, so runs compress the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn address(&mut self) -> Address {
        let mut a = [0u8; 20];
        for chunk in a.chunks_mut(8) {
            let bytes = self.next().to_be_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Address::from(a)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mix {
    Eth,
    Erc20,
    Both,
}

/// Builds `blocks` L2 blocks of `per_block` transactions signed by 16 senders (increasing
/// nonces, random recipients): ETH transfers, ERC-20 `transfer` calls to one of 4
/// tokens, or both in equal parts. Fees move with a per-block base fee, amounts have the
/// trailing zeros wallets tend to produce.
fn blocks(mix: Mix, blocks: usize, per_block: usize, seed: u64) -> Vec<L2BlockBatch> {
    let mut rng = Rng(seed);
    let signers: Vec<PrivateKeySigner> = (0..SENDERS)
        .map(|i| PrivateKeySigner::from_bytes(&B256::repeat_byte(i as u8 + 1)).expect("valid key"))
        .collect();
    let tokens: Vec<Address> = (0..TOKENS).map(|_| rng.address()).collect();
    let mut nonces = [0u64; SENDERS];
    let mut parent = B256::repeat_byte(0x11);
    let mut base_fee: u128 = 1_000_000_000;
    (0..blocks)
        .map(|n| {
            base_fee = base_fee * (950 + u128::from(rng.below(101))) / 1000;
            let transactions = (0..per_block)
                .map(|i| {
                    let s = rng.below(SENDERS as u64) as usize;
                    let nonce = nonces[s];
                    nonces[s] += 1;
                    let tip: u128 = [1_000_000, 100_000_000, 1_500_000_000][rng.below(3) as usize];
                    let erc20 = match mix {
                        Mix::Eth => false,
                        Mix::Erc20 => true,
                        Mix::Both => i % 2 == 1,
                    };
                    let mut tx = TxEip1559 {
                        chain_id: CHAIN_ID,
                        nonce,
                        max_priority_fee_per_gas: tip,
                        max_fee_per_gas: 2 * base_fee + tip,
                        ..Default::default()
                    };
                    if erc20 {
                        let amount = U256::from(1 + rng.below(1_000_000_000)) * U256::from(10u64.pow(12));
                        let mut input = Vec::with_capacity(68);
                        input.extend_from_slice(&[0xa9, 0x05, 0x9c, 0xbb]);
                        input.extend_from_slice(&[0u8; 12]);
                        input.extend_from_slice(rng.address().as_slice());
                        input.extend_from_slice(&amount.to_be_bytes::<32>());
                        tx.to = TxKind::Call(tokens[rng.below(TOKENS as u64) as usize]);
                        tx.gas_limit = 52_000 + rng.below(13_000);
                        tx.input = input.into();
                    } else {
                        tx.to = TxKind::Call(rng.address());
                        tx.gas_limit = 21_000;
                        tx.value = U256::from(1 + rng.below(1_000_000)) * U256::from(10u64.pow(12));
                    }
                    let sig = signers[s].sign_hash_sync(&tx.signature_hash()).expect("sign");
                    Bytes::from(TxEnvelope::from(tx.into_signed(sig)).encoded_2718())
                })
                .collect();
            let batch = L2BlockBatch {
                parent_hash: parent,
                epoch_number: 1_000 + n as u64 / 6,
                epoch_hash: B256::repeat_byte((n / 6) as u8),
                timestamp: 1_700_000_000 + 2 * n as u64,
                transactions,
            };
            parent = alloy_primitives::keccak256(alloy_rlp::encode(&batch));
            batch
        })
        .collect()
}

fn encode(id: ChannelId, compression: Compression, batches: &[L2BlockBatch]) -> ChannelEncoder {
    let mut enc = ChannelEncoder::new(id, compression).expect("valid compression");
    for b in batches {
        enc.add_batch(b).expect("fits");
    }
    enc.close().expect("close");
    enc
}

#[test]
fn realistic_channels_round_trip_through_l1_payloads() {
    let batches = blocks(Mix::Both, 40, 25, 7);
    for (i, compression) in
        [DEFAULT_COMPRESSION, Compression::Brotli { quality: 5 }, Compression::Zstd { level: 1 }]
            .into_iter()
            .enumerate()
    {
        let id = ChannelId::repeat_byte(i as u8 + 1);
        let enc = encode(id, compression, &batches);
        let per_tx = enc.compressed_bytes() as f64 / 1000.0;
        // Signed EIP-1559 transactions are ~110-150 bytes of mostly random signature and
        // address bytes; compression should still take something off.
        assert!(per_tx < 130.0, "{compression:?}: {per_tx} bytes per transaction");
        // Small calldata-sized payloads, so the channel spans several L1 transactions.
        let payloads = enc.into_tx_data(30_000).expect("payloads");
        assert!(payloads.len() >= 4, "{} payloads", payloads.len());
        assert!(payloads.iter().all(|p| p.len() <= 30_000));
        let mut bank = ChannelBank::default();
        // Delivered in reverse over consecutive L1 blocks.
        for (k, p) in payloads.iter().rev().enumerate() {
            bank.ingest(100 + k as u64, p).expect("valid payload");
        }
        let ready = bank.next_ready().expect("complete");
        assert_eq!(ready.id, id);
        assert_eq!(ready.decode_batches().expect("decodes"), batches);
        assert!(bank.next_ready().is_none());
    }
}

#[test]
#[ignore = "measurement: prints compression figures (--ignored --nocapture)"]
fn compression_figures() {
    let levels = [
        Compression::Zstd { level: 1 },
        Compression::Zstd { level: 3 },
        Compression::Zstd { level: 6 },
        Compression::Zstd { level: 9 },
        Compression::Zstd { level: 12 },
        Compression::Zstd { level: 15 },
        Compression::Zstd { level: 19 },
        Compression::Brotli { quality: 1 },
        Compression::Brotli { quality: 4 },
        Compression::Brotli { quality: 6 },
        Compression::Brotli { quality: 8 },
        Compression::Brotli { quality: 9 },
        Compression::Brotli { quality: 10 },
        Compression::Brotli { quality: 11 },
    ];
    for mix in [Mix::Eth, Mix::Erc20, Mix::Both] {
        let batches = blocks(mix, 200, 20, 42);
        let txs: usize = batches.iter().map(|b| b.transactions.len()).sum();
        let tx_bytes: usize = batches.iter().flat_map(|b| &b.transactions).map(|t| t.len()).sum();
        let rlp = encode_batches(&batches);
        assert!(rlp.len() < MAX_CHANNEL_BYTES);
        println!(
            "\n{mix:?}: {txs} txs in {} blocks, {:.1} bytes/tx signed, {} bytes of RLP ({:.1}/tx)",
            batches.len(),
            tx_bytes as f64 / txs as f64,
            rlp.len(),
            rlp.len() as f64 / txs as f64
        );
        println!(
            "{:<8} {:>5} {:>10} {:>9} {:>7} {:>12} {:>12} {:>8} {:>8}",
            "algo", "level", "bytes", "bytes/tx", "ratio", "compr MB/s", "decomp MB/s", "lag", "est err"
        );
        for c in levels {
            // Best of 3: the machine is shared with builds.
            let mut best = f64::MAX;
            let mut enc = None;
            let (mut lag, mut est_err) = (0, 0);
            for _ in 0..3 {
                let start = Instant::now();
                let mut e = ChannelEncoder::new(ChannelId::ZERO, c).expect("valid");
                for b in &batches {
                    e.add_batch(b).expect("fits");
                }
                // How far the running count trails the final size just before closing.
                let (before, estimate) = (e.compressed_bytes(), e.estimated_compressed_bytes());
                e.close().expect("close");
                best = best.min(start.elapsed().as_secs_f64());
                lag = e.compressed_bytes() - before;
                est_err = estimate as i64 - e.compressed_bytes() as i64;
                enc = Some(e);
            }
            let enc = enc.expect("ran");
            let data = enc.compressed_data().expect("closed");
            let start = Instant::now();
            let out = decompress(data, MAX_CHANNEL_BYTES).expect("decompresses");
            let decomp = start.elapsed().as_secs_f64();
            assert_eq!(out, rlp);
            let (algo, level) = match c {
                Compression::Zstd { level } => ("zstd", level as u32),
                Compression::Brotli { quality } => ("brotli", quality),
            };
            println!(
                "{algo:<8} {level:>5} {:>10} {:>9.1} {:>7.3} {:>12.1} {:>12.1} {:>8} {:>8}",
                data.len(),
                data.len() as f64 / txs as f64,
                rlp.len() as f64 / data.len() as f64,
                rlp.len() as f64 / best / 1e6,
                rlp.len() as f64 / decomp / 1e6,
                lag,
                est_err
            );
        }
    }
}
