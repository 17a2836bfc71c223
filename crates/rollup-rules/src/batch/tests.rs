use super::*;
use alloy_primitives::keccak256;
use alloy_rlp::Encodable;
use proptest::prelude::*;
use std::io::Write;

/// `n` pseudo-random bytes (keccak in counter mode): incompressible, deterministic.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 32);
    let mut i = 0u64;
    while out.len() < n {
        let mut input = [0u8; 16];
        input[..8].copy_from_slice(&seed.to_be_bytes());
        input[8..].copy_from_slice(&i.to_be_bytes());
        out.extend_from_slice(keccak256(input).as_slice());
        i += 1;
    }
    out.truncate(n);
    out
}

/// A batch of `txs` transactions of `tx_len` bytes, half noise and half repetitive.
fn batch(n: u64, txs: usize, tx_len: usize) -> L2BlockBatch {
    L2BlockBatch {
        parent_hash: keccak256(n.to_be_bytes()),
        epoch_number: 100 + n / 4,
        epoch_hash: keccak256((n / 4).to_le_bytes()),
        timestamp: 1_700_000_000 + 2 * n,
        transactions: (0..txs)
            .map(|i| {
                let mut tx = vec![0x02];
                tx.extend_from_slice(&noise(n * 1_000 + i as u64, tx_len / 2));
                tx.resize(tx_len.max(1), 0x5a);
                Bytes::from(tx)
            })
            .collect(),
    }
}

fn batches(count: u64, txs: usize, tx_len: usize) -> Vec<L2BlockBatch> {
    (0..count).map(|n| batch(n, txs, tx_len)).collect()
}

fn id(n: u8) -> ChannelId {
    ChannelId::repeat_byte(n)
}

fn closed(id: ChannelId, compression: Compression, batches: &[L2BlockBatch]) -> ChannelEncoder {
    let mut enc = ChannelEncoder::new(id, compression).unwrap();
    for b in batches {
        enc.add_batch(b).unwrap();
    }
    enc.close().unwrap();
    enc
}

fn frame(channel: u8, number: u16, data: &[u8], is_last: bool) -> Frame {
    Frame { channel_id: id(channel), number, data: Bytes::copy_from_slice(data), is_last }
}

fn tx_data(frames: &[Frame]) -> Bytes {
    encode_tx_data(frames).unwrap()
}

fn drain(bank: &mut ChannelBank) -> Vec<ReadyChannel> {
    std::iter::from_fn(|| bank.next_ready()).collect()
}

const BOTH: [Compression; 2] = [Compression::Zstd { level: 6 }, Compression::Brotli { quality: 5 }];

// ---------------------------------------------------------------- batches and channels

#[test]
fn batch_rlp_round_trip() {
    let b = batch(3, 5, 120);
    let enc = alloy_rlp::encode(&b);
    assert_eq!(L2BlockBatch::decode(&mut enc.as_slice()), Ok(b.clone()));
    let empty = L2BlockBatch { transactions: vec![], ..b };
    let enc = alloy_rlp::encode(&empty);
    assert_eq!(L2BlockBatch::decode(&mut enc.as_slice()), Ok(empty.clone()));
    // A concatenation decodes to the sequence; anything after it is an error.
    let all = vec![empty.clone(), batch(4, 2, 10), empty.clone()];
    let mut raw = encode_batches(&all);
    assert_eq!(decode_batches(&raw), Ok(all));
    assert_eq!(decode_batches(&[]), Ok(vec![]));
    raw.push(0xc0); // an empty list is not a batch
    assert!(matches!(decode_batches(&raw), Err(BatchError::Rlp { index: 3, .. })));
    raw.pop();
    raw.pop(); // truncate the last batch
    assert!(matches!(decode_batches(&raw), Err(BatchError::Rlp { index: 2, .. })));
}

#[test]
fn batch_rlp_rejects_non_canonical_and_extra_fields() {
    let b = batch(1, 1, 4);
    let list = |fields: &[Vec<u8>]| {
        let payload = fields.concat();
        let mut raw = Vec::new();
        alloy_rlp::Header { list: true, payload_length: payload.len() }.encode(&mut raw);
        raw.extend_from_slice(&payload);
        raw
    };
    let fields = vec![
        alloy_rlp::encode(b.parent_hash),
        alloy_rlp::encode(b.epoch_number),
        alloy_rlp::encode(b.epoch_hash),
        alloy_rlp::encode(b.timestamp),
        alloy_rlp::encode(&b.transactions),
    ];
    assert_eq!(decode_batches(&list(&fields)), Ok(vec![b.clone()]));
    // An extra field inside the list.
    let mut extra = fields.clone();
    extra.push(alloy_rlp::encode(7u64));
    assert!(matches!(decode_batches(&list(&extra)), Err(BatchError::Rlp { index: 0, .. })));
    // A missing field.
    assert!(matches!(decode_batches(&list(&fields[..4])), Err(BatchError::Rlp { index: 0, .. })));
    // The timestamp with a leading zero byte.
    let mut padded = fields.clone();
    let mut ts = vec![0x89, 0x00];
    ts.extend_from_slice(&b.timestamp.to_be_bytes());
    padded[3] = ts;
    assert!(matches!(decode_batches(&list(&padded)), Err(BatchError::Rlp { index: 0, .. })));
    // A string where the list of transactions belongs.
    let mut flat = fields;
    flat[4] = alloy_rlp::encode(Bytes::from_static(b"tx"));
    assert!(matches!(decode_batches(&list(&flat)), Err(BatchError::Rlp { index: 0, .. })));
}

