// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {console} from "../utils/Test.sol";
import {RiscvTestBase} from "./RiscvTestBase.sol";
import {RiscvStep} from "../../src/fault/RiscvStep.sol";
import {IPreimageOracle, PreimageKeys} from "../../src/fault/IPreimageOracle.sol";

/// @dev forge's `cool` cheatcode (not in test/utils/Test.sol): the next access is cold again.
interface CoolVm {
    function cool(address target) external;
}

/// @dev One step of each instruction class against the state the spec (docs/fault-proofs.md)
///      and the Rust VM (crates/fault-vm/src/exec.rs) give; the expected post-states are
///      written by hand. Every step also checks its gas is under 1,000,000.
contract RiscvStepTest is RiscvTestBase {
    uint256 internal constant PC = 0x1000;
    uint256 internal constant DATA = 0x2000;
    uint256 internal constant OP = 0x33;
    uint256 internal constant OP_IMM = 0x13;

    /// @dev Runs the one instruction `i` at PC with rs1 = x5 = `a`, rs2 = x6 = `b` and
    ///      requires rd = x7 to be `want` afterwards.
    function _rr(uint256 i, uint32 a, uint32 b, uint32 want, string memory what) internal {
        S memory s = _state(PC);
        s.regs[5] = a;
        s.regs[6] = b;
        _insn(PC, i);
        bytes32 post = _run(s, _at(PC));
        S memory e = _next(s, 4);
        e.regs[7] = want;
        e.memRoot = _root();
        assertEq(post, _hash(e), what);
    }

    /// @dev Requires `i` at PC to panic, with the proofs of `addrs`.
    function _panics(uint256 i, S memory s, uint256[] memory addrs, string memory what) internal {
        _insn(PC, i);
        bytes32 post = _run(s, addrs);
        S memory e = _panicked(s);
        e.memRoot = _root();
        assertEq(post, _hash(e), what);
        assertEq(uint256(post) >> 248, 2, "a panic's status is 2");
    }

    // ---- the state and its proofs ----

    function test_exited_state_steps_to_itself() public {
        S memory s = _state(PC);
        s.exited = true;
        s.regs[10] = 5;
        uint8[3] memory codes = [0, 1, 0x42];
        for (uint256 k = 0; k < 3; ++k) {
            s.code = codes[k];
            bytes32 post = _run(s, new uint256[](0));
            assertEq(post, _hash(s), "unchanged");
            assertEq(uint256(post) >> 248, k, "status 0, 1, 2");
        }
        // an exited state takes no proof
        (bytes memory st, bytes memory proof) = _prepare(s, _at(PC));
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.UnusedProofBytes.selector, 0, 896));
        rv.step(st, proof, CTX);
    }

    function test_running_state_hash_has_status_3() public {
        S memory s = _state(PC);
        _insn(PC, 0x00000013); // nop
        bytes32 post = _run(s, _at(PC));
        assertEq(uint256(post) >> 248, 3);
        _expect(post, _next(s, 4));
    }

    function test_state_must_be_210_canonical_bytes() public {
        S memory s = _state(PC);
        _insn(PC, 0x00000013);
        (bytes memory st, bytes memory proof) = _prepare(s, _at(PC));
        bytes memory short = new bytes(209);
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.InvalidStateLength.selector, 209));
        rv.step(short, proof, CTX);
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.InvalidStateLength.selector, 211));
        rv.step(abi.encodePacked(st, uint8(0)), proof, CTX);
        st[73] = 0x02; // exited neither 0 nor 1
        vm.expectRevert(RiscvStep.NonCanonicalState.selector);
        rv.step(st, proof, CTX);
        st[73] = 0;
        st[85] = 0x01; // x0 = 1
        vm.expectRevert(RiscvStep.NonCanonicalState.selector);
        rv.step(st, proof, CTX);
    }

    function test_bad_proofs_are_rejected() public {
        S memory s = _state(PC);
        s.regs[5] = uint32(DATA);
        _insn(PC, _i(0, 5, 2, 7, 0x03)); // lw x7, 0(x5)
        _poke(DATA, 0x11223344, 4);
        (bytes memory st, bytes memory proof) = _prepare(s, _at(PC, DATA));
        // valid
        rv.step(st, proof, CTX);
        // a sibling changed
        bytes memory bad = bytes.concat(proof);
        bad[896 + 32 * 5] ^= 0x01;
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.InvalidMemoryProof.selector, 1));
        rv.step(st, bad, CTX);
        // the leaf changed (the loaded word would differ)
        bad = bytes.concat(proof);
        bad[896] ^= 0x01;
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.InvalidMemoryProof.selector, 1));
        rv.step(st, bad, CTX);
        // a valid proof of another leaf
        (, bytes memory other) = _prepare(s, _at(PC, DATA + 32));
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.InvalidMemoryProof.selector, 1));
        rv.step(st, other, CTX);
        // the fetch's proof of the wrong leaf
        (, other) = _prepare(s, _at(DATA, DATA));
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.InvalidMemoryProof.selector, 0));
        rv.step(st, other, CTX);
        // missing: none, only the fetch's, the data proof cut short
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.MissingMemoryProof.selector, 0));
        rv.step(st, "", CTX);
        (, other) = _prepare(s, _at(PC));
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.MissingMemoryProof.selector, 1));
        rv.step(st, other, CTX);
        bytes memory cut = new bytes(1791);
        for (uint256 k = 0; k < cut.length; ++k) {
            cut[k] = proof[k];
        }
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.MissingMemoryProof.selector, 1));
        rv.step(st, cut, CTX);
        // extra: a third proof, a trailing byte
        (, other) = _prepare(s, _at(PC, DATA, DATA));
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.UnusedProofBytes.selector, 1792, 2688));
        rv.step(st, other, CTX);
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.UnusedProofBytes.selector, 1792, 1793));
        rv.step(st, abi.encodePacked(proof, uint8(0)), CTX);
        // a pre-state whose memRoot is not the proofs' root
        st[0] ^= 0x01;
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.InvalidMemoryProof.selector, 0));
        rv.step(st, proof, CTX);
    }

    // ---- RV32I ----

    function test_alu_register_register() public {
        uint32 a = 0x80000001;
        uint32 b = 0x00000021; // shifts use b & 31 = 1
        _rr(_r(0, 6, 5, 0, 7, OP), a, b, 0x80000022, "add");
        _rr(_r(0x20, 6, 5, 0, 7, OP), a, b, 0x7fffffe0, "sub");
        _rr(_r(0x20, 6, 5, 0, 7, OP), 0, 1, 0xffffffff, "sub wraps");
        _rr(_r(0, 6, 5, 1, 7, OP), a, b, 0x00000002, "sll");
        _rr(_r(0, 6, 5, 2, 7, OP), a, b, 1, "slt");
        _rr(_r(0, 6, 5, 3, 7, OP), a, b, 0, "sltu");
        _rr(_r(0, 6, 5, 4, 7, OP), a, b, 0x80000020, "xor");
        _rr(_r(0, 6, 5, 5, 7, OP), a, b, 0x40000000, "srl");
        _rr(_r(0x20, 6, 5, 5, 7, OP), a, b, 0xc0000000, "sra");
        _rr(_r(0, 6, 5, 6, 7, OP), a, b, 0x80000021, "or");
        _rr(_r(0, 6, 5, 7, 7, OP), a, b, 0x00000001, "and");
        _rr(_r(0, 6, 5, 0, 7, OP), 0xffffffff, 2, 1, "add wraps");
    }

    function test_alu_immediate() public {
        uint32 a = 0x80000001;
        _rr(_i(-2, 5, 0, 7, OP_IMM), a, 0, 0x7fffffff, "addi -2");
        _rr(_i(2047, 5, 0, 7, OP_IMM), 1, 0, 2048, "addi 2047");
        _rr(_i(5, 5, 2, 7, OP_IMM), a, 0, 1, "slti");
        _rr(_i(-1, 5, 3, 7, OP_IMM), a, 0, 1, "sltiu: -1 is the largest");
        _rr(_i(-1, 5, 4, 7, OP_IMM), a, 0, 0x7ffffffe, "xori -1 = not");
        _rr(_i(0x70, 5, 6, 7, OP_IMM), a, 0, 0x80000071, "ori");
        _rr(_i(-2048, 5, 7, 7, OP_IMM), a, 0, 0x80000000, "andi");
        _rr(_r(0, 31, 5, 1, 7, OP_IMM), 3, 0, 0x80000000, "slli 31");
        _rr(_r(0, 4, 5, 5, 7, OP_IMM), a, 0, 0x08000000, "srli 4");
        _rr(_r(0x20, 4, 5, 5, 7, OP_IMM), a, 0, 0xf8000000, "srai 4");
        _rr(_r(0x20, 0, 5, 5, 7, OP_IMM), a, 0, a, "srai 0");
    }

    function test_illegal_shift_and_alu_encodings_panic() public {
        uint256[6] memory bad = [
            _r(0x20, 1, 5, 1, 7, OP_IMM), // slli with funct7 0x20
            _r(0x01, 1, 5, 5, 7, OP_IMM), // srli with funct7 1 (shamt[5] on RV32)
            _r(0x21, 1, 5, 5, 7, OP_IMM), // srai with an extra bit
            _r(0x20, 6, 5, 1, 7, OP), // sll with funct7 0x20
            _r(0x20, 6, 5, 7, 7, OP), // and with funct7 0x20
            _r(0x02, 6, 5, 0, 7, OP) // funct7 2
        ];
        for (uint256 k = 0; k < bad.length; ++k) {
            S memory s = _state(PC);
            s.regs[5] = 3;
            _panics(bad[k], s, _at(PC), "illegal encoding");
        }
    }

    function test_x0_stays_zero() public {
        S memory s = _state(PC);
        s.regs[5] = 9;
        _insn(PC, _i(1, 5, 0, 0, OP_IMM)); // addi x0, x5, 1
        _expect(_run(s, _at(PC)), _next(s, 4));
        _insn(PC, 0x123450b7 & ~uint256(0xf80)); // lui x0, 0x12345
        _expect(_run(s, _at(PC)), _next(s, 4));
    }

    function test_lui_auipc() public {
        S memory s = _state(PC);
        _insn(PC, 0x123452b7); // lui x5, 0x12345
        S memory e = _next(s, 4);
        e.regs[5] = 0x12345000;
        _expect(_run(s, _at(PC)), e);
        _insn(PC, 0xfffff297); // auipc x5, 0xfffff
        e.regs[5] = uint32(PC + 0xfffff000); // wraps
        _expect(_run(s, _at(PC)), e);
    }

    function test_branches() public {
        // (funct3, a, b, taken)
        uint256[4][14] memory cases = [
            [uint256(0), 5, 5, 1], // beq
            [uint256(0), 5, 6, 0],
            [uint256(1), 5, 6, 1], // bne
            [uint256(1), 5, 5, 0],
            [uint256(4), 0xffffffff, 0, 1], // blt: -1 < 0
            [uint256(4), 0, 0xffffffff, 0],
            [uint256(4), 7, 7, 0],
            [uint256(5), 0, 0xffffffff, 1], // bge
            [uint256(5), 0x80000000, 0x80000000, 1],
            [uint256(6), 0, 0xffffffff, 1], // bltu
            [uint256(6), 7, 7, 0],
            [uint256(7), 0xffffffff, 0, 1], // bgeu
            [uint256(7), 7, 7, 1],
            [uint256(7), 0, 1, 0]
        ];
        for (uint256 k = 0; k < cases.length; ++k) {
            S memory s = _state(PC);
            s.regs[5] = uint32(cases[k][1]);
            s.regs[6] = uint32(cases[k][2]);
            _insn(PC, _b(-16, 6, 5, cases[k][0]));
            S memory e = _next(s, 4);
            if (cases[k][3] == 1) e.pc = uint32(PC - 16);
            _expect(_run(s, _at(PC)), e);
        }
        // forward, the largest offset
        S memory f = _state(PC);
        _insn(PC, _b(4094, 0, 0, 0));
        S memory fe = _next(f, 4);
        fe.pc = uint32(PC + 4094);
        _expect(_run(f, _at(PC)), fe);
        // funct3 2 and 3 are not branches
        _panics(_b(8, 0, 0, 2), _state(PC), _at(PC), "branch funct3 2");
        _panics(_b(8, 0, 0, 3), _state(PC), _at(PC), "branch funct3 3");
    }

    function test_jal_jalr() public {
        S memory s = _state(PC);
        _insn(PC, _j(-0x800, 1)); // jal ra, -2048
        S memory e = _next(s, 4);
        e.regs[1] = uint32(PC + 4);
        e.pc = uint32(PC - 0x800);
        _expect(_run(s, _at(PC)), e);
        _insn(PC, _j(0xffffe, 0)); // j +1 MiB - 2
        e = _next(s, 4);
        e.pc = uint32(PC + 0xffffe);
        _expect(_run(s, _at(PC)), e);
        // jalr x5, 7(x5): the target from x5 before x5 is written, bit 0 cleared
        s.regs[5] = 0x3000;
        _insn(PC, _i(7, 5, 0, 5, 0x67));
        e = _next(s, 4);
        e.regs[5] = uint32(PC + 4);
        e.pc = 0x3006;
        _expect(_run(s, _at(PC)), e);
        // jalr with funct3 != 0
        _panics(_i(0, 5, 1, 1, 0x67), s, _at(PC), "jalr funct3 1");
    }

    function test_loads() public {
        _poke(DATA + 4, 0x8081f2f3, 4);
        // (funct3, offset, value)
        uint256[3][7] memory cases = [
            [uint256(0), 4, 0xfffffff3], // lb sign-extends
            [uint256(4), 4, 0xf3], // lbu
            [uint256(0), 5, 0xfffffff2],
            [uint256(1), 6, 0xffff8081], // lh
            [uint256(5), 6, 0x8081], // lhu
            [uint256(1), 4, 0xfffff2f3],
            [uint256(2), 4, 0x8081f2f3] // lw
        ];
        for (uint256 k = 0; k < cases.length; ++k) {
            S memory s = _state(PC);
            s.regs[5] = uint32(DATA + 0x10);
            _insn(PC, _i(int256(cases[k][1]) - 0x10, 5, cases[k][0], 7, 0x03));
            S memory e = _next(s, 4);
            e.regs[7] = uint32(cases[k][2]);
            _expect(_run(s, _at(PC, DATA)), e);
        }
        // the address wraps at 2^32
        S memory w = _state(PC);
        w.regs[5] = 0xfffffff0;
        _poke(0x0c, 0x5a, 1);
        _insn(PC, _i(0x1c, 5, 4, 7, 0x03)); // lbu x7, 28(x5) = byte 0xc
        S memory we = _next(w, 4);
        we.regs[7] = 0x5a;
        _expect(_run(w, _at(PC, 0x0c)), we);
    }

    function test_misaligned_and_unknown_loads_panic_untouched() public {
        S memory s = _state(PC);
        s.regs[5] = uint32(DATA + 1);
        _panics(_i(0, 5, 1, 7, 0x03), s, _at(PC), "lh at an odd address");
        _panics(_i(0, 5, 5, 7, 0x03), s, _at(PC), "lhu at an odd address");
        _panics(_i(1, 5, 2, 7, 0x03), s, _at(PC), "lw at 2 mod 4");
        _panics(_i(-1, 5, 3, 7, 0x03), s, _at(PC), "ld: funct3 3");
        _panics(_i(-1, 5, 6, 7, 0x03), s, _at(PC), "funct3 6");
        // a data proof there would be one too many
        (bytes memory st, bytes memory proof) = _prepare(s, _at(PC, DATA));
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.UnusedProofBytes.selector, 896, 1792));
        rv.step(st, proof, CTX);
    }

    function test_stores() public {
        _poke(DATA, 0x11111111, 4);
        S memory s = _state(PC);
        s.regs[5] = uint32(DATA);
        s.regs[6] = 0xa1b2c3d4;
        _insn(PC, _s(3, 6, 5, 0)); // sb x6, 3(x5)
        bytes32 post = _run(s, _at(PC, DATA));
        _setByte(DATA + 3, 0xd4);
        _expect(post, _next(s, 4));
        _insn(PC, _s(6, 6, 5, 1)); // sh x6, 6(x5)
        post = _run(s, _at(PC, DATA));
        _poke(DATA + 6, 0xc3d4, 2);
        _expect(post, _next(s, 4));
        _insn(PC, _s(28, 6, 5, 2)); // sw x6, 28(x5): the leaf's last word
        post = _run(s, _at(PC, DATA));
        _poke(DATA + 28, 0xa1b2c3d4, 4);
        _expect(post, _next(s, 4));
        assertEq(_peek(DATA, 4), 0xd4111111, "the other bytes stay");
        // a store into the instruction's own leaf
        s.regs[5] = uint32(PC);
        _insn(PC, _s(8, 6, 5, 2)); // sw x6, 8(x5)
        post = _run(s, _at(PC, PC));
        _poke(PC + 8, 0xa1b2c3d4, 4);
        _expect(post, _next(s, 4));
    }

    function test_misaligned_and_unknown_stores_panic_untouched() public {
        S memory s = _state(PC);
        s.regs[5] = uint32(DATA + 1);
        _panics(_s(0, 6, 5, 1), s, _at(PC), "sh at an odd address");
        _panics(_s(1, 6, 5, 2), s, _at(PC), "sw at 2 mod 4");
        _panics(_s(0, 6, 5, 3), s, _at(PC), "sd: funct3 3");
    }

    function test_fence_is_a_nop() public {
        S memory s = _state(PC);
        _insn(PC, 0x0ff0000f); // fence
        _expect(_run(s, _at(PC)), _next(s, 4));
        _insn(PC, 0x0000100f); // fence.i
        _expect(_run(s, _at(PC)), _next(s, 4));
        _panics(0x0000200f, s, _at(PC), "MISC-MEM funct3 2");
    }

    // ---- M ----

    function test_mul_div() public {
        uint32 min = 0x80000000;
        uint32 m1 = 0xffffffff;
        _rr(_r(1, 6, 5, 0, 7, OP), min, m1, min, "mul MIN * -1");
        _rr(_r(1, 6, 5, 1, 7, OP), min, m1, 0, "mulh MIN * -1");
        _rr(_r(1, 6, 5, 2, 7, OP), min, m1, 0x80000000, "mulhsu MIN * (2^32 - 1)");
        _rr(_r(1, 6, 5, 3, 7, OP), min, m1, 0x7fffffff, "mulhu");
        _rr(_r(1, 6, 5, 4, 7, OP), min, m1, min, "div MIN / -1 = MIN");
        _rr(_r(1, 6, 5, 5, 7, OP), min, m1, 0, "divu");
        _rr(_r(1, 6, 5, 6, 7, OP), min, m1, 0, "rem MIN % -1 = 0");
        _rr(_r(1, 6, 5, 7, 7, OP), min, m1, min, "remu");
        // by zero
        _rr(_r(1, 6, 5, 4, 7, OP), 7, 0, m1, "div by 0 = -1");
        _rr(_r(1, 6, 5, 5, 7, OP), 7, 0, m1, "divu by 0 = 2^32 - 1");
        _rr(_r(1, 6, 5, 6, 7, OP), 0xfffffff9, 0, 0xfffffff9, "rem by 0 = x");
        _rr(_r(1, 6, 5, 7, 7, OP), 7, 0, 7, "remu by 0 = x");
        // signs
        uint32 n7 = 0xfffffff9; // -7
        _rr(_r(1, 6, 5, 0, 7, OP), n7, 2, 0xfffffff2, "mul -7 * 2");
        _rr(_r(1, 6, 5, 1, 7, OP), n7, 2, m1, "mulh -7 * 2");
        _rr(_r(1, 6, 5, 2, 7, OP), n7, 2, m1, "mulhsu -7 * 2");
        _rr(_r(1, 6, 5, 3, 7, OP), n7, 2, 1, "mulhu");
        _rr(_r(1, 6, 5, 4, 7, OP), n7, 2, 0xfffffffd, "div rounds toward 0");
        _rr(_r(1, 6, 5, 5, 7, OP), n7, 2, 0x7ffffffc, "divu");
        _rr(_r(1, 6, 5, 6, 7, OP), n7, 2, m1, "rem takes the dividend's sign");
        _rr(_r(1, 6, 5, 7, 7, OP), n7, 2, 1, "remu");
        _rr(_r(1, 6, 5, 2, 7, OP), 2, n7, 1, "mulhsu 2 * (2^32 - 7)");
    }

    // ---- A ----

    function test_lr_sc() public {
        _poke(DATA + 8, 0xcafef00d, 4);
        S memory s = _state(PC);
        s.regs[5] = uint32(DATA + 8);
        s.regs[6] = 0x01020304;
        _insn(PC, _amo(0x02, 0, 5, 7)); // lr.w x7, (x5)
        S memory e = _next(s, 4);
        e.regs[7] = 0xcafef00d;
        _expect(_run(s, _at(PC, DATA)), e);
        s.regs[7] = 9;
        _insn(PC, _amo(0x03, 6, 5, 7) | (3 << 25)); // sc.w.aqrl x7, x6, (x5)
        bytes32 post = _run(s, _at(PC, DATA));
        _poke(DATA + 8, 0x01020304, 4);
        e = _next(s, 4);
        e.regs[7] = 0; // always succeeds
        _expect(post, e);
    }

    function test_amos() public {
        // (funct5, the value written) with t = 0x80000005 in memory, v = 3 in rs2
        uint256[2][9] memory cases = [
            [uint256(0x01), 3], // amoswap
            [uint256(0x00), 0x80000008], // amoadd
            [uint256(0x04), 0x80000006], // amoxor
            [uint256(0x0c), 0x00000001], // amoand
            [uint256(0x08), 0x80000007], // amoor
            [uint256(0x10), 0x80000005], // amomin (signed)
            [uint256(0x14), 3], // amomax
            [uint256(0x18), 3], // amominu
            [uint256(0x1c), 0x80000005] // amomaxu
        ];
        for (uint256 k = 0; k < cases.length; ++k) {
            _poke(DATA + 12, 0x80000005, 4);
            S memory s = _state(PC);
            s.regs[5] = uint32(DATA + 12);
            s.regs[6] = 3;
            _insn(PC, _amo(cases[k][0], 6, 5, 7));
            bytes32 post = _run(s, _at(PC, DATA));
            _poke(DATA + 12, cases[k][1], 4);
            S memory e = _next(s, 4);
            e.regs[7] = 0x80000005;
            _expect(post, e);
        }
    }

    function test_amo_misaligned_or_unknown_panics() public {
        S memory s = _state(PC);
        s.regs[5] = uint32(DATA + 2);
        // misaligned: nothing touched
        _panics(_amo(0x00, 6, 5, 7), s, _at(PC), "misaligned amoadd");
        _panics(_amo(0x02, 0, 5, 7), s, _at(PC), "misaligned lr.w");
        // aligned but unknown: the Rust VM loads (and proves) the word first
        s.regs[5] = uint32(DATA);
        _panics(_amo(0x05, 6, 5, 7), s, _at(PC, DATA), "funct5 5");
        _panics(_amo(0x02, 6, 5, 7), s, _at(PC, DATA), "lr.w with rs2 != 0");
        (bytes memory st, bytes memory proof) = _prepare(s, _at(PC));
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.MissingMemoryProof.selector, 1));
        rv.step(st, proof, CTX);
        // funct3 other than 2 (amo*.d): untouched
        _panics(_amo(0x00, 6, 5, 7) | (1 << 12), s, _at(PC), "amoadd.d");
    }

    // ---- system ----

    function test_ebreak_csr_illegal_panic() public {
        S memory s = _state(PC);
        _panics(0x00100073, s, _at(PC), "ebreak");
        _panics(0x34011173, s, _at(PC), "csrrw sp, mscratch, sp");
        _panics(0xc0002573, s, _at(PC), "rdcycle a0");
        _panics(0x10500073, s, _at(PC), "wfi");
        _panics(0x0000007f, s, _at(PC), "opcode 0x7f");
        _panics(0xffffffff, s, _at(PC), "all ones");
        _panics(0x00000007, s, _at(PC), "flw: no F");
    }

    function test_ecall_exit() public {
        S memory s = _state(PC);
        s.regs[17] = 93;
        s.regs[10] = 0x1c7; // code = a0 & 0xff
        _insn(PC, 0x00000073);
        bytes32 post = _run(s, _at(PC));
        S memory e = _next(s, 4); // exit moves pc on
        e.exited = true;
        e.code = 0xc7;
        _expect(post, e);
        assertEq(uint256(post) >> 248, 2);
        s.regs[17] = 94;
        s.regs[10] = 0;
        e.regs[17] = 94;
        e.regs[10] = 0;
        e.code = 0;
        post = _run(s, _at(PC));
        _expect(post, e);
        assertEq(uint256(post) >> 248, 0, "exit 0: the claim holds");
        s.regs[10] = 0x301;
        e.regs[10] = 0x301;
        e.code = 1;
        post = _run(s, _at(PC));
        _expect(post, e);
        assertEq(uint256(post) >> 248, 1, "exit 1: it does not");
    }

    /// @dev `ecall` with a7, a0..a2 set; requires a0 = `want` after, nothing else changed.
    function _sys(uint256 a7, uint256 a0, uint256 a1, uint256 a2, uint256 want, string memory what)
        internal
    {
        S memory s = _state(PC);
        s.regs[17] = uint32(a7);
        s.regs[10] = uint32(a0);
        s.regs[11] = uint32(a1);
        s.regs[12] = uint32(a2);
        s.key = bytes32(uint256(0xabc));
        s.offset = 17;
        _insn(PC, 0x00000073);
        S memory e = _next(s, 4);
        e.regs[10] = uint32(want);
        _expect(_run(s, _at(PC)), e);
        assertTrue(true, what);
    }

    function test_syscalls_without_memory() public {
        uint256 ebadf = 0xfffffff7;
        _sys(64, 1, DATA, 100, 100, "write stdout returns count");
        _sys(64, 2, DATA, 7, 7, "write stderr");
        _sys(64, 4, DATA, 1 << 20, 1 << 20, "write hint");
        _sys(63, 3, DATA, 55, 55, "read hint reply returns count");
        _sys(63, 0, DATA, 1, ebadf, "read stdin: EBADF");
        _sys(63, 6, DATA, 1, ebadf, "read fd 6: EBADF");
        _sys(64, 5, DATA, 1, ebadf, "write fd 5: EBADF");
        _sys(64, 3, DATA, 1, ebadf, "write fd 3: EBADF");
        _sys(64, 0, DATA, 1, ebadf, "write fd 0: EBADF");
        _sys(1000, 0, 0, 0, 0xffffffda, "unknown: ENOSYS");
        _sys(57, 3, 0, 0, 0xffffffda, "close: ENOSYS");
        _sys(63, 5, DATA, 0, 0, "read fd 5 of 0 bytes: no oracle, no proof");
    }

    function test_write_fd6_shifts_the_key() public {
        // 12 bytes at DATA + 20, up to the leaf's end
        for (uint256 k = 0; k < 12; ++k) {
            _setByte(DATA + 20 + k, 0xb0 + k);
        }
        S memory s = _state(PC);
        s.key = bytes32(uint256(0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20));
        s.offset = 99;
        s.regs[17] = 64;
        s.regs[10] = 6;
        s.regs[11] = uint32(DATA + 20);
        s.regs[12] = 64;
        _insn(PC, 0x00000073);
        S memory e = _next(s, 4);
        e.key = bytes32(uint256(0x0d0e0f101112131415161718191a1b1c1d1e1f20b0b1b2b3b4b5b6b7b8b9babb));
        e.offset = 0;
        e.regs[10] = 12; // limited by the leaf's end
        _expect(_run(s, _at(PC, DATA + 20)), e);
        // the whole key in one aligned write
        s.regs[11] = uint32(DATA);
        s.regs[12] = 32;
        e = _next(s, 4);
        e.key = leafOf[DATA >> 5];
        e.offset = 0;
        e.regs[10] = 32;
        _expect(_run(s, _at(PC, DATA)), e);
        // count 0: the key stays, the offset is reset, no memory touched
        s.regs[12] = 0;
        e = _next(s, 4);
        e.offset = 0;
        e.regs[10] = 0;
        _expect(_run(s, _at(PC)), e);
    }

    function _preimage() internal pure returns (bytes memory p) {
        p = new bytes(100);
        for (uint256 k = 0; k < 100; ++k) {
            p[k] = bytes1(uint8(k * 7 + 1));
        }
    }

    function _keccakKey(bytes memory p) internal pure returns (bytes32) {
        return PreimageKeys.withType(keccak256(p), 2);
    }

    /// @dev `read(5, addr, count)` at stream offset `offset` of `key`.
    function _readState(bytes32 key, uint256 offset, uint256 addr, uint256 count)
        internal
        pure
        returns (S memory s)
    {
        s = _state(PC);
        s.key = key;
        s.offset = uint32(offset);
        s.regs[17] = 63;
        s.regs[10] = 5;
        s.regs[11] = uint32(addr);
        s.regs[12] = uint32(count);
    }

    function test_read_fd5_limited_by_the_leaf() public {
        bytes memory p = _preimage();
        bytes32 key = _keccakKey(p);
        oracle.loadKeccak256PreimagePart(0, p);
        _insn(PC, 0x00000073);
        _poke(DATA + 16, 0xeeeeeeee, 4);
        S memory s = _readState(key, 0, DATA + 20, 64);
        bytes32 post = _run(s, _at(PC, DATA + 20));
        // 12 bytes (to the leaf's end): the length 100 as 8 bytes, then p[0..4]
        for (uint256 k = 0; k < 7; ++k) {
            _setByte(DATA + 20 + k, 0);
        }
        _setByte(DATA + 27, 100);
        for (uint256 k = 0; k < 4; ++k) {
            _setByte(DATA + 28 + k, uint8(p[k]));
        }
        S memory e = _next(s, 4);
        e.regs[10] = 12;
        e.offset = 12;
        _expect(post, e);
        assertEq(_peek(DATA + 16, 4), 0xeeeeeeee, "the bytes before stay");
    }

    function test_read_fd5_limited_by_the_stream() public {
        bytes memory p = _preimage();
        bytes32 key = _keccakKey(p);
        oracle.loadKeccak256PreimagePart(104, p); // the last 4 bytes of the 108
        _insn(PC, 0x00000073);
        _poke(DATA, 0x5555555555555555, 8);
        S memory s = _readState(key, 104, DATA, 32);
        bytes32 post = _run(s, _at(PC, DATA));
        for (uint256 k = 0; k < 4; ++k) {
            _setByte(DATA + k, uint8(p[96 + k]));
        }
        S memory e = _next(s, 4);
        e.regs[10] = 4;
        e.offset = 108;
        _expect(post, e);
        // at the end: 0, no memory proof
        s = _readState(key, 108, DATA, 32);
        e = _next(s, 4);
        e.regs[10] = 0;
        _expect(_run(s, _at(PC)), e);
        // a part never loaded
        s = _readState(key, 50, DATA, 32);
        (bytes memory st, bytes memory proof) = _prepare(s, _at(PC, DATA));
        vm.expectRevert(
            abi.encodeWithSelector(IPreimageOracle.PreimagePartNotLoaded.selector, key, 50)
        );
        rv.step(st, proof, CTX);
    }

    function test_read_fd5_local_key_is_localized_per_dispute() public {
        bytes32 key = PreimageKeys.localKey(3);
        bytes32 word = bytes32(uint256(0x626f6f74) << 224); // "boot"
        bytes32 localized = oracle.loadLocalData(3, CTX, word, 4, 0);
        assertEq(localized, PreimageKeys.localize(key, address(this), CTX));
        _insn(PC, 0x00000073);
        S memory s = _readState(key, 0, DATA, 32);
        bytes32 post = _run(s, _at(PC, DATA));
        // the stream: length 4 as 8 bytes, then "boot"
        _setByte(DATA + 7, 4);
        _poke(DATA + 8, 0x746f6f62, 4);
        S memory e = _next(s, 4);
        e.regs[10] = 12;
        e.offset = 12;
        _expect(post, e);
        assertEq(e.key, key, "the state keeps the program's key");
        // another caller, or another context, reads another dispute's key: never loaded
        _poke(DATA, 0, 12);
        (bytes memory st, bytes memory proof) = _prepare(s, _at(PC, DATA));
        address other = makeAddr("other game");
        vm.prank(other);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPreimageOracle.PreimagePartNotLoaded.selector,
                PreimageKeys.localize(key, other, CTX),
                0
            )
        );
        rv.step(st, proof, CTX);
        vm.expectRevert(
            abi.encodeWithSelector(
                IPreimageOracle.PreimagePartNotLoaded.selector,
                PreimageKeys.localize(key, address(this), bytes32(0)),
                0
            )
        );
        rv.step(st, proof, bytes32(0));
    }

    // ---- C ----

    /// @dev Runs the compressed `c` at PC with x8..x15 = 0x10 * r, sp = DATA + 0x40, and
    ///      requires register `r` to be `want` and pc to be `pc`.
    function _c(uint256 c, uint256 r, uint256 want, uint256 pc, string memory what) internal {
        S memory s = _state(PC);
        for (uint256 k = 8; k < 16; ++k) {
            s.regs[k] = uint32(0x10 * k);
        }
        s.regs[2] = uint32(DATA + 0x40);
        s.regs[1] = 0x4000;
        _insn16(PC, c);
        bool touches = c == 0x4188 || c == 0x4502; // c.lw, c.lwsp read memory
        bytes32 post = _run(s, touches ? _at(PC, c == 0x4188 ? 0xb0 : DATA + 0x40) : _at(PC));
        S memory e = _next(s, 2);
        e.regs[r] = uint32(want);
        e.pc = uint32(pc);
        _expect(post, e);
        assertTrue(true, what);
    }

    function test_compressed_forms() public {
        uint256 n = PC + 2;
        _c(0x0001, 0, 0, n, "c.nop");
        _c(0x1141, 2, DATA + 0x30, n, "c.addi sp,-16");
        _c(0x4501, 10, 0, n, "c.li a0,0");
        _c(0x852e, 10, 0xb0, n, "c.mv a0,a1");
        _c(0x952e, 10, 0xa0 + 0xb0, n, "c.add a0,a1");
        _c(0x0028, 10, DATA + 0x48, n, "c.addi4spn a0,sp,8");
        _c(0x8d0d, 10, 0xa0 - 0xb0 + 2 ** 32, n, "c.sub a0,a1");
        _c(0x8d2d, 10, 0xa0 ^ 0xb0, n, "c.xor a0,a1");
        _c(0x8d4d, 10, 0xa0 | 0xb0, n, "c.or a0,a1");
        _c(0x8d6d, 10, 0xa0 & 0xb0, n, "c.and a0,a1");
        _c(0x8905, 10, 0, n, "c.andi a0,1");
        _c(0x8105, 10, 0x50, n, "c.srli a0,1");
        _c(0x8505, 10, 0x50, n, "c.srai a0,1");
        _c(0x0506, 10, 0x140, n, "c.slli a0,1");
        _c(0x6505, 10, 0x1000, n, "c.lui a0,1");
        _c(0x6141, 2, DATA + 0x50, n, "c.addi16sp sp,16");
        _c(0x8082, 0, 0, 0x4000, "c.jr ra");
        _c(0x9502, 1, n, 0xa0, "c.jalr a0");
        _c(0xa021, 0, 0, PC + 8, "c.j +8");
        _c(0xbff5, 0, 0, PC - 4, "c.j -4");
        _c(0x2021, 1, n, PC + 8, "c.jal +8");
        _c(0xc501, 0, 0, n, "c.beqz a0: not taken");
        _c(0xe501, 0, 0, PC + 8, "c.bnez a0: taken");
        _poke(0xb0, 0xdeadbeef, 4);
        _c(0x4188, 10, 0xdeadbeef, n, "c.lw a0,0(a1)");
        _poke(DATA + 0x40, 0x01234567, 4);
        _c(0x4502, 10, 0x01234567, n, "c.lwsp a0,0(sp)");
    }

    function test_compressed_stores_and_branch_taken() public {
        S memory s = _state(PC);
        s.regs[10] = uint32(DATA);
        s.regs[11] = 0x77665544;
        s.regs[2] = uint32(DATA + 0x20);
        _insn16(PC, 0xc10c); // c.sw a1,0(a0)
        bytes32 post = _run(s, _at(PC, DATA));
        _poke(DATA, 0x77665544, 4);
        _expect(post, _next(s, 2));
        _insn16(PC, 0xc02a); // c.swsp a0,0(sp)
        post = _run(s, _at(PC, DATA + 0x20));
        _poke(DATA + 0x20, DATA, 4);
        _expect(post, _next(s, 2));
        // c.srai a0,1 and c.srli a0,1 of a negative a0
        s.regs[10] = 0x80000010;
        _insn16(PC, 0x8505);
        S memory sr = _next(s, 2);
        sr.regs[10] = 0xc0000008;
        _expect(_run(s, _at(PC)), sr);
        _insn16(PC, 0x8105);
        sr.regs[10] = 0x40000008;
        _expect(_run(s, _at(PC)), sr);
        // c.beqz a0 taken
        s.regs[10] = 0;
        _insn16(PC, 0xc501);
        S memory e = _next(s, 2);
        e.pc = uint32(PC + 8);
        _expect(_run(s, _at(PC)), e);
    }

    function test_compressed_illegal_and_ebreak_panic() public {
        uint256[10] memory bad = [
            uint256(0x0000), // all zero
            0x2000, // c.fld: no D
            0x8002, // c.jr x0: reserved
            0x6101, // c.addi16sp 0
            0x6501, // c.lui a0, 0
            0x4002, // c.lwsp x0
            0x9105, // c.srli with shamt[5]
            0x1506, // c.slli with shamt[5]
            0x9d2d, // c.subw: RV64
            0x9002 // c.ebreak
        ];
        for (uint256 k = 0; k < bad.length; ++k) {
            S memory s = _state(PC);
            _insn16(PC, bad[k]);
            bytes32 post = _run(s, _at(PC));
            S memory e = _panicked(s);
            e.memRoot = _root();
            assertEq(post, _hash(e), "illegal compressed");
        }
    }

    function test_instruction_straddling_two_leaves() public {
        uint256 pc = PC + 30;
        S memory s = _state(pc);
        s.regs[5] = 41;
        _insn(pc, _i(1, 5, 0, 5, OP_IMM)); // addi x5, x5, 1 across leaves 0x80 and 0x81
        S memory e = _next(s, 4);
        e.regs[5] = 42;
        _expect(_run(s, _at(pc, pc + 2)), e);
        (bytes memory st, bytes memory proof) = _prepare(s, _at(pc));
        vm.expectRevert(abi.encodeWithSelector(RiscvStep.MissingMemoryProof.selector, 1));
        rv.step(st, proof, CTX);
        // with a load too: three proofs
        s.regs[6] = uint32(DATA);
        _poke(DATA, 0x99, 1);
        _insn(pc, _i(0, 6, 4, 7, 0x03)); // lbu x7, 0(x6)
        e = _next(s, 4);
        e.regs[7] = 0x99;
        _expect(_run(s, _at(pc, pc + 2, DATA)), e);
        // a compressed instruction at pc % 32 == 30 needs one leaf
        _insn16(pc, 0x0001);
        e = _next(s, 2);
        _expect(_run(s, _at(pc)), e);
        // at the top of memory the next leaf is leaf 0
        s = _state(0xfffffffe);
        s.regs[5] = 1;
        _insn(0xfffffffe, _i(1, 5, 0, 5, OP_IMM));
        e = _next(s, 4);
        e.regs[5] = 2;
        assertEq(e.pc, 2, "pc wraps");
        _expect(_run(s, _at(0xfffffffe, 0)), e);
    }

    // ---- gas ----

    /// @dev Steps with the contract, the oracle and their storage cold, as in a transaction of
    ///      its own; keeps the gas.
    function _coldRun(S memory s, uint256[] memory addrs) internal returns (uint256) {
        CoolVm(address(vm)).cool(address(rv));
        CoolVm(address(vm)).cool(address(oracle));
        _run(s, addrs);
        return lastGas;
    }

    /// @dev Gas of one step of each class, the call from this contract (execution, not the
    ///      transaction's 21,000 and calldata), everything cold (`-vv` prints them).
    function test_gas_per_instruction_class() public {
        bytes memory p = _preimage();
        oracle.loadKeccak256PreimagePart(0, p);
        string[14] memory names = [
            "addi",
            "add",
            "mul",
            "divu",
            "beq",
            "jal",
            "lw",
            "sw",
            "amoadd.w",
            "c.addi",
            "straddling addi",
            "write fd 6",
            "read fd 5",
            "exit"
        ];
        uint256[14] memory gas;
        S memory s = _state(PC);
        s.regs[5] = uint32(DATA);
        s.regs[6] = 3;
        uint256[6] memory simple = [
            _i(5, 5, 0, 7, OP_IMM),
            _r(0, 6, 5, 0, 7, OP),
            _r(1, 6, 5, 0, 7, OP),
            _r(1, 6, 5, 5, 7, OP),
            _b(8, 6, 5, 0),
            _j(8, 1)
        ];
        for (uint256 k = 0; k < 6; ++k) {
            _insn(PC, simple[k]);
            gas[k] = _coldRun(s, _at(PC));
        }
        _insn(PC, _i(4, 5, 2, 7, 0x03));
        gas[6] = _coldRun(s, _at(PC, DATA));
        _insn(PC, _s(4, 6, 5, 2));
        gas[7] = _coldRun(s, _at(PC, DATA));
        _insn(PC, _amo(0, 6, 5, 7));
        gas[8] = _coldRun(s, _at(PC, DATA));
        _insn16(PC, 0x1141);
        gas[9] = _coldRun(s, _at(PC));
        S memory st = _state(PC + 30);
        _insn(PC + 30, _i(1, 5, 0, 5, OP_IMM));
        gas[10] = _coldRun(st, _at(PC + 30, PC + 32));
        // syscalls: the ecall straddling too (the most proofs a syscall takes)
        _insn(PC + 30, 0x00000073);
        st.regs[17] = 64;
        st.regs[10] = 6;
        st.regs[11] = uint32(DATA);
        st.regs[12] = 32;
        gas[11] = _coldRun(st, _at(PC + 30, PC + 32, DATA));
        st = _readState(_keccakKey(p), 0, DATA + 4, 28);
        st.pc = uint32(PC + 30);
        gas[12] = _coldRun(st, _at(PC + 30, PC + 32, DATA));
        st.regs[17] = 93;
        gas[13] = _coldRun(st, _at(PC + 30, PC + 32));
        uint256 worst;
        for (uint256 k = 0; k < 14; ++k) {
            console.log(names[k], gas[k]);
            if (gas[k] > worst) worst = gas[k];
        }
        // median of the 14: the mean of the 7th and 8th smallest
        for (uint256 a = 0; a < 14; ++a) {
            for (uint256 b = a + 1; b < 14; ++b) {
                if (gas[b] < gas[a]) (gas[a], gas[b]) = (gas[b], gas[a]);
            }
        }
        console.log("median", (gas[6] + gas[7]) / 2);
        console.log("worst", worst);
        assertLt(worst, GAS_LIMIT, "every class under 1,000,000 gas");
    }
}
