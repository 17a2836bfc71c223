//! One instruction: fetch (16 or 32 bits), expand a compressed one, execute RV32IMA, and
//! the syscalls (docs/fault-proofs.md, "The machine", "Syscalls").

use alloy_primitives::B256;

use crate::{
    compressed::{self, bits},
    machine::{Machine, OUTPUT_CAP, PANIC_EXIT, VmError},
    memory::LEAF_BYTES,
    oracle::PreimageSource,
};

/// Syscall numbers (Linux's, RISC-V).
const SYS_READ: u32 = 63;
const SYS_WRITE: u32 = 64;
const SYS_EXIT: u32 = 93;
const SYS_EXIT_GROUP: u32 = 94;
/// File descriptors of the host protocol.
const FD_STDOUT: u32 = 1;
const FD_STDERR: u32 = 2;
const FD_HINT_READ: u32 = 3;
const FD_HINT_WRITE: u32 = 4;
const FD_PREIMAGE_READ: u32 = 5;
const FD_PREIMAGE_WRITE: u32 = 6;
const EBADF: u32 = -9i32 as u32;
const ENOSYS: u32 = -38i32 as u32;
/// Most bytes of one hint the host takes.
const HINT_CAP: u32 = 1 << 16;

fn imm_i(i: u32) -> u32 {
    ((i as i32) >> 20) as u32
}

fn imm_s(i: u32) -> u32 {
    ((((i & 0xfe00_0000) as i32) >> 20) as u32) | bits(i, 11, 7)
}

fn imm_b(i: u32) -> u32 {
    ((((i & 0x8000_0000) as i32) >> 19) as u32)
        | (bits(i, 7, 7) << 11)
        | (bits(i, 30, 25) << 5)
        | (bits(i, 11, 8) << 1)
}

fn imm_j(i: u32) -> u32 {
    ((((i & 0x8000_0000) as i32) >> 11) as u32)
        | (i & 0x000f_f000)
        | (bits(i, 20, 20) << 11)
        | (bits(i, 30, 21) << 1)
}

/// RV32M: `funct3` of an OP instruction with `funct7` 1.
fn mul_div(funct3: u32, a: u32, b: u32) -> u32 {
    let (sa, sb) = (a as i32, b as i32);
    match funct3 {
        0 => a.wrapping_mul(b),
        1 => ((sa as i64 * sb as i64) >> 32) as u32,
        2 => ((sa as i64 * b as i64) >> 32) as u32,
        3 => ((a as u64 * b as u64) >> 32) as u32,
        4 if b == 0 => u32::MAX,
        4 => sa.wrapping_div(sb) as u32,
        5 => a.checked_div(b).unwrap_or(u32::MAX),
        6 if b == 0 => a,
        6 => sa.wrapping_rem(sb) as u32,
        _ => a.checked_rem(b).unwrap_or(a),
    }
}

/// RV32I register-register (`funct7` 0 or 0x20); `None` if not an instruction.
fn alu(funct7: u32, funct3: u32, a: u32, b: u32) -> Option<u32> {
    Some(match (funct7, funct3) {
        (0, 0) => a.wrapping_add(b),
        (0x20, 0) => a.wrapping_sub(b),
        (0, 1) => a << (b & 31),
        (0, 2) => ((a as i32) < (b as i32)) as u32,
        (0, 3) => (a < b) as u32,
        (0, 4) => a ^ b,
        (0, 5) => a >> (b & 31),
        (0x20, 5) => ((a as i32) >> (b & 31)) as u32,
        (0, 6) => a | b,
        (0, 7) => a & b,
        _ => return None,
    })
}

/// The value an AMO (`funct5`) writes, from the loaded `t` and `rs2`; `None` if not an AMO.
fn amo(funct5: u32, t: u32, v: u32) -> Option<u32> {
    Some(match funct5 {
        0x01 => v,
        0x00 => t.wrapping_add(v),
        0x04 => t ^ v,
        0x0c => t & v,
        0x08 => t | v,
        0x10 => (t as i32).min(v as i32) as u32,
        0x14 => (t as i32).max(v as i32) as u32,
        0x18 => t.min(v),
        0x1c => t.max(v),
        _ => return None,
    })
}

impl Machine {
    fn reg(&self, r: u32) -> u32 {
        self.regs[(r & 31) as usize]
    }

    fn set_reg(&mut self, r: u32, v: u32) {
        if r != 0 {
            self.regs[(r & 31) as usize] = v;
        }
    }