#[test]
fn compression_round_trips() {
    for c in BOTH.into_iter().chain([Compression::Zstd { level: 1 }, Compression::Brotli { quality: 0 }]) {
        for data in [vec![], vec![7u8], noise(1, 100_000), vec![0u8; 300_000]] {
            let z = compress(c, &data).unwrap();
            assert_eq!(z[0], c.tag());
            assert_eq!(decompress(&z, MAX_CHANNEL_BYTES).unwrap(), data, "{c:?}");
            // The limit is inclusive.
            assert_eq!(decompress(&z, data.len()).unwrap(), data);
            if !data.is_empty() {
                assert_eq!(
                    decompress(&z, data.len() - 1),
                    Err(BatchError::TooLarge { limit: data.len() - 1 })
                );
            }
        }
    }
    assert_eq!(
        compress(Compression::Zstd { level: 20 }, &[]),
        Err(BatchError::InvalidCompression(Compression::Zstd { level: 20 }))
    );
    assert!(!Compression::Zstd { level: 0 }.validate());
    assert!(!Compression::Brotli { quality: 12 }.validate());
    assert_eq!(Compression::default(), DEFAULT_COMPRESSION);
}

#[test]
fn decompress_rejects_malformed() {
    assert_eq!(decompress(&[], 100), Err(BatchError::EmptyChannel));
    assert_eq!(decompress(&[0x02, 1, 2], 100), Err(BatchError::UnknownCompression(0x02)));
    assert_eq!(decompress(&[0xff], 100), Err(BatchError::UnknownCompression(0xff)));
    for c in BOTH {
        let data = noise(9, 5_000);
        let z = compress(c, &data).unwrap();
        // A tag without a stream.
        assert!(matches!(decompress(&z[..1], 100_000), Err(BatchError::Corrupt(_))), "{c:?}");
        // Every truncation of the stream.
        for len in [2, 3, z.len() / 2, z.len() - 2, z.len() - 1] {
            assert!(
                matches!(decompress(&z[..len], 100_000), Err(BatchError::Corrupt(_))),
                "{c:?} cut at {len}"
            );
        }
        // Bytes after the end of the stream.
        for extra in [&[0u8][..], &[0x28, 0xb5, 0x2f, 0xfd], &[1, 2, 3]] {
            let mut longer = z.clone();
            longer.extend_from_slice(extra);
            assert!(matches!(decompress(&longer, 100_000), Err(BatchError::Corrupt(_))), "{c:?} + {extra:?}");
        }
        // A corrupted byte either fails or changes nothing it shouldn't: never panics.
        for i in 1..z.len().min(200) {
            let mut bad = z.clone();
            bad[i] ^= 0x55;
            let _ = decompress(&bad, 100_000);
        }
    }
    // Two tags swapped: a zstd stream read as brotli and the reverse.
    let mut z = compress(Compression::Zstd { level: 3 }, b"hello hello hello").unwrap();
    z[0] = BROTLI;
    assert!(matches!(decompress(&z, 1000), Err(BatchError::Corrupt(_))));
    let mut b = compress(Compression::Brotli { quality: 3 }, b"hello hello hello").unwrap();
    b[0] = ZSTD;
    assert!(matches!(decompress(&b, 1000), Err(BatchError::Corrupt(_))));
}

#[test]
fn decompression_bombs_are_refused_while_streaming() {
    // 64 MB of zeros compress to a few KB: a hostile channel.
    let zeros = vec![0u8; 64 << 20];
    for c in [Compression::Zstd { level: 3 }, Compression::Brotli { quality: 1 }] {
        let bomb = compress(c, &zeros).unwrap();
        assert!(bomb.len() < 100_000, "{c:?}: {}", bomb.len());
        assert_eq!(
            decompress(&bomb, MAX_CHANNEL_BYTES),
            Err(BatchError::TooLarge { limit: MAX_CHANNEL_BYTES })
        );
        assert_eq!(decode_channel(&bomb), Err(BatchError::TooLarge { limit: MAX_CHANNEL_BYTES }));
    }
    // Exactly at the limit is fine, one byte more is not.
    let at_limit = vec![0u8; MAX_CHANNEL_BYTES];
    let z = compress(Compression::Zstd { level: 1 }, &at_limit).unwrap();
    assert_eq!(decompress(&z, MAX_CHANNEL_BYTES).map(|v| v.len()), Ok(MAX_CHANNEL_BYTES));
    let over = vec![0u8; MAX_CHANNEL_BYTES + 1];
    let z = compress(Compression::Brotli { quality: 1 }, &over).unwrap();
    assert_eq!(decompress(&z, MAX_CHANNEL_BYTES), Err(BatchError::TooLarge { limit: MAX_CHANNEL_BYTES }));
}

