//! Channel compression: a one-byte algorithm tag followed by a zstd or brotli stream, and
//! a decompressor that never produces more than a caller-given number of bytes.
//!
//! The decompressors are pure Rust and `no_std` (ruzstd, brotli-decompressor): the node and
//! the fault-proof program decode with the same code. The compressors (libzstd, brotli's
//! encoder) are the batcher's and need `std`. A zstd channel is exactly one zstd frame: a
//! skippable frame, a second frame or any byte after the first frame makes it invalid.
//!
//! Decompression is fed bytes posted on L1 by the batcher, so it must survive anything:
//! a small stream that expands to gigabytes (a decompression bomb), a stream that
//! announces a huge window so the decoder allocates it, a truncated stream, bytes after
//! the end of the stream. The output is checked against the limit after every chunk the
//! decoder produces, so memory stays bounded by the limit plus the decoder's window
//! (at most [`MAX_WINDOW_LOG`] bits for both algorithms).

use alloc::{boxed::Box, format, vec, vec::Vec};

use super::BatchError;
#[cfg(feature = "std")]
use std::io::{self, Write};

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

/// Size of the chunks the brotli decoder writes its output into.
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

#[cfg(feature = "std")]
/// Streaming compressor writing `tag ‖ stream` into a `Vec`.
pub(crate) struct Compressor {
    inner: Inner,
}

#[cfg(feature = "std")]
enum Inner {
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
    // Boxed: the brotli writer is a few KB of state, the zstd one a pointer.
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
}

#[cfg(feature = "std")]
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

#[cfg(feature = "std")]
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
    use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
    let corrupt = |e: &dyn core::fmt::Display| BatchError::Corrupt(format!("zstd: {e}"));
    if stream.is_empty() {
        return Err(BatchError::Corrupt("zstd: empty stream".into()));
    }
    let mut source = stream;
    let mut decoder = FrameDecoder::new();
    // A frame that declares a larger window is refused before anything is allocated for it.
    decoder.set_max_window_size(1 << MAX_WINDOW_LOG);
    decoder.init(&mut source).map_err(|e| corrupt(&e))?;
    // One block (at most 128 KiB) at a time, the output checked against the limit after
    // each: memory stays within the limit plus the window.
    let mut out = Vec::new();
    while !decoder.is_finished() {
        decoder.decode_blocks(&mut source, BlockDecodingStrategy::UptoBlocks(1)).map_err(|e| corrupt(&e))?;
        if let Some(bytes) = decoder.collect() {
            out.extend_from_slice(&bytes);
        }
        if out.len() > limit {
            return Err(BatchError::TooLarge { limit });
        }
    }
    if let Some(bytes) = decoder.collect() {
        out.extend_from_slice(&bytes);
    }
    if out.len() > limit {
        return Err(BatchError::TooLarge { limit });
    }
    if let (Some(given), Some(computed)) =
        (decoder.get_checksum_from_data(), decoder.get_calculated_checksum())
        && given != computed
    {
        return Err(BatchError::Corrupt("zstd: wrong content checksum".into()));
    }
    if !source.is_empty() {
        return Err(BatchError::Corrupt(format!("zstd: {} bytes after the frame", source.len())));
    }
    Ok(out)
}

/// brotli-decompressor's allocator over the global heap (its own `HeapAlloc` needs std).
struct HeapCells<T> {
    fill: T,
}

/// A block of cells handed out by [`HeapCells`].
struct Cells<T>(Box<[T]>);

impl<T> Default for Cells<T> {
    fn default() -> Self {
        Self(Vec::new().into_boxed_slice())
    }
}

impl<T> brotli_decompressor::SliceWrapper<T> for Cells<T> {
    fn slice(&self) -> &[T] {
        &self.0
    }
}

impl<T> brotli_decompressor::SliceWrapperMut<T> for Cells<T> {
    fn slice_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<T: Clone> brotli_decompressor::Allocator<T> for HeapCells<T> {
    type AllocatedMemory = Cells<T>;

    fn alloc_cell(&mut self, len: usize) -> Cells<T> {
        Cells(vec![self.fill.clone(); len].into_boxed_slice())
    }

    fn free_cell(&mut self, _cells: Cells<T>) {}
}

fn decompress_brotli(stream: &[u8], limit: usize) -> Result<Vec<u8>, BatchError> {
    use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, HuffmanCode};
    // `new_strict` refuses large-window streams (windows up to 2^30), keeping the ring
    // buffer within 2^24 bytes; `brotli::Decompressor` would accept them.
    let mut state = BrotliState::new_strict(
        HeapCells { fill: 0u8 },
        HeapCells { fill: 0u32 },
        HeapCells { fill: HuffmanCode { bits: 0, value: 0 } },
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
