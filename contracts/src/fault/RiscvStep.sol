// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IPreimageOracle, PreimageKeys} from "./IPreimageOracle.sol";
import {RiscvDecode} from "./RiscvDecode.sol";
import {RiscvMemory} from "./RiscvMemory.sol";

/// @title RiscvStep
/// @notice One instruction of the fault-proof machine on L1 (docs/fault-proofs.md, "The
///         machine" to "One step"): an RV32IMAC hart whose state is 210 bytes and whose memory
///         is a Merkle root. `step` executes the instruction at `pc` of a state and returns the
///         hash of the next one, bit for bit what the Rust VM (`loft-fault-vm`,
///         `Machine::prove_step`) computes.
/// @dev State (big-endian): memRoot 0..32, preimageKey 32..64, preimageOffset 64..68 (u32),
///      pc 68..72, exitCode 72, exited 73 (0 or 1), step 74..82 (u64), x0..x31 82..210 (u32
///      each, x0 = 0). It is copied to memory once and updated there in place, so the post-state
///      hash is one keccak over the same bytes.
///
///      Proofs: `proof` is the memory proofs (896 bytes each, `RiscvMemory`) of the leaves the
///      instruction touches, in order: the leaf holding `pc` (and the next leaf when the
///      instruction's bytes run past this leaf's end: a 32-bit one at `pc % 32 == 30`), then
///      the leaf of a load, store or AMO address, or of a fd 5 read or fd 6 write (none when
///      those move 0 bytes). Every proof is checked against the pre-state's memRoot (no
///      instruction touches a leaf after writing one); a write recomputes the root along the
///      written leaf's siblings. `proof` must be exactly those proofs: a missing or invalid one,
///      or any byte beyond the last one needed (an exited state needs none), reverts.
contract RiscvStep {
    /// @notice Bytes of an encoded state.
    uint256 public constant STATE_BYTES = 210;

    // offsets of the state's fields
    uint256 private constant MEM_ROOT = 0;
    uint256 private constant PREIMAGE_KEY = 32;
    uint256 private constant PREIMAGE_OFFSET = 64;
    uint256 private constant PC = 68;
    uint256 private constant EXIT_CODE = 72;
    uint256 private constant EXITED = 73;
    uint256 private constant STEP = 74;
    uint256 private constant REGS = 82;

    uint256 private constant MASK32 = 0xffffffff;
    /// @dev The exit code of a panic: ebreak, an illegal instruction, a misaligned access.
    uint256 private constant PANIC_EXIT = 0xff;

    // syscalls (Linux's RISC-V numbers), file descriptors, and errors as a0 holds them
    uint256 private constant SYS_READ = 63;
    uint256 private constant SYS_WRITE = 64;
    uint256 private constant SYS_EXIT = 93;
    uint256 private constant SYS_EXIT_GROUP = 94;
    uint256 private constant FD_STDOUT = 1;
    uint256 private constant FD_STDERR = 2;
    uint256 private constant FD_HINT_READ = 3;
    uint256 private constant FD_HINT_WRITE = 4;
    uint256 private constant FD_PREIMAGE_READ = 5;
    uint256 private constant FD_PREIMAGE_WRITE = 6;
    uint256 private constant EBADF = 0xfffffff7; // -9
    uint256 private constant ENOSYS = 0xffffffda; // -38

    /// @notice Where fd 5 reads preimages.
    IPreimageOracle public immutable oracle;

    /// @notice The state is not 210 bytes.
    error InvalidStateLength(uint256 length);
    /// @notice `exited` is neither 0 nor 1, or `x0` is not 0.
    error NonCanonicalState();
    /// @notice The step needs memory proof `index` (from 0) and `proof` ends before it.
    error MissingMemoryProof(uint256 index);
    /// @notice Memory proof `index` does not lead to the pre-state's memRoot for the leaf the
    ///         step touches.
    error InvalidMemoryProof(uint256 index);
    /// @notice `proof` has bytes beyond the `used` the step needs.
    error UnusedProofBytes(uint256 used, uint256 length);

    /// @dev What the executing functions share, in memory (not on the stack: it is deep).
    struct Ctx {
        uint256 s; // memory address of the state's bytes, updated in place
        bytes32 root; // the pre-state's memRoot: every proof is checked against it
        uint256 proofAt; // calldata offset of the proofs
        uint256 proofLen;
        uint256 used; // memory proofs consumed
        bytes32 localContext;
    }

    constructor(IPreimageOracle oracle_) {
        oracle = oracle_;
    }

    /// @notice Executes the instruction at `pc` of `stateData` and returns the hash of the
    ///         state after it (`keccak256(state)` with its first byte replaced by the status:
    ///         0 exited with code 0, 1 with code 1, 2 with another code, 3 running). An exited
    ///         state steps to itself.
    /// @param stateData the 210-byte pre-state
    /// @param proof the memory proofs the instruction needs, in order (see the contract's notes)
    /// @param localContext the dispute's context: local preimage keys (type 1) are read under
    ///        `PreimageKeys.localize(key, msg.sender, localContext)`
    function step(bytes calldata stateData, bytes calldata proof, bytes32 localContext)
        external
        view
        returns (bytes32 postStateHash)
    {
        if (stateData.length != STATE_BYTES) revert InvalidStateLength(stateData.length);
        uint256 s;
        assembly ("memory-safe") {
            s := mload(0x40)
            calldatacopy(s, stateData.offset, STATE_BYTES)
            // room for a 32-byte read-modify-write of the last register
            mstore(add(s, STATE_BYTES), 0)
            mstore(0x40, add(s, 256))
        }
        uint256 exited = _byte(s, EXITED);
        if (exited > 1 || _get32(s, REGS) != 0) revert NonCanonicalState();
        if (exited == 1) {
            if (proof.length != 0) revert UnusedProofBytes(0, proof.length);
            return _hash(s);
        }

        uint256 proofAt;
        assembly ("memory-safe") {
            proofAt := proof.offset
        }
        Ctx memory c = Ctx({
            s: s,
            root: _get256(s, MEM_ROOT),
            proofAt: proofAt,
            proofLen: proof.length,
            used: 0,
            localContext: localContext
        });
        (bool ok, uint256 insn, uint256 len) = _fetch(c, _get32(s, PC));
        if (ok) _execute(c, insn, len);
        else _stop(s, PANIC_EXIT);
        unchecked {
            // u64, as the Rust VM's counter (2^64 steps are out of reach)
            uint256 p = s + STEP;
            uint256 count = (_get256At(p) >> 192) + 1;
            _put(p, 64, count);
        }
        uint256 used = c.used * RiscvMemory.PROOF_BYTES;
        if (used != proof.length) revert UnusedProofBytes(used, proof.length);
        return _hash(s);
    }

    // ---- fetch and execute ----

    /// @dev The instruction at `pc`: 16 bits, expanded if compressed (`ok` false if illegal),
    ///      or 32 bits, whose upper half may lie in the next leaf.
    function _fetch(Ctx memory c, uint256 pc)
        private
        pure
        returns (bool ok, uint256 insn, uint256 len)
    {
        (bytes32 leaf,) = _proven(c, pc);
        uint256 pos = pc & 31;
        bytes32 next;
        uint256 low;
        if (pos == 31) {
            // an odd pc (never reached from an even entry point) whose halfword straddles
            next = _provenLeaf(c, pc + 1);
            low = RiscvMemory.readLE(leaf, 31, 1) | (RiscvMemory.readLE(next, 0, 1) << 8);
        } else {
            low = RiscvMemory.readLE(leaf, pos, 2);
        }
        if (low & 3 != 3) {
            (ok, insn) = RiscvDecode.expand(low);
            return (ok, insn, 2);
        }
        uint256 high;
        if (pos <= 28) {
            high = RiscvMemory.readLE(leaf, pos + 2, 2);
        } else if (pos == 30) {
            next = _provenLeaf(c, pc + 2);
            high = RiscvMemory.readLE(next, 0, 2);
        } else if (pos == 29) {
            next = _provenLeaf(c, pc + 3);
            high = RiscvMemory.readLE(leaf, 31, 1) | (RiscvMemory.readLE(next, 0, 1) << 8);
        } else {
            high = RiscvMemory.readLE(next, 1, 2);
        }
        return (true, low | (high << 16), 4);
    }

    /// @dev Executes the 32-bit `i` (`len` bytes at pc). An instruction that is not one of
    ///      RV32IMA's, ebreak, a CSR access and a misaligned access stop the machine with
    ///      `PANIC_EXIT`, pc unchanged; everything else moves pc on (ecall exit too).
    function _execute(Ctx memory c, uint256 i, uint256 len) private view {
        uint256 s = c.s;
        uint256 pc = _get32(s, PC);
        uint256 next = (pc + len) & MASK32;
        uint256 opcode = i & 0x7f;
        uint256 rd = RiscvDecode.bits(i, 11, 7);
        uint256 funct3 = RiscvDecode.bits(i, 14, 12);
        bool ok = true;
        if (opcode == 0x37) {
            _setReg(s, rd, i & 0xfffff000); // lui
        } else if (opcode == 0x17) {
            _setReg(s, rd, (pc + (i & 0xfffff000)) & MASK32); // auipc
        } else if (opcode == 0x6f) {
            _setReg(s, rd, next); // jal
            next = (pc + RiscvDecode.immJ(i)) & MASK32;
        } else if (opcode == 0x67 && funct3 == 0) {
            // jalr: the target from rs1 before rd is written (they may be the same)
            uint256 target =
                (_reg(s, RiscvDecode.bits(i, 19, 15)) + RiscvDecode.immI(i)) & 0xfffffffe;
            _setReg(s, rd, next);
            next = target;
        } else if (opcode == 0x63) {
            bool taken;
            (ok, taken) = _branch(s, i, funct3);
            if (taken) next = (pc + RiscvDecode.immB(i)) & MASK32;
        } else if (opcode == 0x03) {
            ok = _load(c, i, rd, funct3);
        } else if (opcode == 0x23) {
            ok = _store(c, i, funct3);
        } else if (opcode == 0x13) {
            ok = _opImm(s, i, rd, funct3);
        } else if (opcode == 0x33) {
            ok = _op(s, i, rd, funct3);
        } else if (opcode == 0x0f && funct3 <= 1) {
            ok = true; // fence, fence.i: one hart, no caches
        } else if (i == 0x73) {
            _syscall(c);
        } else if (opcode == 0x2f && funct3 == 2) {
            ok = _amo(c, i, rd);
        } else {
            ok = false; // ebreak, CSRs, anything else
        }
        if (ok) _put(s + PC, 32, next);
        else _stop(s, PANIC_EXIT);
    }

    function _branch(uint256 s, uint256 i, uint256 funct3)
        private
        pure
        returns (bool ok, bool taken)
    {
        uint256 a = _reg(s, RiscvDecode.bits(i, 19, 15));
        uint256 b = _reg(s, RiscvDecode.bits(i, 24, 20));
        if (funct3 == 0) return (true, a == b);
        if (funct3 == 1) return (true, a != b);
        if (funct3 == 4) return (true, _signed(a) < _signed(b));
        if (funct3 == 5) return (true, _signed(a) >= _signed(b));
        if (funct3 == 6) return (true, a < b);
        if (funct3 == 7) return (true, a >= b);
        return (false, false);
    }

    /// @dev Loads; a misaligned halfword or word, or an unknown width, stops the machine
    ///      before any memory is touched.
    function _load(Ctx memory c, uint256 i, uint256 rd, uint256 funct3)
        private
        pure
        returns (bool)
    {
        uint256 addr =
            (_reg(c.s, RiscvDecode.bits(i, 19, 15)) + RiscvDecode.immI(i)) & MASK32;
        uint256 n;
        if (funct3 == 0 || funct3 == 4) {
            n = 1;
        } else if (funct3 == 1 || funct3 == 5) {
            if (addr & 1 != 0) return false;
            n = 2;
        } else if (funct3 == 2) {
            if (addr & 3 != 0) return false;
            n = 4;
        } else {
            return false;
        }
        (bytes32 leaf,) = _proven(c, addr);
        uint256 v = RiscvMemory.readLE(leaf, addr & 31, n);
        if (funct3 == 0) v = RiscvDecode.sext(v, 8);
        else if (funct3 == 1) v = RiscvDecode.sext(v, 16);
        _setReg(c.s, rd, v);
        return true;
    }

    function _store(Ctx memory c, uint256 i, uint256 funct3) private pure returns (bool) {
        uint256 addr = (_reg(c.s, RiscvDecode.bits(i, 19, 15)) + RiscvDecode.immS(i)) & MASK32;
        uint256 n;
        if (funct3 == 0) {
            n = 1;
        } else if (funct3 == 1 && addr & 1 == 0) {
            n = 2;
        } else if (funct3 == 2 && addr & 3 == 0) {
            n = 4;
        } else {
            return false;
        }
        (bytes32 leaf, uint256 pos) = _proven(c, addr);
        uint256 v = _reg(c.s, RiscvDecode.bits(i, 24, 20));
        _write(c, pos, addr, RiscvMemory.writeLE(leaf, addr & 31, n, v));
        return true;
    }

    function _opImm(uint256 s, uint256 i, uint256 rd, uint256 funct3) private pure returns (bool) {
        uint256 a = _reg(s, RiscvDecode.bits(i, 19, 15));
        uint256 imm = RiscvDecode.immI(i);
        uint256 v;
        if (funct3 == 0) {
            v = (a + imm) & MASK32;
        } else if (funct3 == 2) {
            v = _signed(a) < _signed(imm) ? 1 : 0;
        } else if (funct3 == 3) {
            v = a < imm ? 1 : 0;
        } else if (funct3 == 4) {
            v = a ^ imm;
        } else if (funct3 == 6) {
            v = a | imm;
        } else if (funct3 == 7) {
            v = a & imm;
        } else {
            // shifts: imm[11:5] is the funct7 (0, or 0x20 for srai), imm[4:0] the amount
            bool ok;
            (ok, v) = _alu(i >> 25, funct3, a, RiscvDecode.bits(i, 24, 20));
            if (!ok) return false;
        }
        _setReg(s, rd, v);
        return true;
    }

    function _op(uint256 s, uint256 i, uint256 rd, uint256 funct3) private pure returns (bool) {
        uint256 a = _reg(s, RiscvDecode.bits(i, 19, 15));
        uint256 b = _reg(s, RiscvDecode.bits(i, 24, 20));
        uint256 funct7 = i >> 25;
        uint256 v;
        if (funct7 == 1) {
            v = _mulDiv(funct3, a, b);
        } else {
            bool ok;
            (ok, v) = _alu(funct7, funct3, a, b);
            if (!ok) return false;
        }
        _setReg(s, rd, v);
        return true;
    }

    /// @dev RV32I register-register (`funct7` 0 or 0x20); `ok` false if not an instruction.
    function _alu(uint256 funct7, uint256 funct3, uint256 a, uint256 b)
        private
        pure
        returns (bool ok, uint256 v)
    {
        uint256 sh = b & 31;
        if (funct7 == 0) {
            if (funct3 == 0) return (true, (a + b) & MASK32);
            if (funct3 == 1) return (true, (a << sh) & MASK32);
            if (funct3 == 2) return (true, _signed(a) < _signed(b) ? 1 : 0);
            if (funct3 == 3) return (true, a < b ? 1 : 0);
            if (funct3 == 4) return (true, a ^ b);
            if (funct3 == 5) return (true, a >> sh);
            if (funct3 == 6) return (true, a | b);
            return (true, a & b);
        }
        if (funct7 == 0x20) {
            unchecked {
                if (funct3 == 0) return (true, (a - b) & MASK32);
            }
            if (funct3 == 5) {
                assembly ("memory-safe") {
                    v := and(sar(sh, signextend(3, a)), MASK32)
                }
                return (true, v);
            }
        }
        return (false, 0);
    }

    /// @dev RV32M; division by zero and overflow as the spec says (`x / 0 = -1`, `x % 0 = x`,
    ///      `MIN / -1 = MIN`, `MIN % -1 = 0`: sign-extended to 256 bits none overflows).
    function _mulDiv(uint256 funct3, uint256 a, uint256 b) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            let sa := signextend(3, a)
            let sb := signextend(3, b)
            switch funct3
            case 0 { v := and(mul(a, b), MASK32) }
            case 1 { v := and(sar(32, mul(sa, sb)), MASK32) } // mulh
            case 2 { v := and(sar(32, mul(sa, b)), MASK32) } // mulhsu
            case 3 { v := and(shr(32, mul(a, b)), MASK32) } // mulhu
            case 4 {
                switch b
                case 0 { v := MASK32 }
                default { v := and(sdiv(sa, sb), MASK32) }
            }
            case 5 {
                switch b
                case 0 { v := MASK32 }
                default { v := div(a, b) }
            }
            case 6 {
                switch b
                case 0 { v := a }
                default { v := and(smod(sa, sb), MASK32) }
            }
            default {
                switch b
                case 0 { v := a }
                default { v := mod(a, b) }
            }
        }
    }

    /// @dev RV32A (word only; one hart and no other writer, so `sc.w` always succeeds). A
    ///      misaligned address stops the machine untouched; any other AMO touches its leaf
    ///      first, an unknown one (or `lr.w` with rs2 != 0) then stops it, as the Rust VM does.
    function _amo(Ctx memory c, uint256 i, uint256 rd) private pure returns (bool) {
        uint256 s = c.s;
        uint256 addr = _reg(s, RiscvDecode.bits(i, 19, 15));
        if (addr & 3 != 0) return false;
        uint256 b = _reg(s, RiscvDecode.bits(i, 24, 20));
        uint256 funct5 = i >> 27;
        (bytes32 leaf, uint256 pos) = _proven(c, addr);
        uint256 off = addr & 31;
        if (funct5 == 0x02 && RiscvDecode.bits(i, 24, 20) == 0) {
            _setReg(s, rd, RiscvMemory.readLE(leaf, off, 4)); // lr.w
            return true;
        }
        if (funct5 == 0x03) {
            _write(c, pos, addr, RiscvMemory.writeLE(leaf, off, 4, b)); // sc.w
            _setReg(s, rd, 0);
            return true;
        }
        uint256 t = RiscvMemory.readLE(leaf, off, 4);
        (bool ok, uint256 v) = _amoValue(funct5, t, b);
        if (!ok) return false;
        _write(c, pos, addr, RiscvMemory.writeLE(leaf, off, 4, v));
        _setReg(s, rd, t);
        return true;
    }

    /// @dev The value an AMO writes, from the loaded `t` and rs2's `v`.
    function _amoValue(uint256 funct5, uint256 t, uint256 v) private pure returns (bool, uint256) {
        if (funct5 == 0x01) return (true, v); // amoswap
        if (funct5 == 0x00) return (true, (t + v) & MASK32); // amoadd
        if (funct5 == 0x04) return (true, t ^ v); // amoxor
        if (funct5 == 0x0c) return (true, t & v); // amoand
        if (funct5 == 0x08) return (true, t | v); // amoor
        if (funct5 == 0x10) return (true, _signed(t) < _signed(v) ? t : v); // amomin
        if (funct5 == 0x14) return (true, _signed(t) > _signed(v) ? t : v); // amomax
        if (funct5 == 0x18) return (true, t < v ? t : v); // amominu
        if (funct5 == 0x1c) return (true, t > v ? t : v); // amomaxu
        return (false, 0);
    }

    // ---- syscalls ----

    function _syscall(Ctx memory c) private view {
        uint256 s = c.s;
        uint256 a0 = _reg(s, 10);
        uint256 a1 = _reg(s, 11);
        uint256 a2 = _reg(s, 12);
        uint256 a7 = _reg(s, 17);
        if (a7 == SYS_EXIT || a7 == SYS_EXIT_GROUP) {
            _stop(s, a0 & 0xff); // pc still moves on (the caller sets it)
            return;
        }
        uint256 ret;
        if (a7 == SYS_READ) {
            if (a0 == FD_PREIMAGE_READ) ret = _readPreimage(c, a1, a2);
            else if (a0 == FD_HINT_READ) ret = a2; // nothing to read: hints are answered by loads
            else ret = EBADF;
        } else if (a7 == SYS_WRITE) {
            if (a0 == FD_PREIMAGE_WRITE) ret = _writeKey(c, a1, a2);
            else if (a0 == FD_STDOUT || a0 == FD_STDERR || a0 == FD_HINT_WRITE) ret = a2; // off chain
            else ret = EBADF;
        } else {
            ret = ENOSYS;
        }
        _setReg(s, 10, ret);
    }

    /// @dev `write(6, addr, count)`: shifts `n = min(count, 32 - addr % 32)` bytes at `addr` into
    ///      the key (`key << 8n | bytes`) and restarts the stream at 0.
    function _writeKey(Ctx memory c, uint256 addr, uint256 count) private pure returns (uint256 n) {
        uint256 s = c.s;
        uint256 off = addr & 31;
        n = count < 32 - off ? count : 32 - off;
        if (n > 0) {
            (bytes32 leaf,) = _proven(c, addr);
            // a shift by 256 (n = 32) is 0: the key is then the 32 bytes
            uint256 key =
                (uint256(_get256(s, PREIMAGE_KEY)) << (8 * n)) | RiscvMemory.readBE(leaf, off, n);
            _put256(s + PREIMAGE_KEY, key);
        }
        _put(s + PREIMAGE_OFFSET, 32, 0);
    }

    /// @dev `read(5, addr, count)`: copies `n = min(count, 32 - addr % 32, bytes left)` bytes of
    ///      the key's stream at preimageOffset to `addr`. A local key is read under its
    ///      localized key (this caller's dispute); the state keeps the program's key.
    function _readPreimage(Ctx memory c, uint256 addr, uint256 count)
        private
        view
        returns (uint256 n)
    {
        if (count == 0) return 0; // n is 0 whatever the stream holds
        uint256 s = c.s;
        bytes32 key = _get256(s, PREIMAGE_KEY);
        uint256 offset = _get32(s, PREIMAGE_OFFSET);
        if (uint256(key) >> 248 == PreimageKeys.LOCAL) {
            key = PreimageKeys.localize(key, msg.sender, c.localContext);
        }
        (bytes32 dat, uint256 datLen) = oracle.readPreimage(key, offset);
        uint256 off = addr & 31;
        n = count < 32 - off ? count : 32 - off;
        if (n > datLen) n = datLen;
        if (n == 0) return 0; // the end of the stream: no memory touched
        (bytes32 leaf, uint256 pos) = _proven(c, addr);
        _write(c, pos, addr, RiscvMemory.writeBE(leaf, off, n, dat));
        _put(s + PREIMAGE_OFFSET, 32, offset + n);
    }

    // ---- memory proofs ----

    /// @dev The next memory proof, checked to be of the leaf holding `addr` (wrapped to 32 bits)
    ///      under the pre-state's root: its leaf and calldata offset.
    function _proven(Ctx memory c, uint256 addr) private pure returns (bytes32 leaf, uint256 pos) {
        uint256 k = c.used;
        if (c.proofLen < (k + 1) * RiscvMemory.PROOF_BYTES) revert MissingMemoryProof(k);
        pos = c.proofAt + k * RiscvMemory.PROOF_BYTES;
        assembly ("memory-safe") {
            leaf := calldataload(pos)
        }
        if (RiscvMemory.rootWith(pos, (addr & MASK32) >> 5, leaf) != c.root) {
            revert InvalidMemoryProof(k);
        }
        c.used = k + 1;
    }

    function _provenLeaf(Ctx memory c, uint256 addr) private pure returns (bytes32 leaf) {
        (leaf,) = _proven(c, addr);
    }

    /// @dev Sets memRoot to the root with `leaf` written where the proof at `pos` (of `addr`'s
    ///      leaf) was.
    function _write(Ctx memory c, uint256 pos, uint256 addr, bytes32 leaf) private pure {
        _put256(c.s + MEM_ROOT, uint256(RiscvMemory.rootWith(pos, (addr & MASK32) >> 5, leaf)));
    }

    // ---- the state in memory ----

    function _stop(uint256 s, uint256 code) private pure {
        assembly ("memory-safe") {
            mstore8(add(s, EXIT_CODE), code)
            mstore8(add(s, EXITED), 1)
        }
    }

    /// @dev keccak256 of the 210 bytes, first byte replaced by the status.
    function _hash(uint256 s) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            h := keccak256(s, STATE_BYTES)
        }
        uint8 status;
        if (_byte(s, EXITED) == 0) {
            status = 3;
        } else {
            uint256 code = _byte(s, EXIT_CODE);
            status = code == 0 ? 0 : code == 1 ? 1 : 2;
        }
        return PreimageKeys.withType(h, status);
    }

    function _reg(uint256 s, uint256 r) private pure returns (uint256) {
        return _get32(s, REGS + 4 * r);
    }

    function _setReg(uint256 s, uint256 r, uint256 v) private pure {
        if (r != 0) _put(s + REGS + 4 * r, 32, v); // x0 stays 0
    }

    function _byte(uint256 s, uint256 pos) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := byte(0, mload(add(s, pos)))
        }
    }

    function _get32(uint256 s, uint256 pos) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := shr(224, mload(add(s, pos)))
        }
    }

    function _get256(uint256 s, uint256 pos) private pure returns (bytes32 v) {
        assembly ("memory-safe") {
            v := mload(add(s, pos))
        }
    }

    function _get256At(uint256 p) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := mload(p)
        }
    }

    /// @dev Writes the low `width` bits of `v` big-endian at memory `p`, keeping the bytes after.
    function _put(uint256 p, uint256 width, uint256 v) private pure {
        assembly ("memory-safe") {
            let keep := shr(width, shl(width, mload(p)))
            mstore(p, or(keep, shl(sub(256, width), v)))
        }
    }

    function _put256(uint256 p, uint256 v) private pure {
        assembly ("memory-safe") {
            mstore(p, v)
        }
    }

    /// @dev A 32-bit register value as a signed number.
    function _signed(uint256 x) private pure returns (int256 v) {
        assembly ("memory-safe") {
            v := signextend(3, x)
        }
    }
}