#[test]
fn decompression_refuses_large_windows() {
    // A zstd frame announcing a 32 MiB window (the decoder would allocate it).
    let mut out = vec![ZSTD];
    let mut enc = zstd::stream::write::Encoder::new(&mut out, 3).unwrap();
    enc.window_log(MAX_WINDOW_LOG + 1).unwrap();
    enc.write_all(b"tiny payload, huge window").unwrap();
    enc.finish().unwrap();
    assert!(matches!(decompress(&out, 1000), Err(BatchError::Corrupt(_))));
    // The same at the maximum window decodes.
    let mut ok = vec![ZSTD];
    let mut enc = zstd::stream::write::Encoder::new(&mut ok, 3).unwrap();
    enc.window_log(MAX_WINDOW_LOG).unwrap();
    enc.write_all(b"tiny payload, big window").unwrap();
    enc.finish().unwrap();
    assert_eq!(decompress(&ok, 1000).unwrap(), b"tiny payload, big window");

    // A large-window brotli stream (window bits above 24).
    let params =
        brotli::enc::BrotliEncoderParams { quality: 5, lgwin: 26, large_window: true, ..Default::default() };
    let mut large = vec![BROTLI];
    {
        let mut w = brotli::CompressorWriter::with_params(&mut large, 4096, &params);
        w.write_all(b"tiny payload, huge window").unwrap();
    }
    assert!(matches!(decompress(&large, 1000), Err(BatchError::Corrupt(_))));
}

// ---------------------------------------------------------------- frames

#[test]
fn frame_encoding_layout() {
    let f = frame(0xab, 0x0102, &[9, 8, 7], true);
    let mut out = Vec::new();
    f.encode(&mut out).unwrap();
    let mut expected = vec![0xab; 16];
    expected.extend_from_slice(&[0x01, 0x02, 0, 0, 0, 3, 9, 8, 7, 1]);
    assert_eq!(out, expected);
    assert_eq!(f.encoded_len(), out.len());
    let data = tx_data(&[f.clone(), frame(1, 0, &[], false)]);
    assert_eq!(data[0], DERIVATION_VERSION_0);
    assert_eq!(&data[1..27], &expected[..]);
    assert_eq!(parse_tx_data(&data), Ok(vec![f, frame(1, 0, &[], false)]));
}

#[test]
fn malformed_tx_data_is_rejected_whole() {
    let good = tx_data(&[frame(1, 0, b"abc", false), frame(2, 5, b"", true)]);
    assert_eq!(parse_tx_data(&good).map(|f| f.len()), Ok(2));

    assert_eq!(parse_tx_data(&[]), Err(FrameError::Empty));
    assert_eq!(parse_tx_data(&[0x00]), Err(FrameError::NoFrames));
    let mut bad = good.to_vec();
    bad[0] = 0x01;
    assert_eq!(parse_tx_data(&bad), Err(FrameError::UnknownVersion(0x01)));
    // Every truncation: within the first frame, between frames, within the second.
    let frames_end = 1 + 23 + 3;
    for len in (2..good.len()).filter(|l| *l != frames_end) {
        let err = parse_tx_data(&good[..len]).unwrap_err();
        let want_index = usize::from(len > frames_end);
        assert!(
            matches!(err, FrameError::Truncated { index, .. } if index == want_index),
            "cut at {len}: {err:?}"
        );
    }
    assert_eq!(parse_tx_data(&good[..frames_end]).map(|f| f.len()), Ok(1));
    // Trailing bytes after the last frame.
    for extra in [&[0u8][..], &[1], &[0; 22]] {
        let mut longer = good.to_vec();
        longer.extend_from_slice(extra);
        assert!(matches!(parse_tx_data(&longer), Err(FrameError::Truncated { index: 2, .. })));
    }
    // is_last neither 0 nor 1, in the first and in the last frame.
    for (pos, index) in [(1 + 23 + 3 - 1, 0), (good.len() - 1, 1)] {
        for byte in [2u8, 0x80, 0xff] {
            let mut bad = good.to_vec();
            bad[pos] = byte;
            assert_eq!(parse_tx_data(&bad), Err(FrameError::InvalidIsLast { index, byte }));
        }
    }
    // A length above MAX_FRAME_LEN, whether or not the bytes follow.
    let mut bad = vec![0u8];
    bad.extend_from_slice(&[1; 16]);
    bad.extend_from_slice(&[0, 0]);
    bad.extend_from_slice(&(MAX_FRAME_LEN as u32 + 1).to_be_bytes());
    assert_eq!(parse_tx_data(&bad), Err(FrameError::FrameTooLarge { index: 0, len: MAX_FRAME_LEN + 1 }));
    bad.extend_from_slice(&vec![0u8; MAX_FRAME_LEN + 2]);
    assert_eq!(parse_tx_data(&bad), Err(FrameError::FrameTooLarge { index: 0, len: MAX_FRAME_LEN + 1 }));
    let mut bad = vec![0u8];
    bad.extend_from_slice(&[1; 18]);
    bad.extend_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(parse_tx_data(&bad), Err(FrameError::FrameTooLarge { index: 0, len: u32::MAX as usize }));
    // A frame of exactly MAX_FRAME_LEN is fine; encoding refuses one byte more.
    let max = frame(1, 0, &vec![0u8; MAX_FRAME_LEN], true);
    assert_eq!(parse_tx_data(&tx_data(std::slice::from_ref(&max))), Ok(vec![max]));
    let over = frame(1, 0, &vec![0u8; MAX_FRAME_LEN + 1], true);
    assert_eq!(
        encode_tx_data(&[frame(1, 0, b"", false), over]),
        Err(FrameError::FrameTooLarge { index: 1, len: MAX_FRAME_LEN + 1 })
    );
    assert_eq!(encode_tx_data(&[]), Err(FrameError::NoFrames));

    // The bank adds nothing from a payload with one bad frame, even a valid first one.
    let mut bank = ChannelBank::default();
    let mut bad = good.to_vec();
    let last = bad.len() - 1;
    bad[last] = 2;
    assert!(bank.ingest(1, &bad).is_err());
    assert_eq!((bank.pending_len(), bank.buffered_bytes()), (0, 0));
    bank.ingest(1, &good).unwrap();
    assert_eq!(bank.pending_len(), 2);
}

