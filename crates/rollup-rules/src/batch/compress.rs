//! Channel compression: a one-byte algorithm tag followed by a zstd or brotli stream, and
//! a decompressor that never produces more than a caller-given number of bytes.
//!
//! Decompression is fed bytes posted on L1 by the batcher, so it must survive anything:
//! a small stream that expands to gigabytes (a decompression bomb), a stream that
//! announces a huge window so the decoder allocates it, a truncated stream, bytes after
//! the end of the stream. The output is checked against the limit after every chunk the
//! decoder produces, so memory stays bounded by the limit plus the decoder's window
//! (at most [`MAX_WINDOW_LOG`] bits for both algorithms).

use super::BatchError;
use std::io::{self, Read, Write};

/// Algorithm tag of a zstd channel (the first byte of the compressed channel).
pub const ZSTD: u8 = 0x00;
/// Algorithm tag of a brotli channel (the first byte of the compressed channel).
pub const BROTLI: u8 = 0x01;

/// Largest window, in bits (16 MiB), that a channel's decoder accepts, for both algorithms.
///
/// This is a consensus rule: a zstd frame that declares a larger window, or a
/// large-window brotli stream, is an invalid channel. 16 MiB is above
/// [`super::MAX_CHANNEL_BYTES`], so a compressor never needs more, and it caps what a
/// hostile stream can make the decoder allocate. zstd levels up to 19 use at most 2^23,
/// standard brotli at most 2^24; zstd's "ultra" levels 20-22 would exceed it, which is
/// why [`Compression::validate`] refuses them.
pub const MAX_WINDOW_LOG: u32 = 24;

/// Window of the brotli compressor, in bits (4 MiB).
///
/// It covers a whole typical channel (about 1 MB of RLP fills 6 blobs), so a larger
/// window would only cost decoder memory; decoders accept up to [`MAX_WINDOW_LOG`].
pub const BROTLI_LGWIN: u32 = 22;

/// Size of the chunks the decoders write their output into.
const OUT_CHUNK: usize = 64 * 1024;

/// How a [`super::ChannelEncoder`] compresses its channel.
///
/// The algorithm is part of the channel (its first byte), the level is not: a decoder
/// reads any level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Compression {
    /// Zstandard at `level` (1 to 19). Tag [`ZSTD`].
    Zstd {
        /// Compression level, 1 (fastest) to 19 (smallest).
        level: i32,
    },
    /// Brotli at `quality` (0 to 11), window [`BROTLI_LGWIN`]. Tag [`BROTLI`].
    Brotli {
        /// Compression quality, 0 (fastest) to 11 (smallest).
        quality: u32,
    },
}

impl Default for Compression {
    /// zstd level 6: see [`super::DEFAULT_COMPRESSION`] for the measurements behind it.
    fn default() -> Self {
        super::DEFAULT_COMPRESSION
    }
}

impl Compression {
    /// The algorithm tag this compression writes as the channel's first byte.
    pub const fn tag(&self) -> u8 {
        match self {
            Self::Zstd { .. } => ZSTD,
            Self::Brotli { .. } => BROTLI,
        }
    }

    /// Checks the level: zstd 1 to 19 (the ultra levels need windows above
    /// [`MAX_WINDOW_LOG`]), brotli 0 to 11.
    pub const fn validate(&self) -> bool {
        match *self {
            Self::Zstd { level } => level >= 1 && level <= 19,
            Self::Brotli { quality } => quality <= 11,
        }
    }
}

/// Streaming compressor writing `tag ‖ stream` into a `Vec`.
pub(crate) struct Compressor {
    inner: Inner,
}

enum Inner {
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
    // Boxed: the brotli writer is a few KB of state, the zstd one a pointer.
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
}

impl Compressor {
    /// Starts a stream; the caller has checked [`Compression::validate`].
    pub(crate) fn new(compression: Compression) -> io::Result<Self> {
        let out = vec![compression.tag()];
        let inner = match compression {
            Compression::Zstd { level } => {
                let mut enc = zstd::stream::write::Encoder::new(out, level)?;
                // The frame header then announces the window the level uses (at most
                // 2^23 up to level 19), well within what decoders accept.
                enc.include_checksum(false)?;
                Inner::Zstd(enc)
            }
            Compression::Brotli { quality } => {
                Inner::Brotli(Box::new(brotli::CompressorWriter::new(out, 64 * 1024, quality, BROTLI_LGWIN)))
            }
        };
        Ok(Self { inner })
    }

