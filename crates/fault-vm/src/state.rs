//! The machine's state as L1 sees it: 210 bytes, and its hash with the status in the first
//! byte (docs/fault-proofs.md, "State and its hash").

use alloy_primitives::{B256, keccak256};

/// Bytes of an encoded [`VmState`].
pub const STATE_BYTES: usize = 210;

/// What a state hash's first byte says about the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Exited with code 0: the program's claim holds.
    Valid = 0,
    /// Exited with code 1: the claim does not hold.
    Invalid = 1,
    /// Exited with any other code: the program panicked (or the machine stopped it).
    Panic = 2,
    /// Still running.
    Unfinished = 3,
}

impl Status {
    /// The status of a machine that has `exited` (or not) with `exit_code`.
    pub fn of(exited: bool, exit_code: u8) -> Self {
        match (exited, exit_code) {
            (false, _) => Self::Unfinished,
            (true, 0) => Self::Valid,
            (true, 1) => Self::Invalid,
            (true, _) => Self::Panic,
        }
    }
}

/// The state of the machine, with its memory as a root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmState {
    /// Root of the memory tree.
    pub mem_root: B256,
    /// The preimage key the program has written (fd 6).
    pub preimage_key: B256,
    /// How far into the key's preimage stream the program has read (fd 5).
    pub preimage_offset: u32,
    /// The next instruction's address.
    pub pc: u32,
    /// The exit code, once exited.
    pub exit_code: u8,
    /// Whether the program has exited.
    pub exited: bool,
    /// Instructions executed so far.
    pub step: u64,
    /// `x0`..`x31` (`x0` is 0).
    pub regs: [u32; 32],
}

impl VmState {
    /// The status the hash carries.
    pub fn status(&self) -> Status {
        Status::of(self.exited, self.exit_code)
    }

    /// The 210 bytes the one-step contract reads.
    pub fn encode(&self) -> [u8; STATE_BYTES] {
        let mut out = [0u8; STATE_BYTES];
        out[0..32].copy_from_slice(self.mem_root.as_slice());
        out[32..64].copy_from_slice(self.preimage_key.as_slice());
        out[64..68].copy_from_slice(&self.preimage_offset.to_be_bytes());
        out[68..72].copy_from_slice(&self.pc.to_be_bytes());
        out[72] = self.exit_code;
        out[73] = self.exited as u8;
        out[74..82].copy_from_slice(&self.step.to_be_bytes());
        for (i, r) in self.regs.iter().enumerate() {
            out[82 + 4 * i..86 + 4 * i].copy_from_slice(&r.to_be_bytes());
        }
        out
    }

    /// Reads an encoded state; `None` if it is not 210 bytes or not canonical (`exited` other
    /// than 0 or 1, `x0` not 0).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let b: &[u8; STATE_BYTES] = bytes.try_into().ok()?;
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let exited = match b[73] {
            0 => false,
            1 => true,
            _ => return None,
        };
        let mut regs = [0u32; 32];
        for (i, r) in regs.iter_mut().enumerate() {
            *r = u32_at(82 + 4 * i);
        }
        if regs[0] != 0 {
            return None;
        }
        let mut step = [0u8; 8];
        step.copy_from_slice(&b[74..82]);
        Some(Self {
            mem_root: B256::from_slice(&b[0..32]),
            preimage_key: B256::from_slice(&b[32..64]),
            preimage_offset: u32_at(64),
            pc: u32_at(68),
            exit_code: b[72],
            exited,
            step: u64::from_be_bytes(step),
            regs,
        })
    }

    /// `keccak256(state)` with its first byte replaced by the [`Status`].
    pub fn hash(&self) -> B256 {
        let mut h = keccak256(self.encode());
        h.0[0] = self.status() as u8;
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_the_hash_carries_the_status() {
        let mut s = VmState {
            mem_root: B256::repeat_byte(1),
            preimage_key: B256::repeat_byte(2),
            preimage_offset: 3,
            pc: 0x1000,
            exit_code: 0,
            exited: false,
            step: 1 << 40,
            regs: core::array::from_fn(|i| i as u32 * 7),
        };
        assert_eq!(VmState::decode(&s.encode()), Some(s.clone()));
        assert_eq!(s.hash()[0], 3);
        s.exited = true;
        assert_eq!(s.hash()[0], 0);
        s.exit_code = 1;
        assert_eq!(s.hash()[0], 1);
        s.exit_code = 0xff;
        assert_eq!(s.hash()[0], 2);
        let mut bad = s.encode();
        bad[73] = 2;
        assert_eq!(VmState::decode(&bad), None);
        assert_eq!(VmState::decode(&bad[..209]), None);
    }
}