    /// Stops the machine as a panic ([`PANIC_EXIT`]): `pc` stays at the instruction.
    fn halt(&mut self) -> Result<(), VmError> {
        self.stop(PANIC_EXIT);
        Ok(())
    }

    fn load<const N: usize>(&mut self, addr: u32) -> u32 {
        self.touch(addr);
        self.memory.read_le::<N>(addr)
    }

    /// Executes the instruction at `pc`. A machine that has exited does not change.
    pub fn step(&mut self, oracle: &mut impl PreimageSource) -> Result<(), VmError> {
        if self.exited {
            return Ok(());
        }
        let pc = self.pc;
        self.touch(pc);
        let low = self.memory.read_le::<2>(pc);
        let insn = if low & 3 != 3 {
            compressed::expand(low as u16).map(|i| (i, 2))
        } else {
            if pc % LEAF_BYTES == LEAF_BYTES - 2 {
                self.touch(pc.wrapping_add(2));
            }
            Some((low | (self.memory.read_le::<2>(pc.wrapping_add(2)) << 16), 4))
        };
        match insn {
            Some((insn, len)) => self.execute(insn, len, oracle)?,
            None => self.halt()?,
        }
        // wraps as the contract's 64-bit field does (never reached in practice)
        self.step = self.step.wrapping_add(1);
        Ok(())
    }

    fn execute(&mut self, i: u32, len: u32, oracle: &mut impl PreimageSource) -> Result<(), VmError> {
        let (rd, funct3, rs1, rs2, funct7) =
            (bits(i, 11, 7), bits(i, 14, 12), bits(i, 19, 15), bits(i, 24, 20), i >> 25);
        let (a, b) = (self.reg(rs1), self.reg(rs2));
        let pc = self.pc;
        let mut next = pc.wrapping_add(len);
        match i & 0x7f {
            0x37 => self.set_reg(rd, i & 0xffff_f000),
            0x17 => self.set_reg(rd, pc.wrapping_add(i & 0xffff_f000)),
            0x6f => {
                self.set_reg(rd, next);
                next = pc.wrapping_add(imm_j(i));
            }
            0x67 if funct3 == 0 => {
                let target = a.wrapping_add(imm_i(i)) & !1;
                self.set_reg(rd, next);
                next = target;
            }
            0x63 => {
                let taken = match funct3 {
                    0 => a == b,
                    1 => a != b,
                    4 => (a as i32) < (b as i32),
                    5 => (a as i32) >= (b as i32),
                    6 => a < b,
                    7 => a >= b,
                    _ => return self.halt(),
                };
                if taken {
                    next = pc.wrapping_add(imm_b(i));
                }
            }
            0x03 => {
                let addr = a.wrapping_add(imm_i(i));
                let v = match funct3 {
                    0 => self.load::<1>(addr) as u8 as i8 as i32 as u32,
                    4 => self.load::<1>(addr),
                    1 | 5 if addr % 2 != 0 => return self.halt(),
                    1 => self.load::<2>(addr) as u16 as i16 as i32 as u32,
                    5 => self.load::<2>(addr),
                    2 if addr % 4 != 0 => return self.halt(),
                    2 => self.load::<4>(addr),
                    _ => return self.halt(),
                };
                self.set_reg(rd, v);
            }
            0x23 => {
                let addr = a.wrapping_add(imm_s(i));
                match funct3 {
                    0 => {
                        self.touch(addr);
                        self.store::<1>(addr, b);
                    }
                    1 if addr % 2 == 0 => {
                        self.touch(addr);
                        self.store::<2>(addr, b);
                    }
                    2 if addr % 4 == 0 => {
                        self.touch(addr);
                        self.store::<4>(addr, b);
                    }
                    _ => return self.halt(),
                }
            }
            0x13 => {
                let imm = imm_i(i);
                let v = match funct3 {
                    0 => a.wrapping_add(imm),
                    2 => ((a as i32) < (imm as i32)) as u32,
                    3 => (a < imm) as u32,
                    4 => a ^ imm,
                    6 => a | imm,
                    7 => a & imm,
                    // shifts: imm[11:5] is the funct7, imm[4:0] the amount
                    1 | 5 => match alu(funct7, funct3, a, rs2) {
                        Some(v) => v,
                        None => return self.halt(),
                    },
                    _ => return self.halt(),
                };
                self.set_reg(rd, v);
            }
            0x33 => {
                let v = if funct7 == 1 { Some(mul_div(funct3, a, b)) } else { alu(funct7, funct3, a, b) };
                match v {
                    Some(v) => self.set_reg(rd, v),
                    None => return self.halt(),
                }
            }
            0x0f if funct3 <= 1 => {} // fence, fence.i: one hart, no caches
            0x73 if i == 0x0000_0073 => self.syscall(oracle)?,
            0x2f if funct3 == 2 => {
                if a % 4 != 0 {
                    return self.halt();
                }
                let funct5 = i >> 27;
                match funct5 {
                    0x02 if rs2 == 0 => {
                        let v = self.load::<4>(a);
                        self.set_reg(rd, v);
                    }
                    // one hart and no other writer: the reservation always holds
                    0x03 => {
                        self.touch(a);
                        self.store::<4>(a, b);
                        self.set_reg(rd, 0);
                    }
                    _ => {
                        let t = self.load::<4>(a);
                        let Some(v) = amo(funct5, t, b) else { return self.halt() };
                        self.store::<4>(a, v);
                        self.set_reg(rd, t);
                    }
                }
            }
            // ebreak, CSRs, anything else
            _ => return self.halt(),
        }
        self.pc = next;
        Ok(())
    }

