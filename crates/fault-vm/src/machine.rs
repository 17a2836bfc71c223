//! The machine: registers, memory, the preimage cursor; loading a program, running it fast,
//! and proving one step of it.

use alloy_primitives::B256;

use crate::{
    memory::{LEAF_BYTES, Memory},
    oracle::{OracleError, PreimageSource},
    state::{STATE_BYTES, Status, VmState},
};

/// The exit code of a machine stopped by an illegal instruction, `ebreak` or a misaligned
/// access.
pub const PANIC_EXIT: u8 = 0xff;

/// Why a run could not go on (the program itself never causes one: what it does wrong stops
/// the machine with [`PANIC_EXIT`]).
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// The host had no preimage the program asked for.
    #[error(transparent)]
    Oracle(#[from] OracleError),
    /// The program file is not a RISC-V ELF the machine can load.
    #[error("not a loadable RV32 ELF: {0}")]
    Elf(String),
}

/// What the L1 oracle must hold before a step that reads a preimage is executed there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreimageRead {
    /// The key read.
    pub key: B256,
    /// Where in its stream (length prefix included) the step reads.
    pub offset: u32,
    /// The preimage.
    pub preimage: Vec<u8>,
}

/// One step, provable on L1: its pre-state, the memory proofs the step needs, the preimage
/// part it reads, and the hash of the state after it.
#[derive(Clone, Debug)]
pub struct StepWitness {
    /// The encoded pre-state.
    pub state: [u8; STATE_BYTES],
    /// The memory proofs, concatenated, in the order the step uses them.
    pub proof: Vec<u8>,
    /// The leaf each proof is of, in the same order (the contract derives them itself, from
    /// `pc` and the instruction).
    pub leaves: Vec<u32>,
    /// The preimage read, if the step reads one.
    pub preimage: Option<PreimageRead>,
    /// The hash of the state after the step.
    pub post_hash: B256,
}

/// Leaves touched by the step being proven, and the bytes its writes replaced.
#[derive(Default)]
pub(crate) struct Recording {
    pub(crate) leaves: Vec<u32>,
    pub(crate) undo: Vec<(u32, [u8; 32])>,
    pub(crate) preimage: Option<(B256, u32)>,
}

/// The fault-proof machine.
#[derive(Default)]
pub struct Machine {
    /// `x0`..`x31`.
    pub regs: [u32; 32],
    /// The next instruction's address.
    pub pc: u32,
    /// Memory.
    pub memory: Memory,
    /// The preimage key written so far.
    pub preimage_key: B256,
    /// The read position in the key's preimage stream.
    pub preimage_offset: u32,
    /// The exit code, once exited.
    pub exit_code: u8,
    /// Whether the program has exited.
    pub exited: bool,
    /// Instructions executed.
    pub step: u64,
    /// Bytes the program wrote to stdout and stderr (fds 1 and 2), at most [`OUTPUT_CAP`].
    pub output: Vec<u8>,
    /// The stream (length prefix and preimage) of the current key, once fetched.
    pub(crate) stream: Option<(B256, Vec<u8>)>,
    pub(crate) recording: Option<Recording>,
}

/// Most bytes of output the host keeps (the program's state does not depend on it).
pub const OUTPUT_CAP: usize = 1 << 20;

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("pc", &self.pc)
            .field("step", &self.step)
            .field("exited", &self.exited)
            .finish()
    }
}

