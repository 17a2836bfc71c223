// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title RiscvDecode
/// @notice Instruction decoding for the one-step contract: the immediates of RV32I's formats
///         and the C extension, each compressed instruction expanded to the 32-bit instruction
///         it stands for (the RISC-V spec's table of equivalents), exactly as the Rust VM's
///         `compressed::expand` does, so that one executor runs both.
/// @dev Every value is a `uint256` holding 32 bits; immediates come sign-extended to 32 bits
///      (two's complement in the low 32 bits), as the Rust VM's `u32`s.
library RiscvDecode {
    uint256 internal constant MASK32 = 0xffffffff;

    uint256 private constant OP_IMM = 0x13;
    uint256 private constant OP = 0x33;
    uint256 private constant LOAD = 0x03;
    uint256 private constant STORE = 0x23;
    uint256 private constant JALR = 0x67;
    uint256 private constant LUI = 0x37;
    uint256 private constant EBREAK = 0x00100073;

    /// @notice Bits `hi..=lo` of `x`, shifted down.
    function bits(uint256 x, uint256 hi, uint256 lo) internal pure returns (uint256) {
        return (x >> lo) & (type(uint256).max >> (255 - hi + lo));
    }

    /// @notice The low `width` bits of `x` sign-extended to 32 bits.
    function sext(uint256 x, uint256 width) internal pure returns (uint256) {
        x &= type(uint256).max >> (256 - width);
        return (x >> (width - 1)) & 1 == 1 ? (x | (MASK32 << width)) & MASK32 : x;
    }

    function immI(uint256 i) internal pure returns (uint256) {
        return sext(i >> 20, 12);
    }

    function immS(uint256 i) internal pure returns (uint256) {
        return sext((bits(i, 31, 25) << 5) | bits(i, 11, 7), 12);
    }

    function immB(uint256 i) internal pure returns (uint256) {
        return sext(
            (bits(i, 31, 31) << 12) | (bits(i, 7, 7) << 11) | (bits(i, 30, 25) << 5)
                | (bits(i, 11, 8) << 1),
            13
        );
    }

    function immJ(uint256 i) internal pure returns (uint256) {
        return sext(
            (bits(i, 31, 31) << 20) | (i & 0x000ff000) | (bits(i, 20, 20) << 11)
                | (bits(i, 30, 21) << 1),
            21
        );
    }

    // ---- the C extension ----

    function _creg(uint256 r) private pure returns (uint256) {
        return 8 + (r & 7);
    }

    function _iType(uint256 imm, uint256 rs1, uint256 funct3, uint256 rd, uint256 opcode)
        private
        pure
        returns (uint256)
    {
        return ((imm & 0xfff) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode;
    }

    function _sType(uint256 imm, uint256 rs2, uint256 rs1, uint256 funct3)
        private
        pure
        returns (uint256)
    {
        return (bits(imm, 11, 5) << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12)
            | (bits(imm, 4, 0) << 7) | STORE;
    }

    function _rType(
        uint256 funct7,
        uint256 rs2,
        uint256 rs1,
        uint256 funct3,
        uint256 rd,
        uint256 opcode
    ) private pure returns (uint256) {
        return (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode;
    }

    function _bType(uint256 imm, uint256 rs1, uint256 funct3) private pure returns (uint256) {
        // rs2 = x0: only c.beqz and c.bnez
        return (bits(imm, 12, 12) << 31) | (bits(imm, 10, 5) << 25) | (rs1 << 15) | (funct3 << 12)
            | (bits(imm, 4, 1) << 8) | (bits(imm, 11, 11) << 7) | 0x63;
    }

    function _jType(uint256 imm, uint256 rd) private pure returns (uint256) {
        return (bits(imm, 20, 20) << 31) | (bits(imm, 10, 1) << 21) | (bits(imm, 11, 11) << 20)
            | (bits(imm, 19, 12) << 12) | (rd << 7) | 0x6f;
    }

    /// @dev The offset of `c.j`/`c.jal`: `imm[11|4|9:8|10|6|7|3:1|5]` in bits 12..2.
    function _cjOffset(uint256 c) private pure returns (uint256) {
        return sext(
            (bits(c, 12, 12) << 11) | (bits(c, 11, 11) << 4) | (bits(c, 10, 9) << 8)
                | (bits(c, 8, 8) << 10) | (bits(c, 7, 7) << 6) | (bits(c, 6, 6) << 7)
                | (bits(c, 5, 3) << 1) | (bits(c, 2, 2) << 5),
            12
        );
    }

    /// @dev The offset of `c.beqz`/`c.bnez`: `imm[8|4:3]` in bits 12..10, `imm[7:6|2:1|5]` in
    ///      6..2.
    function _cbOffset(uint256 c) private pure returns (uint256) {
        return sext(
            (bits(c, 12, 12) << 8) | (bits(c, 11, 10) << 3) | (bits(c, 6, 5) << 6)
                | (bits(c, 4, 3) << 1) | (bits(c, 2, 2) << 5),
            9
        );
    }

    /// @dev The 6-bit signed immediate of `c.addi`, `c.li`, `c.andi`: bit 12 and bits 6..2.
    function _ciImm(uint256 c) private pure returns (uint256) {
        return sext((bits(c, 12, 12) << 5) | bits(c, 6, 2), 6);
    }

    /// @notice The 32-bit instruction the 16-bit `c` (low two bits not `0b11`) stands for;
    ///         `ok` false for an illegal or reserved encoding and for those of extensions the
    ///         machine does not have (F, D, RV64).
    function expand(uint256 c) internal pure returns (bool ok, uint256 insn) {
        uint256 quadrant = c & 3;
        uint256 funct3 = bits(c, 15, 13);
        if (quadrant == 0) return _quadrant0(c, funct3);
        if (quadrant == 1) return _quadrant1(c, funct3);
        if (quadrant == 2) return _quadrant2(c, funct3);
        return (false, 0);
    }

    function _quadrant0(uint256 c, uint256 funct3) private pure returns (bool, uint256) {
        uint256 rdP = _creg(bits(c, 4, 2));
        if (funct3 == 0) {
            // c.addi4spn: nzuimm[5:4|9:6|2|3]
            uint256 imm = (bits(c, 12, 11) << 4) | (bits(c, 10, 7) << 6) | (bits(c, 6, 6) << 2)
                | (bits(c, 5, 5) << 3);
            if (imm == 0) return (false, 0);
            return (true, _iType(imm, 2, 0, rdP, OP_IMM));
        }
        if (funct3 == 2 || funct3 == 6) {
            // c.lw / c.sw: uimm[5:3] in 12..10, uimm[2] in 6, uimm[6] in 5
            uint256 imm = (bits(c, 12, 10) << 3) | (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 6);
            uint256 rs1P = _creg(bits(c, 9, 7));
            if (funct3 == 2) return (true, _iType(imm, rs1P, 2, rdP, LOAD));
            return (true, _sType(imm, rdP, rs1P, 2));
        }
        return (false, 0);
    }

    function _quadrant1(uint256 c, uint256 funct3) private pure returns (bool, uint256) {
        uint256 rd = bits(c, 11, 7);
        if (funct3 == 0) return (true, _iType(_ciImm(c), rd, 0, rd, OP_IMM)); // c.addi, c.nop
        if (funct3 == 1) return (true, _jType(_cjOffset(c), 1)); // c.jal
        if (funct3 == 2) return (true, _iType(_ciImm(c), 0, 0, rd, OP_IMM)); // c.li
        if (funct3 == 3) {
            if (rd == 2) {
                // c.addi16sp: nzimm[9] in 12, nzimm[4|6|8:7|5] in 6..2
                uint256 imm = (bits(c, 12, 12) << 9) | (bits(c, 6, 6) << 4) | (bits(c, 5, 5) << 6)
                    | (bits(c, 4, 3) << 7) | (bits(c, 2, 2) << 5);
                if (imm == 0) return (false, 0);
                return (true, _iType(sext(imm, 10), 2, 0, 2, OP_IMM));
            }
            // c.lui: nzimm[17] in 12, nzimm[16:12] in 6..2
            uint256 luiImm = sext((bits(c, 12, 12) << 17) | (bits(c, 6, 2) << 12), 18);
            if (luiImm == 0) return (false, 0);
            return (true, (luiImm & 0xfffff000) | (rd << 7) | LUI);
        }
        if (funct3 == 4) return _arith(c);
        if (funct3 == 5) return (true, _jType(_cjOffset(c), 0)); // c.j
        uint256 rs1P = _creg(bits(c, 9, 7));
        // c.beqz (6), c.bnez (7)
        return (true, _bType(_cbOffset(c), rs1P, funct3 == 6 ? 0 : 1));
    }

    /// @dev Quadrant 1, funct3 0b100: shifts, c.andi and the register-register group.
    function _arith(uint256 c) private pure returns (bool, uint256) {
        uint256 rs1P = _creg(bits(c, 9, 7));
        uint256 group = bits(c, 11, 10);
        if (group <= 1) {
            // c.srli / c.srai: shamt[5] must be 0 on RV32
            if (bits(c, 12, 12) != 0) return (false, 0);
            return (true, _rType(group == 0 ? 0 : 0x20, bits(c, 6, 2), rs1P, 5, rs1P, OP_IMM));
        }
        if (group == 2) return (true, _iType(_ciImm(c), rs1P, 7, rs1P, OP_IMM)); // c.andi
        if (bits(c, 12, 12) != 0) return (false, 0); // c.subw, c.addw: RV64
        uint256 op = bits(c, 6, 5);
        // c.sub (0x20, 0), c.xor (0, 4), c.or (0, 6), c.and (0, 7)
        uint256 funct7 = op == 0 ? 0x20 : 0;
        uint256 funct3 = op == 0 ? 0 : op == 1 ? 4 : op == 2 ? 6 : 7;
        return (true, _rType(funct7, _creg(bits(c, 4, 2)), rs1P, funct3, rs1P, OP));
    }

    function _quadrant2(uint256 c, uint256 funct3) private pure returns (bool, uint256) {
        uint256 rd = bits(c, 11, 7);
        uint256 rs2 = bits(c, 6, 2);
        if (funct3 == 0) {
            // c.slli
            if (bits(c, 12, 12) != 0) return (false, 0);
            return (true, _rType(0, rs2, rd, 1, rd, OP_IMM));
        }
        if (funct3 == 2) {
            // c.lwsp: uimm[5] in 12, uimm[4:2] in 6..4, uimm[7:6] in 3..2
            uint256 imm = (bits(c, 12, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6);
            if (rd == 0) return (false, 0);
            return (true, _iType(imm, 2, 2, rd, LOAD));
        }
        if (funct3 == 4) {
            if (bits(c, 12, 12) == 0) {
                if (rs2 != 0) return (true, _rType(0, rs2, 0, 0, rd, OP)); // c.mv
                if (rd == 0) return (false, 0); // reserved
                return (true, _iType(0, rd, 0, 0, JALR)); // c.jr
            }
            if (rs2 != 0) return (true, _rType(0, rs2, rd, 0, rd, OP)); // c.add
            if (rd == 0) return (true, EBREAK); // c.ebreak
            return (true, _iType(0, rd, 0, 1, JALR)); // c.jalr
        }
        if (funct3 == 6) {
            // c.swsp: uimm[5:2] in 12..9, uimm[7:6] in 8..7
            uint256 imm = (bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6);
            return (true, _sType(imm, rs2, 2, 2));
        }
        return (false, 0);
    }
}
