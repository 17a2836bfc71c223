//! The preimage oracle's client: write a key to fd 6, read its stream (8-byte big-endian
//! length, then the preimage) from fd 5; a keccak preimage is checked against its key.

use alloc::{vec, vec::Vec};

use alloy_primitives::B256;

use crate::{
    io::{FD_HINT_WRITE, FD_PREIMAGE_READ, FD_PREIMAGE_WRITE, exit, read, write, write_all},
    keys::{KECCAK_KEY, keccak_key},
};

/// The exit code of a program whose host broke the protocol (a stream that ends early, a
/// preimage that does not hash to its key): a panic, never a verdict.
pub const HOST_LIED: u8 = 3;

#[repr(align(32))]
struct Aligned([u8; 32]);

fn read_exact(buf: &mut [u8]) {
    let mut at = 0;
    while at < buf.len() {
        let n = read(FD_PREIMAGE_READ, &mut buf[at..]);
        if n == 0 {
            exit(HOST_LIED);
        }
        at += n;
    }
}

/// The preimage of `key`.
pub fn get(key: B256) -> Vec<u8> {
    // 32-byte aligned, so the VM takes the key in one write
    let k = Aligned(key.0);
    let mut written = 0;
    while written < 32 {
        written += write(FD_PREIMAGE_WRITE, &k.0[written..]);
    }
    let mut len = [0u8; 8];
    read_exact(&mut len);
    let mut data = vec![0u8; u64::from_be_bytes(len) as usize];
    read_exact(&mut data);
    if key[0] == KECCAK_KEY && keccak_key(&data) != key {
        exit(HOST_LIED);
    }
    data
}

/// Tells the host what the program will ask for next.
pub fn hint(hint: &[u8]) {
    write_all(FD_HINT_WRITE, hint);
}