// ---------------------------------------------------------------- encoder

#[test]
fn encoder_round_trips() {
    for c in BOTH {
        for (count, txs) in [(1, 3), (50, 4), (3, 0), (0, 0)] {
            let bs = batches(count, txs, 130);
            let enc = closed(id(1), c, &bs);
            assert_eq!(enc.batches(), count as usize);
            assert_eq!(enc.input_bytes(), encode_batches(&bs).len());
            let data = enc.compressed_data().unwrap().clone();
            assert_eq!(enc.compressed_bytes(), data.len());
            assert_eq!(enc.estimated_compressed_bytes(), data.len());
            assert_eq!(decode_channel(&data), Ok(bs.clone()));
            // One frame, or many small ones.
            for max in [Frame::OVERHEAD + 1, 100, 1_000, 1_000_000, 10_000_000] {
                let frames = enc.frames(max).unwrap();
                assert!(frames.iter().all(|f| f.encoded_len() <= max && f.channel_id == id(1)));
                assert!(frames.iter().enumerate().all(|(i, f)| f.number as usize == i));
                assert!(
                    frames
                        .iter()
                        .rev()
                        .skip(1)
                        .all(|f| !f.is_last && f.encoded_len() == max.min(MAX_FRAME_LEN + Frame::OVERHEAD))
                );
                assert!(frames.last().unwrap().is_last);
                let joined: Vec<u8> = frames.iter().flat_map(|f| f.data.iter().copied()).collect();
                assert_eq!(joined, data.to_vec());
            }
        }
    }
}

#[test]
fn large_channel_spans_several_l1_transactions() {
    // ~1.5 MB of mostly incompressible transactions.
    let bs = batches(60, 50, 500);
    let enc = closed(id(7), Compression::default(), &bs);
    assert!(enc.compressed_bytes() > 600_000, "{}", enc.compressed_bytes());
    let payloads = enc.into_tx_data(120_000).unwrap();
    assert!(payloads.len() >= 6);
    assert!(payloads.iter().all(|p| p.len() <= 120_000 && p[0] == DERIVATION_VERSION_0));
    assert!(payloads.iter().rev().skip(1).all(|p| p.len() == 120_000));
    let mut bank = ChannelBank::default();
    for (i, p) in payloads.iter().enumerate() {
        bank.ingest(10 + i as u64 / 3, p).unwrap();
    }
    let ready = drain(&mut bank);
    assert_eq!(ready.len(), 1);
    assert_eq!(
        (ready[0].id, ready[0].opened_at, ready[0].completed_at),
        (id(7), 10, 10 + (payloads.len() as u64 - 1) / 3)
    );
    assert_eq!(ready[0].decode_batches(), Ok(bs));
    assert_eq!(bank.buffered_bytes(), 0);
}

