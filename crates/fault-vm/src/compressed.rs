//! The C extension: every RV32C instruction expanded to the 32-bit instruction it stands for
//! (the RISC-V spec's table of equivalents), so that one executor runs both. The one-step
//! contract expands them the same way.

/// `x8 + r`: the registers a 3-bit compressed register field names.
fn creg(r: u32) -> u32 {
    8 + (r & 7)
}

/// Bits `hi..=lo` of `x`, shifted down.
pub(crate) fn bits(x: u32, hi: u32, lo: u32) -> u32 {
    (x >> lo) & ((1 << (hi - lo + 1)) - 1)
}

/// Sign-extends the low `width` bits of `x`.
fn sext(x: u32, width: u32) -> u32 {
    let shift = 32 - width;
    (((x << shift) as i32) >> shift) as u32
}

fn i_type(imm: u32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    ((imm & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode
}

fn s_type(imm: u32, rs2: u32, rs1: u32, funct3: u32, opcode: u32) -> u32 {
    (bits(imm, 11, 5) << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (bits(imm, 4, 0) << 7) | opcode
}

fn r_type(funct7: u32, rs2: u32, rs1: u32, funct3: u32, rd: u32, opcode: u32) -> u32 {
    (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode
}

fn b_type(imm: u32, rs2: u32, rs1: u32, funct3: u32) -> u32 {
    (bits(imm, 12, 12) << 31)
        | (bits(imm, 10, 5) << 25)
        | (rs2 << 20)
        | (rs1 << 15)
        | (funct3 << 12)
        | (bits(imm, 4, 1) << 8)
        | (bits(imm, 11, 11) << 7)
        | 0x63
}

fn j_type(imm: u32, rd: u32) -> u32 {
    (bits(imm, 20, 20) << 31)
        | (bits(imm, 10, 1) << 21)
        | (bits(imm, 11, 11) << 20)
        | (bits(imm, 19, 12) << 12)
        | (rd << 7)
        | 0x6f
}

const OP_IMM: u32 = 0x13;
const OP: u32 = 0x33;
const LOAD: u32 = 0x03;
const STORE: u32 = 0x23;
const JALR: u32 = 0x67;
const LUI: u32 = 0x37;
/// `ebreak`.
const EBREAK: u32 = 0x0010_0073;

/// The offset of `c.j`/`c.jal`: `imm[11|4|9:8|10|6|7|3:1|5]` in bits 12..2.
fn cj_offset(c: u32) -> u32 {
    let imm = (bits(c, 12, 12) << 11)
        | (bits(c, 11, 11) << 4)
        | (bits(c, 10, 9) << 8)
        | (bits(c, 8, 8) << 10)
        | (bits(c, 7, 7) << 6)
        | (bits(c, 6, 6) << 7)
        | (bits(c, 5, 3) << 1)
        | (bits(c, 2, 2) << 5);
    sext(imm, 12)
}

/// The offset of `c.beqz`/`c.bnez`: `imm[8|4:3]` in bits 12..10, `imm[7:6|2:1|5]` in 6..2.
fn cb_offset(c: u32) -> u32 {
    let imm = (bits(c, 12, 12) << 8)
        | (bits(c, 11, 10) << 3)
        | (bits(c, 6, 5) << 6)
        | (bits(c, 4, 3) << 1)
        | (bits(c, 2, 2) << 5);
    sext(imm, 9)
}

/// The 6-bit signed immediate of `c.addi`, `c.li`, `c.andi`: bit 12 and bits 6..2.
fn ci_imm(c: u32) -> u32 {
    sext((bits(c, 12, 12) << 5) | bits(c, 6, 2), 6)
}

/// The 32-bit instruction that the 16-bit `c` stands for; `None` for an illegal or reserved
/// encoding, and for those of extensions the machine does not have (F, D, RV64).
pub fn expand(c: u16) -> Option<u32> {
    let c = c as u32;
    let rd = bits(c, 11, 7);
    let rs2 = bits(c, 6, 2);
    let rd_p = creg(bits(c, 4, 2));
    let rs1_p = creg(bits(c, 9, 7));
    match (c & 3, bits(c, 15, 13)) {
        // quadrant 0
        (0, 0b000) => {
            // c.addi4spn: nzuimm[5:4|9:6|2|3]
            let imm =
                (bits(c, 12, 11) << 4) | (bits(c, 10, 7) << 6) | (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 3);
            (imm != 0).then(|| i_type(imm, 2, 0, rd_p, OP_IMM))
        }
        (0, 0b010) | (0, 0b110) => {
            // c.lw / c.sw: uimm[5:3] in 12..10, uimm[2] in 6, uimm[6] in 5
            let imm = (bits(c, 12, 10) << 3) | (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 6);
            Some(if bits(c, 15, 13) == 0b010 {
                i_type(imm, rs1_p, 2, rd_p, LOAD)
            } else {
                s_type(imm, rd_p, rs1_p, 2, STORE)
            })
        }
        // quadrant 1
        (1, 0b000) => Some(i_type(ci_imm(c), rd, 0, rd, OP_IMM)), // c.addi (c.nop)
        (1, 0b001) => Some(j_type(cj_offset(c), 1)),              // c.jal
        (1, 0b010) => Some(i_type(ci_imm(c), 0, 0, rd, OP_IMM)),  // c.li
        (1, 0b011) if rd == 2 => {
            // c.addi16sp: nzimm[9] in 12, nzimm[4|6|8:7|5] in 6..2
            let imm = (bits(c, 12, 12) << 9)
                | (bits(c, 6, 6) << 4)
                | (bits(c, 5, 5) << 6)
                | (bits(c, 4, 3) << 7)
                | (bits(c, 2, 2) << 5);
            (imm != 0).then(|| i_type(sext(imm, 10), 2, 0, 2, OP_IMM))
        }
        (1, 0b011) => {
            // c.lui: nzimm[17] in 12, nzimm[16:12] in 6..2
            let imm = sext((bits(c, 12, 12) << 17) | (bits(c, 6, 2) << 12), 18);
            (imm != 0).then_some((imm & 0xffff_f000) | (rd << 7) | LUI)
        }
        (1, 0b100) => match bits(c, 11, 10) {
            0b00 | 0b01 => {
                // c.srli / c.srai: shamt[5] must be 0 on RV32
                let shamt = bits(c, 6, 2);
                let funct7 = if bits(c, 11, 10) == 0 { 0 } else { 0x20 };
                (bits(c, 12, 12) == 0).then(|| r_type(funct7, shamt, rs1_p, 5, rs1_p, OP_IMM))
            }
            0b10 => Some(i_type(ci_imm(c), rs1_p, 7, rs1_p, OP_IMM)), // c.andi
            _ => {
                if bits(c, 12, 12) != 0 {
                    return None; // c.subw, c.addw: RV64
                }
                let (funct7, funct3) = match bits(c, 6, 5) {
                    0b00 => (0x20, 0), // c.sub
                    0b01 => (0, 4),    // c.xor
                    0b10 => (0, 6),    // c.or
                    _ => (0, 7),       // c.and
                };
                Some(r_type(funct7, rd_p, rs1_p, funct3, rs1_p, OP))
            }
        },
        (1, 0b101) => Some(j_type(cj_offset(c), 0)), // c.j
        (1, 0b110) => Some(b_type(cb_offset(c), 0, rs1_p, 0)), // c.beqz
        (1, 0b111) => Some(b_type(cb_offset(c), 0, rs1_p, 1)), // c.bnez
        // quadrant 2
        (2, 0b000) => (bits(c, 12, 12) == 0).then(|| r_type(0, rs2, rd, 1, rd, OP_IMM)), // c.slli
        (2, 0b010) => {
            // c.lwsp: uimm[5] in 12, uimm[4:2] in 6..4, uimm[7:6] in 3..2
            let imm = (bits(c, 12, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6);
            (rd != 0).then(|| i_type(imm, 2, 2, rd, LOAD))
        }
        (2, 0b100) => match (bits(c, 12, 12), rd, rs2) {
            (0, 0, 0) => None,                                   // reserved
            (0, rs1, 0) => Some(i_type(0, rs1, 0, 0, JALR)),     // c.jr
            (0, rd, rs2) => Some(r_type(0, rs2, 0, 0, rd, OP)),  // c.mv
            (_, 0, 0) => Some(EBREAK),                           // c.ebreak
            (_, rs1, 0) => Some(i_type(0, rs1, 0, 1, JALR)),     // c.jalr
            (_, rd, rs2) => Some(r_type(0, rs2, rd, 0, rd, OP)), // c.add
        },
        (2, 0b110) => {
            // c.swsp: uimm[5:2] in 12..9, uimm[7:6] in 8..7
            let imm = (bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6);
            Some(s_type(imm, rs2, 2, 2, STORE))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::expand;

    /// Encodings as GNU as assembles them (`riscv64-unknown-elf-as -march=rv32imac`), with
    /// the 32-bit instruction each stands for.
    #[test]
    fn expands_as_the_spec_says() {
        let cases: &[(u16, u32, &str)] = &[
            (0x0001, 0x0000_0013, "c.nop = addi x0,x0,0"),
            (0x1141, 0xff01_0113, "c.addi sp,-16 = addi sp,sp,-16"),
            (0x4501, 0x0000_0513, "c.li a0,0 = addi a0,x0,0"),
            (0x8082, 0x0000_8067, "c.jr ra = jalr x0,0(ra)"),
            (0x852e, 0x00b0_0533, "c.mv a0,a1 = add a0,x0,a1"),
            (0x952e, 0x00b5_0533, "c.add a0,a1 = add a0,a0,a1"),
            (0x9002, 0x0010_0073, "c.ebreak"),
            (0x4188, 0x0005_a503, "c.lw a0,0(a1)"),
            (0xc10c, 0x00b5_2023, "c.sw a1,0(a0)"),
            (0x0028, 0x0081_0513, "c.addi4spn a0,sp,8"),
            (0x8d0d, 0x40b5_0533, "c.sub a0,a1"),
            (0x8905, 0x0015_7513, "c.andi a0,1"),
            (0x8105, 0x0015_5513, "c.srli a0,1"),
            (0x8505, 0x4015_5513, "c.srai a0,1"),
            (0x0506, 0x0015_1513, "c.slli a0,1"),
            (0x6505, 0x0000_1537, "c.lui a0,1"),
            (0x4502, 0x0001_2503, "c.lwsp a0,0(sp)"),
            (0xc02a, 0x00a1_2023, "c.swsp a0,0(sp)"),
        ];
        for &(c, want, what) in cases {
            assert_eq!(expand(c), Some(want), "{what}: {c:#06x}");
        }
        assert_eq!(expand(0x0000), None, "all zero is illegal");
        assert_eq!(expand(0x2000), None, "c.fld: no D extension");
        assert_eq!(expand(0x8002), None, "c.jr x0 is reserved");
    }
}