    /// Feeds `data` to the stream.
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            Inner::Zstd(e) => e.write_all(data),
            Inner::Brotli(e) => e.write_all(data),
        }
    }

    /// Bytes output so far, tag included. The compressor holds back the input of the
    /// block it is working on, so this trails the final size until [`Self::finish`].
    pub(crate) fn output_len(&self) -> usize {
        match &self.inner {
            Inner::Zstd(e) => e.get_ref().len(),
            Inner::Brotli(e) => e.get_ref().len(),
        }
    }

    /// Ends the stream and returns `tag ‖ stream`.
    pub(crate) fn finish(self) -> io::Result<Vec<u8>> {
        match self.inner {
            Inner::Zstd(e) => e.finish(),
            Inner::Brotli(mut e) => {
                // `into_inner` swallows errors, so flush first to surface any (writing to
                // a `Vec` can not fail, but the check costs nothing).
                e.flush()?;
                Ok(e.into_inner())
            }
        }
    }
}

/// Compresses `data` in one go as `tag ‖ stream`.
pub fn compress(compression: Compression, data: &[u8]) -> Result<Vec<u8>, BatchError> {
    if !compression.validate() {
        return Err(BatchError::InvalidCompression(compression));
    }
    let mut c = Compressor::new(compression).map_err(|e| BatchError::Compress(e.to_string()))?;
    c.write(data).map_err(|e| BatchError::Compress(e.to_string()))?;
    c.finish().map_err(|e| BatchError::Compress(e.to_string()))
}

/// Decompresses `tag ‖ stream`, refusing to produce more than `limit` bytes.
///
/// The stream must be complete and end exactly at the end of `data`: a truncated
/// stream, bytes after it, an unknown tag, a window above [`MAX_WINDOW_LOG`] and
/// corrupt data are errors. The limit is checked while decompressing, so a bomb is
/// stopped after `limit + 1` bytes of output, not after it has expanded.
pub fn decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
    let (&tag, stream) = data.split_first().ok_or(BatchError::EmptyChannel)?;
    match tag {
        ZSTD => decompress_zstd(stream, limit),
        BROTLI => decompress_brotli(stream, limit),
        other => Err(BatchError::UnknownCompression(other)),
    }
}

fn decompress_zstd(stream: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
    let corrupt = |e: io::Error| BatchError::Corrupt(format!("zstd: {e}"));
    if stream.is_empty() {
        // The zstd reader reports an empty input as an empty output; a channel without
        // a single frame is malformed.
        return Err(BatchError::Corrupt("zstd: empty stream".into()));
    }
    let mut dec = zstd::stream::read::Decoder::with_buffer(stream).map_err(corrupt)?;
    dec.window_log_max(MAX_WINDOW_LOG).map_err(corrupt)?;
    // `take(limit + 1)` stops pulling output from the decoder one byte past the limit.
    let mut out = Vec::new();
    let mut bounded = dec.take((limit as u64).saturating_add(1));
    let mut chunk = vec![0u8; OUT_CHUNK];
    loop {
        let n = bounded.read(&mut chunk).map_err(corrupt)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if out.len() > limit {
            return Err(BatchError::TooLarge { limit });
        }
    }
    Ok(out)
}

fn decompress_brotli(stream: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
    use brotli::{BrotliDecompressStream, BrotliResult, BrotliState, HeapAlloc, HuffmanCode};
    // `new_strict` refuses large-window streams (windows up to 2^30), keeping the ring
    // buffer within 2^24 bytes; `brotli::Decompressor` would accept them.
    let mut state = BrotliState::new_strict(
        HeapAlloc::<u8>::new(0),
        HeapAlloc::<u32>::new(0),
        HeapAlloc::<HuffmanCode>::new(HuffmanCode { bits: 0, value: 0 }),
    );
    let mut available_in = stream.len();
    let mut input_offset = 0;
    let mut total_out = 0;
    let mut chunk = vec![0u8; OUT_CHUNK];
    let mut out = Vec::new();
    loop {
        let mut available_out = chunk.len();
        let mut output_offset = 0;
        let result = BrotliDecompressStream(
            &mut available_in,
            &mut input_offset,
            stream,
            &mut available_out,
            &mut output_offset,
            &mut chunk,
            &mut total_out,
            &mut state,
        );
        out.extend_from_slice(chunk.get(..output_offset).unwrap_or_default());
        if out.len() > limit {
            return Err(BatchError::TooLarge { limit });
        }
        match result {
            BrotliResult::NeedsMoreOutput => continue,
            BrotliResult::ResultSuccess if available_in == 0 => return Ok(out),
            BrotliResult::ResultSuccess => {
                return Err(BatchError::Corrupt(format!("brotli: {available_in} bytes after the stream")));
            }
            // All the input was given: more can not come.
            BrotliResult::NeedsMoreInput => {
                return Err(BatchError::Corrupt("brotli: truncated stream".into()));
            }
            BrotliResult::ResultFailure => {
                return Err(BatchError::Corrupt(format!("brotli: {:?}", state.error_code)));
            }
        }
    }
}
