// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "../utils/Test.sol";
import {PreimageOracle} from "../../src/fault/PreimageOracle.sol";
import {RiscvStep} from "../../src/fault/RiscvStep.sol";

/// @dev What the one-step tests share: the machine state as a struct and its encoding and hash
///      (written from docs/fault-proofs.md, not from the contract), a sparse memory (a few
///      leaves that are not zero; everything else is the zero tree Z(h)) with its root and
///      memory proofs, instruction encoders, and a runner that measures each step's gas.
abstract contract RiscvTestBase is Test {
    struct S {
        bytes32 memRoot;
        bytes32 key;
        uint32 offset;
        uint32 pc;
        uint8 code;
        bool exited;
        uint64 step;
        uint32[32] regs;
    }

    uint256 internal constant GAS_LIMIT = 1_000_000;
    bytes32 internal constant CTX = keccak256("loft dispute 1");

    PreimageOracle internal oracle;
    RiscvStep internal rv;

    /// @dev Z(h): the root of an all-zero subtree of height h.
    bytes32[28] internal zero;
    /// @dev Leaves written (by index), and their bytes.
    uint256[] internal leaves;
    mapping(uint256 => bytes32) internal leafOf;
    mapping(uint256 => bool) internal listed;

    /// @dev Gas of the last `_run`.
    uint256 internal lastGas;

    function setUp() public virtual {
        oracle = new PreimageOracle();
        rv = new RiscvStep(oracle);
        for (uint256 h = 1; h <= 27; ++h) {
            zero[h] = keccak256(abi.encodePacked(zero[h - 1], zero[h - 1]));
        }
    }

    // ---- the state ----

    function _state(uint256 pc) internal pure returns (S memory s) {
        s.pc = uint32(pc);
    }

    function _copy(S memory s) internal pure returns (S memory) {
        return abi.decode(abi.encode(s), (S));
    }

    /// @dev The state after an instruction of `len` bytes that only moves pc on.
    function _next(S memory s, uint256 len) internal pure returns (S memory e) {
        e = _copy(s);
        e.pc = uint32(uint256(s.pc) + len);
        e.step = s.step + 1;
    }

    /// @dev The state after a panic: exited with 0xff, pc where it was.
    function _panicked(S memory s) internal pure returns (S memory e) {
        e = _copy(s);
        e.exited = true;
        e.code = 0xff;
        e.step = s.step + 1;
    }

    function _enc(S memory s) internal pure returns (bytes memory b) {
        b = abi.encodePacked(
            s.memRoot, s.key, s.offset, s.pc, s.code, s.exited ? uint8(1) : uint8(0), s.step
        );
        for (uint256 r = 0; r < 32; ++r) {
            b = abi.encodePacked(b, s.regs[r]);
        }
        assertEq(b.length, 210, "state encoding");
    }

    function _hash(S memory s) internal pure returns (bytes32) {
        uint256 status = !s.exited ? 3 : s.code == 0 ? 0 : s.code == 1 ? 1 : 2;
        uint256 h = uint256(keccak256(_enc(s)));
        return bytes32((h & (type(uint256).max >> 8)) | (status << 248));
    }

    // ---- memory ----

    function _setByte(uint256 addr, uint256 b) internal {
        addr &= 0xffffffff;
        uint256 l = addr >> 5;
        if (!listed[l]) {
            listed[l] = true;
            leaves.push(l);
        }
        uint256 shift = 8 * (31 - (addr & 31));
        leafOf[l] =
            bytes32((uint256(leafOf[l]) & ~(uint256(0xff) << shift)) | ((b & 0xff) << shift));
    }

    /// @dev Writes the low `n` bytes of `v` at `addr`, little-endian.
    function _poke(uint256 addr, uint256 v, uint256 n) internal {
        for (uint256 k = 0; k < n; ++k) {
            _setByte(addr + k, v >> (8 * k));
        }
    }

    function _peek(uint256 addr, uint256 n) internal view returns (uint256 v) {
        for (uint256 k = 0; k < n; ++k) {
            uint256 a = (addr + k) & 0xffffffff;
            v |= uint256(uint8(leafOf[a >> 5][a & 31])) << (8 * k);
        }
    }

    function _insn(uint256 pc, uint256 i) internal {
        _poke(pc, i, 4);
    }

    function _insn16(uint256 pc, uint256 c) internal {
        _poke(pc, c, 2);
    }

    function _root() internal view returns (bytes32) {
        return _node(27, 0);
    }

    /// @dev The node at height `h`, index `index` (leaves `[index << h, (index + 1) << h)`).
    function _node(uint256 h, uint256 index) internal view returns (bytes32) {
        bool any;
        for (uint256 k = 0; k < leaves.length; ++k) {
            if (leaves[k] >> h == index) {
                any = true;
                break;
            }
        }
        if (!any) return zero[h];
        if (h == 0) return leafOf[index];
        return keccak256(abi.encodePacked(_node(h - 1, 2 * index), _node(h - 1, 2 * index + 1)));
    }

    /// @dev The 896-byte memory proof of the leaf holding `addr`.
    function _proof(uint256 addr) internal view returns (bytes memory p) {
        uint256 l = (addr & 0xffffffff) >> 5;
        p = abi.encodePacked(leafOf[l]);
        for (uint256 h = 0; h < 27; ++h) {
            p = abi.encodePacked(p, _node(h, (l >> h) ^ 1));
        }
    }

    function _proofs(uint256[] memory addrs) internal view returns (bytes memory p) {
        for (uint256 k = 0; k < addrs.length; ++k) {
            p = abi.encodePacked(p, _proof(addrs[k]));
        }
    }

    function _at(uint256 a) internal pure returns (uint256[] memory r) {
        r = new uint256[](1);
        r[0] = a;
    }

    function _at(uint256 a, uint256 b) internal pure returns (uint256[] memory r) {
        r = new uint256[](2);
        (r[0], r[1]) = (a, b);
    }

    function _at(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory r) {
        r = new uint256[](3);
        (r[0], r[1], r[2]) = (a, b, c);
    }

    // ---- running ----

    /// @dev Steps `s` (its memRoot set from the memory) with the proofs of `addrs`; checks and
    ///      keeps the gas.
    function _run(S memory s, uint256[] memory addrs) internal returns (bytes32 post) {
        s.memRoot = _root();
        bytes memory st = _enc(s);
        bytes memory proof = _proofs(addrs);
        uint256 g = gasleft();
        post = rv.step(st, proof, CTX);
        lastGas = g - gasleft();
        assertLt(lastGas, GAS_LIMIT, "a step costs less than 1,000,000 gas");
    }

    /// @dev The state and proof bytes for a call expected to revert.
    function _prepare(S memory s, uint256[] memory addrs)
        internal
        view
        returns (bytes memory st, bytes memory proof)
    {
        s.memRoot = _root();
        st = _enc(s);
        proof = _proofs(addrs);
    }

    /// @dev Requires `post` to be the hash of `e`, its memRoot the memory's now.
    function _expect(bytes32 post, S memory e) internal view {
        e.memRoot = _root();
        assertEq(post, _hash(e), "post-state hash");
    }

    function assertLt(uint256 a, uint256 b, string memory err) internal pure {
        assertTrue(a < b, err);
    }

    // ---- instructions ----

    function _r(uint256 f7, uint256 rs2, uint256 rs1, uint256 f3, uint256 rd, uint256 op)
        internal
        pure
        returns (uint256)
    {
        return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
    }

    function _i(int256 imm, uint256 rs1, uint256 f3, uint256 rd, uint256 op)
        internal
        pure
        returns (uint256)
    {
        return ((uint256(imm) & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
    }

    function _s(int256 imm, uint256 rs2, uint256 rs1, uint256 f3) internal pure returns (uint256) {
        uint256 u = uint256(imm) & 0xfff;
        return ((u >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((u & 31) << 7) | 0x23;
    }

    function _b(int256 imm, uint256 rs2, uint256 rs1, uint256 f3) internal pure returns (uint256) {
        uint256 u = uint256(imm) & 0x1fff;
        return (((u >> 12) & 1) << 31) | (((u >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15)
            | (f3 << 12) | (((u >> 1) & 0xf) << 8) | (((u >> 11) & 1) << 7) | 0x63;
    }

    function _j(int256 imm, uint256 rd) internal pure returns (uint256) {
        uint256 u = uint256(imm) & 0x1fffff;
        return (((u >> 20) & 1) << 31) | (((u >> 1) & 0x3ff) << 21) | (((u >> 11) & 1) << 20)
            | (((u >> 12) & 0xff) << 12) | (rd << 7) | 0x6f;
    }

    function _amo(uint256 funct5, uint256 rs2, uint256 rs1, uint256 rd)
        internal
        pure
        returns (uint256)
    {
        return (funct5 << 27) | (rs2 << 20) | (rs1 << 15) | (2 << 12) | (rd << 7) | 0x2f;
    }
}