#[test]
fn encoder_errors() {
    assert!(matches!(
        ChannelEncoder::new(id(1), Compression::Zstd { level: 22 }),
        Err(EncodeError::InvalidCompression(_))
    ));
    let mut enc = ChannelEncoder::new(id(1), Compression::default()).unwrap();
    enc.add_batch(&batch(0, 1, 10)).unwrap();
    assert_eq!(enc.frames(1000), Err(EncodeError::NotClosed));
    enc.close().unwrap();
    enc.close().unwrap(); // idempotent
    assert_eq!(enc.add_batch(&batch(1, 1, 10)), Err(EncodeError::Closed));
    assert_eq!(enc.frames(Frame::OVERHEAD), Err(EncodeError::SizeTooSmall(Frame::OVERHEAD)));
    assert_eq!(enc.frames(0), Err(EncodeError::SizeTooSmall(0)));
    assert!(matches!(enc.into_tx_data(Frame::OVERHEAD + 1), Err(EncodeError::SizeTooSmall(_))));

    // The decompression limit is enforced on the way in: the refused batch is not added.
    let mut enc = ChannelEncoder::new(id(2), Compression::Zstd { level: 1 }).unwrap();
    let big = L2BlockBatch { transactions: vec![Bytes::from(vec![0u8; 3_000_000])], ..Default::default() };
    for _ in 0..3 {
        enc.add_batch(&big).unwrap();
    }
    let size = enc.input_bytes();
    assert_eq!(enc.add_batch(&big), Err(EncodeError::ChannelFull { size, batch: big.length() }));
    assert_eq!((enc.input_bytes(), enc.batches()), (size, 3));
    enc.close().unwrap();
    assert_eq!(decode_channel(enc.compressed_data().unwrap()).map(|b| b.len()), Ok(3));

    // More than 65,536 frames.
    let noisy = L2BlockBatch { transactions: vec![Bytes::from(noise(3, 70_000))], ..Default::default() };
    let enc = closed(id(3), Compression::Zstd { level: 1 }, &[noisy]);
    assert!(matches!(enc.frames(Frame::OVERHEAD + 1), Err(EncodeError::TooManyFrames(n)) if n > 65_536));
    assert!(enc.frames(Frame::OVERHEAD + 2).is_ok());
}

#[test]
fn size_estimate_tracks_the_stream() {
    let bs = batches(120, 20, 150);
    let mut enc = ChannelEncoder::new(id(1), Compression::default()).unwrap();
    assert_eq!(enc.compressed_bytes(), 1);
    for b in &bs {
        enc.add_batch(b).unwrap();
        assert!(enc.estimated_compressed_bytes() >= enc.compressed_bytes());
    }
    let (running, estimate) = (enc.compressed_bytes(), enc.estimated_compressed_bytes());
    enc.close().unwrap();
    let fin = enc.compressed_bytes();
    assert!(running < fin);
    // Within 10% of the final size.
    assert!(estimate.abs_diff(fin) * 10 < fin, "estimate {estimate}, final {fin}");
}

#[test]
fn random_ids_differ() {
    assert_ne!(random_channel_id(), random_channel_id());
}

// ---------------------------------------------------------------- bank

/// Frames of a channel of `n` batches cut into frames of `frame_size`.
fn channel_frames(channel: u8, n: u64, frame_size: usize) -> (Vec<L2BlockBatch>, Vec<Frame>) {
    let bs: Vec<_> = (0..n).map(|i| batch(u64::from(channel) * 100 + i, 3, 90)).collect();
    let frames = closed(id(channel), Compression::default(), &bs).frames(frame_size).unwrap();
    (bs, frames)
}

fn summary(ready: &[ReadyChannel]) -> Vec<(ChannelId, u64, u64, Vec<L2BlockBatch>)> {
    ready.iter().map(|r| (r.id, r.opened_at, r.completed_at, r.decode_batches().unwrap())).collect()
}

#[test]
fn frames_in_any_order_reassemble_identically() {
    let (bs, frames) = channel_frames(1, 10, 200);
    assert!(frames.len() >= 8);
    let orders: Vec<Vec<Frame>> = vec![
        frames.clone(),
        frames.iter().rev().cloned().collect(),
        // Every frame twice, the last one first.
        frames.iter().rev().chain(frames.iter()).cloned().collect(),
        // Odd numbers, then even.
        frames.iter().skip(1).step_by(2).chain(frames.iter().step_by(2)).cloned().collect(),
    ];
    for order in orders {
        let mut bank = ChannelBank::default();
        for (i, f) in order.iter().enumerate() {
            bank.ingest(5 + i as u64, &tx_data(std::slice::from_ref(f))).unwrap();
        }
        let ready = drain(&mut bank);
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].decode_batches(), Ok(bs.clone()));
        assert_eq!(bank.pending_len(), 0);
        assert_eq!(bank.buffered_bytes(), 0);
    }
}

#[test]
fn interleaved_channels_complete_in_completion_order() {
    let (a, fa) = channel_frames(1, 8, 150);
    let (b, fb) = channel_frames(2, 1, 150);
    assert!(fb.len() > 1 && fb.len() < fa.len().div_ceil(2), "{} {}", fa.len(), fb.len());
    let (c, fc) = channel_frames(3, 1, 10_000);
    assert_eq!(fc.len(), 1);
    // a and b interleaved, two frames of a and one of b per payload; c alone after the
    // first payload; b (fewer frames) completes before a.
    let mut bank = ChannelBank::default();
    let mut block = 1;
    let mut ai = fa.iter();
    let mut bi = fb.iter();
    loop {
        let mut payload: Vec<Frame> = ai.by_ref().take(2).cloned().collect();
        payload.extend(bi.next().cloned());
        if payload.is_empty() {
            break;
        }
        bank.ingest(block, &tx_data(&payload)).unwrap();
        if block == 1 {
            bank.ingest(block, &tx_data(&fc)).unwrap();
        }
        block += 1;
    }
    let ready = drain(&mut bank);
    let ids: Vec<_> = ready.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![id(3), id(2), id(1)]);
    assert_eq!(summary(&ready).into_iter().map(|s| s.3).collect::<Vec<_>>(), vec![c, b, a]);
    assert_eq!(bank.stats().channels_completed, 3);
}

