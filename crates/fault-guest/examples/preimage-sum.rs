//! A test program for the VM (`crates/fault-vm/tests/it/guest.rs`): local datum 1 is the key
//! of a list of bytes, local datum 2 their claimed sum (8 bytes, big-endian); it fetches the
//! list through the preimage oracle, prints the sum and exits 0 if the claim holds, 1 if not.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;

use alloy_primitives::B256;
use loft_fault_guest::{io::print, keys::local_key, oracle};

loft_fault_guest::entry!(main);

fn main() -> u8 {
    let key = oracle::get(local_key(1));
    let list = oracle::get(B256::from_slice(&key));
    let claim = oracle::get(local_key(2));
    let claim = u64::from_be_bytes(claim.try_into().unwrap_or([0xff; 8]));
    let sum: u64 = list.iter().map(|&b| b as u64).sum();
    print(&format!("sum {sum} of {} bytes\n", list.len()));
    (sum != claim) as u8
}