impl Machine {
    /// A machine with `elf` loaded: its loadable segments in memory, `pc` at its entry, every
    /// register 0.
    pub fn load_elf(elf: &[u8]) -> Result<Self, VmError> {
        use elf::{ElfBytes, abi, endian::LittleEndian, file::Class};
        let bad = |e: &dyn std::fmt::Display| VmError::Elf(e.to_string());
        let file = ElfBytes::<LittleEndian>::minimal_parse(elf).map_err(|e| bad(&e))?;
        if file.ehdr.class != Class::ELF32 || file.ehdr.e_machine != abi::EM_RISCV {
            return Err(VmError::Elf("not a 32-bit RISC-V file".into()));
        }
        let mut m = Self::default();
        let segments = file.segments().ok_or_else(|| VmError::Elf("no program headers".into()))?;
        for ph in segments.iter().filter(|ph| ph.p_type == abi::PT_LOAD) {
            let data = file.segment_data(&ph).map_err(|e| bad(&e))?;
            let end = ph.p_vaddr.checked_add(ph.p_memsz);
            if end.is_none_or(|end| end > 1 << 32) || (data.len() as u64) > ph.p_memsz {
                return Err(VmError::Elf(format!("segment at {:#x} does not fit", ph.p_vaddr)));
            }
            m.memory.write_bytes(ph.p_vaddr as u32, data);
        }
        m.pc = u32::try_from(file.ehdr.e_entry).map_err(|_| VmError::Elf("entry above 4 GiB".into()))?;
        // instructions are 2-byte aligned (jumps and branches keep pc even), so a fetch
        // touches the leaves the one-step contract expects
        if m.pc % 2 != 0 {
            return Err(VmError::Elf(format!("odd entry point {:#x}", m.pc)));
        }
        Ok(m)
    }

    /// The state as L1 sees it (hashes the memory written since the last call).
    pub fn state(&mut self) -> VmState {
        VmState {
            mem_root: self.memory.root(),
            preimage_key: self.preimage_key,
            preimage_offset: self.preimage_offset,
            pc: self.pc,
            exit_code: self.exit_code,
            exited: self.exited,
            step: self.step,
            regs: self.regs,
        }
    }

    /// The machine's status.
    pub fn status(&self) -> Status {
        Status::of(self.exited, self.exit_code)
    }

    /// Runs until the program exits or `max_steps` instructions in all have run.
    pub fn run(&mut self, oracle: &mut impl PreimageSource, max_steps: u64) -> Result<Status, VmError> {
        while !self.exited && self.step < max_steps {
            self.step(oracle)?;
        }
        Ok(self.status())
    }

    /// Executes the next instruction and makes its proof for L1.
    pub fn prove_step(&mut self, oracle: &mut impl PreimageSource) -> Result<StepWitness, VmError> {
        let state = self.state().encode();
        self.recording = Some(Recording::default());
        let stepped = self.step(oracle);
        let recording = self.recording.take().unwrap_or_default();
        stepped?;
        // the proofs are of the pre-state's memory: undo the step's writes, prove, redo
        let after: Vec<(u32, [u8; 32])> =
            recording.undo.iter().map(|(l, _)| (*l, self.memory.leaf(*l))).collect();
        for (leaf, before) in &recording.undo {
            self.memory.set_leaf(*leaf, before);
        }
        let mut proof = Vec::new();
        for leaf in &recording.leaves {
            proof.extend(self.memory.proof(leaf * LEAF_BYTES).encode());
        }
        for (leaf, bytes) in &after {
            self.memory.set_leaf(*leaf, bytes);
        }
        let preimage = match recording.preimage {
            Some((key, offset)) => Some(PreimageRead { key, offset, preimage: oracle.get(key)? }),
            None => None,
        };
        Ok(StepWitness { state, proof, leaves: recording.leaves, preimage, post_hash: self.state().hash() })
    }

    /// Notes, when a step is being proven, that it touches the leaf holding `addr`.
    pub(crate) fn touch(&mut self, addr: u32) {
        if let Some(r) = &mut self.recording {
            r.leaves.push(addr / LEAF_BYTES);
        }
    }

    /// Writes the low `N` bytes of `value` at `addr` (an aligned access: one leaf), keeping
    /// what it replaces when a step is being proven.
    pub(crate) fn store<const N: usize>(&mut self, addr: u32, value: u32) {
        if let Some(r) = &mut self.recording {
            let leaf = addr / LEAF_BYTES;
            if !r.undo.iter().any(|(l, _)| *l == leaf) {
                r.undo.push((leaf, self.memory.leaf(leaf)));
            }
        }
        self.memory.write_le::<N>(addr, value);
    }

    /// Stops the machine with `code`.
    pub(crate) fn stop(&mut self, code: u8) {
        self.exited = true;
        self.exit_code = code;
    }
}