#[test]
fn duplicate_and_late_frames_follow_the_rules() {
    let mut bank = ChannelBank::default();
    // The first frame 0 wins over a later one with other data.
    bank.ingest(1, &tx_data(&[frame(1, 0, b"first", false)])).unwrap();
    bank.ingest(1, &tx_data(&[frame(1, 0, b"second", false)])).unwrap();
    // Frames 3 and 4 buffered, then frame 2 closes the channel: 3 and 4 are dropped.
    bank.ingest(2, &tx_data(&[frame(1, 3, b"three", false), frame(1, 4, b"four", false)])).unwrap();
    let before = bank.buffered_bytes();
    bank.ingest(2, &tx_data(&[frame(1, 2, b"-end", true)])).unwrap();
    assert_eq!(bank.buffered_bytes(), before - (5 + 4 + 2 * FRAME_BANK_OVERHEAD) + 4 + FRAME_BANK_OVERHEAD);
    // Past the end, a second end, a duplicate: ignored.
    bank.ingest(3, &tx_data(&[frame(1, 5, b"x", false), frame(1, 1, b"y", true), frame(1, 2, b"z", true)]))
        .unwrap();
    assert_eq!(bank.ready_len(), 0);
    bank.ingest(3, &tx_data(&[frame(1, 1, b"-mid", false)])).unwrap();
    let ready = drain(&mut bank);
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].data.as_ref(), b"first-mid-end");
    assert_eq!((ready[0].opened_at, ready[0].completed_at), (1, 3));
    assert_eq!(bank.stats().frames_ignored, 4);
    // A re-post of the completed channel within its timeout is ignored ...
    bank.ingest(4, &tx_data(&[frame(1, 0, b"first", false), frame(1, 1, b"-mid", true)])).unwrap();
    assert_eq!((bank.pending_len(), bank.ready_len()), (0, 0));
    // ... and after it opens a new channel (derivation drops its batches as old).
    let t = bank.channel_timeout();
    bank.ingest(1 + t + 1, &tx_data(&[frame(1, 0, b"again", true)])).unwrap();
    let ready = drain(&mut bank);
    assert_eq!((ready.len(), ready[0].opened_at), (1, 1 + t + 1));
}

#[test]
fn channels_time_out() {
    let mut bank = ChannelBank::new(10, DEFAULT_MAX_BANK_BYTES);
    // Opened at 100: completes at 110, the last block allowed.
    bank.ingest(100, &tx_data(&[frame(1, 0, b"a", false)])).unwrap();
    bank.ingest(110, &tx_data(&[frame(1, 1, b"b", true)])).unwrap();
    assert_eq!(drain(&mut bank).len(), 1);
    // Opened at 110: at 121 it is dropped, and the late frame opens a new channel.
    bank.ingest(110, &tx_data(&[frame(2, 0, b"a", false)])).unwrap();
    bank.ingest(115, &tx_data(&[frame(3, 0, b"a", false)])).unwrap();
    bank.ingest(121, &tx_data(&[frame(2, 1, b"b", true)])).unwrap();
    assert_eq!(drain(&mut bank).len(), 0);
    assert_eq!(bank.stats().channels_timed_out, 1);
    assert_eq!(bank.pending_len(), 2); // 3 (opened at 115), and 2 reopened at 121
    // prune advances time without data; a lower block does nothing.
    bank.prune(125);
    assert_eq!(bank.pending_len(), 2);
    bank.prune(126);
    assert_eq!(bank.pending_len(), 1);
    bank.prune(3);
    assert_eq!(bank.head(), Some(126));
    bank.prune(132);
    assert_eq!((bank.pending_len(), bank.buffered_bytes()), (0, 0));
    assert_eq!(bank.stats().channels_timed_out, 3);
    // The bank refuses to go back in L1 without a reset.
    assert_eq!(
        bank.ingest(131, &tx_data(&[frame(4, 0, b"a", true)])),
        Err(FrameError::L1BlockRegressed { head: 132, got: 131 })
    );
    bank.reset();
    assert_eq!((bank.head(), bank.stats()), (None, BankStats::default()));
    bank.ingest(131, &tx_data(&[frame(4, 0, b"a", true)])).unwrap();
    assert_eq!(drain(&mut bank).len(), 1);
}