    fn syscall(&mut self, oracle: &mut impl PreimageSource) -> Result<(), VmError> {
        let (a0, a1, a2) = (self.regs[10], self.regs[11], self.regs[12]);
        let ret = match self.regs[17] {
            SYS_EXIT | SYS_EXIT_GROUP => {
                self.stop(a0 as u8);
                return Ok(());
            }
            SYS_READ => match a0 {
                FD_PREIMAGE_READ => self.read_preimage(a1, a2, oracle)?,
                FD_HINT_READ => a2,
                _ => EBADF,
            },
            SYS_WRITE => match a0 {
                FD_PREIMAGE_WRITE => {
                    let n = a2.min(LEAF_BYTES - a1 % LEAF_BYTES);
                    if n > 0 {
                        self.touch(a1);
                        let bytes = self.memory.read_bytes(a1, n as usize);
                        let mut key = [0u8; 32];
                        key[..32 - n as usize].copy_from_slice(&self.preimage_key[n as usize..]);
                        key[32 - n as usize..].copy_from_slice(&bytes);
                        self.preimage_key = B256::from(key);
                    }
                    self.preimage_offset = 0;
                    n
                }
                FD_STDOUT | FD_STDERR => {
                    let room = OUTPUT_CAP.saturating_sub(self.output.len()).min(a2 as usize);
                    let bytes = self.memory.read_bytes(a1, room);
                    self.output.extend(bytes);
                    a2
                }
                FD_HINT_WRITE => {
                    oracle.hint(&self.memory.read_bytes(a1, a2.min(HINT_CAP) as usize));
                    a2
                }
                _ => EBADF,
            },
            _ => ENOSYS,
        };
        self.regs[10] = ret;
        Ok(())
    }

    /// `read(5, addr, count)`: copies the next bytes of the current key's stream (its length
    /// as 8 big-endian bytes, then the preimage) to `addr`, within one leaf.
    fn read_preimage(
        &mut self,
        addr: u32,
        count: u32,
        oracle: &mut impl PreimageSource,
    ) -> Result<u32, VmError> {
        // a read of nothing asks nothing of the oracle (nor does the contract)
        if count == 0 {
            return Ok(0);
        }
        let key = self.preimage_key;
        if self.stream.as_ref().is_none_or(|(k, _)| *k != key) {
            let preimage = oracle.get(key)?;
            crate::oracle::check(key, &preimage)?;
            let mut stream = (preimage.len() as u64).to_be_bytes().to_vec();
            stream.extend(preimage);
            self.stream = Some((key, stream));
        }
        let stream = self.stream.as_ref().map(|(_, s)| s.as_slice()).unwrap_or_default();
        let left = stream.len().saturating_sub(self.preimage_offset as usize);
        let n = (count as usize).min((LEAF_BYTES - addr % LEAF_BYTES) as usize).min(left);
        if let Some(r) = &mut self.recording {
            r.preimage = Some((key, self.preimage_offset));
        }
        if n > 0 {
            let at = self.preimage_offset as usize;
            let bytes = stream[at..at + n].to_vec();
            self.touch(addr);
            for (k, byte) in bytes.into_iter().enumerate() {
                self.store::<1>(addr.wrapping_add(k as u32), byte as u32);
            }
            self.preimage_offset += n as u32;
        }
        Ok(n as u32)
    }
}