#[test]
fn oldest_channel_is_evicted_first() {
    let cost = 100 + FRAME_BANK_OVERHEAD;
    let mut bank = ChannelBank::new(50, 3 * cost);
    for c in 1..=3 {
        bank.ingest(c as u64, &tx_data(&[frame(c, 0, &[c; 100], false)])).unwrap();
    }
    assert_eq!((bank.pending_len(), bank.buffered_bytes()), (3, 3 * cost));
    // A fourth frame (of channel 2) goes over: channel 1, the oldest, goes.
    bank.ingest(4, &tx_data(&[frame(2, 1, &[2; 100], false)])).unwrap();
    assert_eq!((bank.pending_len(), bank.buffered_bytes()), (2, 3 * cost));
    assert_eq!(bank.stats().channels_evicted, 1);
    // Channel 1's last frame now opens a new channel, which evicts channel 2 (oldest).
    bank.ingest(5, &tx_data(&[frame(1, 1, &[1; 100], true)])).unwrap();
    assert_eq!(bank.stats().channels_evicted, 2);
    // Channel 3 completes; what completes leaves the bound.
    bank.ingest(5, &tx_data(&[frame(3, 1, &[3; 100], true)])).unwrap();
    let ready = drain(&mut bank);
    assert_eq!(ready.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id(3)]);
    assert_eq!(bank.buffered_bytes(), cost);
    // A frame larger than the whole bound evicts everything, itself included.
    bank.ingest(6, &tx_data(&[frame(9, 0, &[9; 1_000], false)])).unwrap();
    assert_eq!((bank.pending_len(), bank.buffered_bytes()), (0, 0));
    // A completing frame completes before the bound is enforced.
    bank.ingest(7, &tx_data(&[frame(8, 0, &[8; 1_000], true)])).unwrap();
    assert_eq!(drain(&mut bank).len(), 1);
}

#[test]
fn garbage_channels_error_without_panicking() {
    let mut bank = ChannelBank::default();
    let garbage: [&[u8]; 5] =
        [b"", b"\x00", b"\x01\x02\x03", b"\x07hello", &[0x00, 0x28, 0xb5, 0x2f, 0xfd, 0, 0]];
    for (i, g) in garbage.iter().enumerate() {
        let f = Frame { channel_id: id(i as u8), number: 0, data: Bytes::copy_from_slice(g), is_last: true };
        bank.ingest(1, &tx_data(&[f])).unwrap();
    }
    let ready = drain(&mut bank);
    assert_eq!(ready.len(), garbage.len());
    assert_eq!(ready[0].decode_batches(), Err(BatchError::EmptyChannel));
    assert!(ready.iter().all(|r| r.decode_batches().is_err()));
    // Valid compression of bytes that are not batches.
    let not_rlp = compress(Compression::default(), b"\xc1\xc0 definitely not batches").unwrap();
    assert!(matches!(decode_channel(&not_rlp), Err(BatchError::Rlp { index: 0, .. })));
}

#[test]
fn rebuilding_from_reorg_minus_timeout_gives_the_same_channels() {
    let t = 8;
    // A stream of channels, each spread over a few L1 blocks and interleaved.
    let mut stream: Vec<(u64, Bytes)> = Vec::new();
    for c in 0..12u8 {
        let (_, frames) = channel_frames(c + 1, 2, 200);
        for (k, f) in frames.iter().enumerate() {
            stream.push((u64::from(c) * 3 + k as u64, tx_data(std::slice::from_ref(f))));
        }
    }
    stream.sort_by_key(|(b, _)| *b);
    let run = |from: u64| {
        let mut bank = ChannelBank::new(t, DEFAULT_MAX_BANK_BYTES);
        let mut out = Vec::new();
        for (block, data) in stream.iter().filter(|(b, _)| *b >= from) {
            bank.ingest(*block, data).unwrap();
            out.extend(drain(&mut bank));
        }
        out
    };
    let full = run(0);
    assert_eq!(full.len(), 12);
    let reorg = 20;
    let rebuilt = run(reorg - t);
    let after =
        |v: &[ReadyChannel]| v.iter().filter(|r| r.completed_at >= reorg).cloned().collect::<Vec<_>>();
    assert_eq!(after(&full), after(&rebuilt));
    assert!(!after(&full).is_empty());
    // Two banks fed the same data agree exactly.
    assert_eq!(run(0), full);
}

// ---------------------------------------------------------------- properties

fn arb_batch() -> impl Strategy<Value = L2BlockBatch> {
    (
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..6),
    )
        .prop_map(|(p, en, eh, ts, txs)| L2BlockBatch {
            parent_hash: B256::from(p),
            epoch_number: en,
            epoch_hash: B256::from(eh),
            timestamp: ts,
            transactions: txs.into_iter().map(Bytes::from).collect(),
        })
}

fn arb_compression() -> impl Strategy<Value = Compression> {
    prop_oneof![
        (1..=9i32).prop_map(|level| Compression::Zstd { level }),
        (0..=6u32).prop_map(|quality| Compression::Brotli { quality })
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every decoder of L1 data, fed random bytes (after the version byte, or a zstd or brotli
    /// tag): each answers with a value or an error, never a panic.
    #[test]
    fn decoders_answer_random_bytes(
        lead in prop_oneof![Just(0u8), Just(1u8), any::<u8>()],
        body in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut data = vec![lead];
        data.extend(&body);
        let _ = parse_tx_data(&data);
        let _ = decode_channel(&data);
        let _ = decode_batches(&data);
        let mut one = &body[..];
        let _ = Frame::decode(&mut one, 0);
    }

    #[test]
    fn ingest_garbage_never_panics(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..8),
        blocks in prop::collection::vec(0..20u64, 8),
    ) {
        let mut bank = ChannelBank::new(5, 4_000);
        for (p, b) in payloads.iter().zip(blocks) {
            let before = (bank.pending_len(), bank.buffered_bytes(), bank.ready_len());
            if bank.ingest(b, p).is_err() && bank.head() == Some(b) {
                // Refused data adds nothing (pruning may still drop channels).
                prop_assert!(bank.buffered_bytes() <= before.1);
                prop_assert_eq!(bank.ready_len(), before.2);
            }
            prop_assert!(bank.buffered_bytes() <= 4_000);
            while let Some(r) = bank.next_ready() {
                let _ = r.decode_batches();
            }
        }
    }

    #[test]
    fn random_frames_keep_the_bank_consistent(
        payloads in prop::collection::vec(
            prop::collection::vec((0..4u8, 0..6u16, prop::collection::vec(any::<u8>(), 0..40), any::<bool>()), 1..4),
            1..40,
        ),
        step in prop::collection::vec(0..3u64, 40),
    ) {
        let max = 2_000;
        let feed = |bank: &mut ChannelBank| {
            let mut out = Vec::new();
            let mut block = 0;
            for (p, s) in payloads.iter().zip(&step) {
                block += s;
                let frames: Vec<Frame> = p.iter().map(|(c, n, d, l)| frame(*c, *n, d, *l)).collect();
                bank.ingest(block, &tx_data(&frames)).unwrap();
                assert!(bank.buffered_bytes() <= max);
                out.extend(std::iter::from_fn(|| bank.next_ready()));
            }
            out
        };
        let mut bank = ChannelBank::new(4, max);
        let ready = feed(&mut bank);
        for r in &ready {
            prop_assert!(r.completed_at >= r.opened_at && r.completed_at <= r.opened_at + 4);
            prop_assert!(r.decode_batches().is_err() || r.data.len() > 1);
        }
        let mut again = ChannelBank::new(4, max);
        prop_assert_eq!(feed(&mut again), ready);
    }

    #[test]
    fn ingest_mutated_frames_never_panics(
        bs in prop::collection::vec(arb_batch(), 1..4),
        pos in any::<prop::sample::Index>(),
        x in 1..=255u8,
    ) {
        let enc = closed(id(1), Compression::default(), &bs);
        let mut data = tx_data(&enc.frames(64).unwrap()).to_vec();
        let i = pos.index(data.len());
        data[i] ^= x;
        let mut bank = ChannelBank::default();
        if bank.ingest(1, &data).is_ok() {
            while let Some(r) = bank.next_ready() {
                let _ = r.decode_batches();
            }
        }
    }

    #[test]
    fn decode_garbage_never_panics(tag in 0..3u8, bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut data = vec![tag];
        data.extend_from_slice(&bytes);
        let _ = decode_channel(&data);
        let _ = decode_channel(&bytes);
        let _ = decode_batches(&bytes);
    }

    #[test]
    fn mutated_channels_never_panic(bs in prop::collection::vec(arb_batch(), 0..4), c in arb_compression(), pos in any::<prop::sample::Index>(), x in 1..=255u8) {
        let enc = closed(id(1), c, &bs);
        let mut data = enc.compressed_data().unwrap().to_vec();
        let i = pos.index(data.len());
        data[i] ^= x;
        let _ = decode_channel(&data);
    }

    #[test]
    fn shuffled_frames_round_trip(
        channels in prop::collection::vec((prop::collection::vec(arb_batch(), 0..5), arb_compression()), 1..4),
        frame_size in 30..400usize,
        per_payload in 1..4usize,
        dup_every in 2..6usize,
        seed in any::<u64>(),
    ) {
        // Encode every channel, cut it into frames, duplicate some, shuffle them all.
        let mut frames = Vec::new();
        for (n, (bs, c)) in channels.iter().enumerate() {
            let enc = closed(id(n as u8 + 1), *c, bs);
            let fs = enc.frames(frame_size).unwrap();
            frames.extend(fs.iter().step_by(dup_every).cloned());
            frames.extend(fs);
        }
        let mut rng = seed;
        for i in (1..frames.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            frames.swap(i, (rng >> 33) as usize % (i + 1));
        }
        let payloads: Vec<Bytes> = frames.chunks(per_payload).map(tx_data).collect();
        let feed = |bank: &mut ChannelBank| {
            let mut out = Vec::new();
            for (k, p) in payloads.iter().enumerate() {
                bank.ingest(k as u64 / 3, p).unwrap();
                out.extend(std::iter::from_fn(|| bank.next_ready()));
            }
            out
        };
        let mut bank = ChannelBank::new(u64::MAX / 2, DEFAULT_MAX_BANK_BYTES);
        let ready = feed(&mut bank);
        prop_assert_eq!(ready.len(), channels.len());
        for r in &ready {
            let n = usize::from(r.id[0]) - 1;
            prop_assert_eq!(r.decode_batches(), Ok(channels[n].0.clone()));
        }
        prop_assert_eq!(bank.pending_len(), 0);
        // Determinism: a second bank gives the very same outputs.
        let mut again = ChannelBank::new(u64::MAX / 2, DEFAULT_MAX_BANK_BYTES);
        prop_assert_eq!(feed(&mut again), ready);
    }
}
