// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Test, console} from "../utils/Test.sol";
import {Groth16Verifier} from "../../src/zk/Groth16Verifier.sol";

/// @dev BN254 arithmetic for building test vectors: G1 through the ecAdd/ecMul precompiles
///      (0x06, 0x07), G2 in affine coordinates over Fp2 = Fp[i]/(i² + 1) in Solidity (there is
///      no G2 precompile), inverses through modexp (0x05). Fp2 elements are (c0, c1) =
///      c0 + c1·i; the precompiles take a G2 coordinate as (c1, c0), imaginary part first
///      (EIP-197).
library BN254 {
    /// scalar field (the order of G1 and G2)
    uint256 internal constant R =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// base field
    uint256 internal constant Q =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;

    // The G2 generator of EIP-197 (real and imaginary parts).
    uint256 internal constant G2_X0 =
        10857046999023057135944570762232829481370756359578518086990519993285655852781;
    uint256 internal constant G2_X1 =
        11559732032986387107991004021392285783925812861821192530917403151452391805634;
    uint256 internal constant G2_Y0 =
        8495653923123431417604973247489272438418190587263600148770280649306958101930;
    uint256 internal constant G2_Y1 =
        4082367875863433681332203403145435568316851327593401208105741076214120093531;

    struct G1 {
        uint256 x;
        uint256 y;
    }

    struct Fp2 {
        uint256 c0;
        uint256 c1;
    }

    struct G2 {
        Fp2 x;
        Fp2 y;
    }

    // ---- scalars and G1 ----

    function expMod(uint256 base, uint256 e, uint256 m) internal view returns (uint256) {
        (bool ok, bytes memory out) = address(5).staticcall(abi.encode(32, 32, 32, base, e, m));
        require(ok && out.length == 32, "modexp");
        return abi.decode(out, (uint256));
    }

    /// s⁻¹ mod R (s non-zero mod R)
    function frInv(uint256 s) internal view returns (uint256) {
        require(s % R != 0, "frInv(0)");
        return expMod(s, R - 2, R);
    }

    function g1() internal pure returns (G1 memory) {
        return G1(1, 2);
    }

    function g1Mul(G1 memory p, uint256 s) internal view returns (G1 memory r) {
        (bool ok, bytes memory out) = address(7).staticcall(abi.encode(p.x, p.y, s));
        require(ok && out.length == 64, "ecMul");
        (r.x, r.y) = abi.decode(out, (uint256, uint256));
    }

    function g1Add(G1 memory p, G1 memory q) internal view returns (G1 memory r) {
        (bool ok, bytes memory out) = address(6).staticcall(abi.encode(p.x, p.y, q.x, q.y));
        require(ok && out.length == 64, "ecAdd");
        (r.x, r.y) = abi.decode(out, (uint256, uint256));
    }

    function g1Neg(G1 memory p) internal pure returns (G1 memory) {
        return G1(p.x, (Q - p.y) % Q);
    }

    // ---- Fp2 and G2 ----

    function add(Fp2 memory a, Fp2 memory b) internal pure returns (Fp2 memory) {
        return Fp2(addmod(a.c0, b.c0, Q), addmod(a.c1, b.c1, Q));
    }

    function sub(Fp2 memory a, Fp2 memory b) internal pure returns (Fp2 memory) {
        return Fp2(addmod(a.c0, Q - b.c0, Q), addmod(a.c1, Q - b.c1, Q));
    }

    function mul(Fp2 memory a, Fp2 memory b) internal pure returns (Fp2 memory) {
        return Fp2(
            addmod(mulmod(a.c0, b.c0, Q), Q - mulmod(a.c1, b.c1, Q), Q),
            addmod(mulmod(a.c0, b.c1, Q), mulmod(a.c1, b.c0, Q), Q)
        );
    }

    function scale(Fp2 memory a, uint256 k) internal pure returns (Fp2 memory) {
        return Fp2(mulmod(a.c0, k, Q), mulmod(a.c1, k, Q));
    }

    /// 1 / (c0 + c1·i) = (c0 - c1·i) / (c0² + c1²); the norm is non-zero for a non-zero
    /// element because -1 is not a square mod Q (Q ≡ 3 mod 4).
    function inv(Fp2 memory a) internal view returns (Fp2 memory) {
        uint256 norm = addmod(mulmod(a.c0, a.c0, Q), mulmod(a.c1, a.c1, Q), Q);
        require(norm != 0, "Fp2 inv(0)");
        uint256 t = expMod(norm, Q - 2, Q);
        return Fp2(mulmod(a.c0, t, Q), mulmod((Q - a.c1) % Q, t, Q));
    }

    function eq(Fp2 memory a, Fp2 memory b) internal pure returns (bool) {
        return a.c0 == b.c0 && a.c1 == b.c1;
    }

    function g2() internal pure returns (G2 memory) {
        return G2(Fp2(G2_X0, G2_X1), Fp2(G2_Y0, G2_Y1));
    }

    function g2Neg(G2 memory p) internal pure returns (G2 memory) {
        return G2(p.x, Fp2((Q - p.y.c0) % Q, (Q - p.y.c1) % Q));
    }

    /// 2p (p not the identity; y ≠ 0 as G2 has odd order)
    function g2Double(G2 memory p) internal view returns (G2 memory r) {
        Fp2 memory l = mul(scale(mul(p.x, p.x), 3), inv(scale(p.y, 2)));
        r.x = sub(mul(l, l), scale(p.x, 2));
        r.y = sub(mul(l, sub(p.x, r.x)), p.y);
    }

    /// p + q for p ≠ ±q, neither the identity
    function g2Add(G2 memory p, G2 memory q) internal view returns (G2 memory r) {
        require(!eq(p.x, q.x), "g2Add: p = +-q");
        Fp2 memory l = mul(sub(q.y, p.y), inv(sub(q.x, p.x)));
        r.x = sub(sub(mul(l, l), p.x), q.x);
        r.y = sub(mul(l, sub(p.x, r.x)), p.y);
    }

    /// s·p for 0 < s < R, left to right: the accumulator is k·p with 1 <= k < s, so a
    /// doubling never meets the identity and adding p (after a doubling, k >= 2) never
    /// meets ±p.
    function g2Mul(G2 memory p, uint256 s) internal view returns (G2 memory acc) {
        require(s != 0 && s < R, "g2Mul: scalar");
        uint256 i = 255;
        while ((s >> i) & 1 == 0) i--;
        acc = p;
        while (i > 0) {
            i--;
            acc = g2Double(acc);
            if ((s >> i) & 1 == 1) acc = g2Add(acc, p);
        }
    }

    /// The precompile's words for a G2 point: x.c1, x.c0, y.c1, y.c0.
    function words(G2 memory p) internal pure returns (uint256[4] memory) {
        return [p.x.c1, p.x.c0, p.y.c1, p.y.c0];
    }

    /// e(a1, b1) · e(a2, b2) == 1, straight from the pairing precompile
    function pairing2(G1 memory a1, G2 memory b1, G1 memory a2, G2 memory b2)
        internal
        view
        returns (bool)
    {
        (bool ok, bytes memory out) =
            address(8).staticcall(abi.encode(a1.x, a1.y, words(b1), a2.x, a2.y, words(b2)));
        require(ok && out.length == 32, "ecPairing");
        return abi.decode(out, (uint256)) == 1;
    }
}

/// @dev Groth16Verifier against a verifying key and proofs built here, with the trapdoor.
///      Every point is a known multiple of a generator: α = a·G1, β = b·G2, γ = g·G2,
///      δ = d·G2, IC0 = i0·G1, IC1 = i1·G1, and a proof for input x is B = s·G2, C = c·G1,
///      A = t·G1 with t = (a·b + (i0 + i1·x)·g + c·d) / s mod R. Then
///      e(-A, B)·e(α, β)·e(IC0 + x·IC1, γ)·e(C, δ) = e(G1, G2)^(-t·s + a·b + (i0 + i1·x)·g + c·d)
///      = 1, the Groth16 equation, with every point distinct, in the right subgroup and
///      checked by the precompiles; so the test vector is valid by construction (the same
///      trapdoor simulation that makes Groth16 zero-knowledge), and acceptance shows the
///      verifier's word order (G2 imaginary part first, A negated, the pairs in order).
///      Proofs for any other input fail the equation unless the discrete logs collide.
contract Groth16VerifierTest is Test {
    using BN254 for BN254.G1;

    uint256 internal constant R = BN254.R;
    uint256 internal constant Q = BN254.Q;

    // trapdoor scalars
    uint256 internal a;
    uint256 internal b;
    uint256 internal g;
    uint256 internal d;
    uint256 internal i0;
    uint256 internal i1;
    uint256 internal s;

    uint256[18] internal vk;
    /// B = s·G2 (the precompile's words), shared by every proof
    uint256[4] internal proofB;
    Groth16Verifier internal verifier;

    /// the input of `proof`
    uint256 internal x;
    uint256[8] internal proof;

    function _scalar(string memory label) internal pure returns (uint256 v) {
        v = uint256(keccak256(bytes(string.concat("loft Groth16Verifier test: ", label)))) % R;
        require(v != 0, "zero scalar");
    }

    function setUp() public {
        a = _scalar("alpha");
        b = _scalar("beta");
        g = _scalar("gamma");
        d = _scalar("delta");
        i0 = _scalar("IC0");
        i1 = _scalar("IC1");
        s = _scalar("B");

        BN254.G1 memory alpha = BN254.g1().g1Mul(a);
        BN254.G1 memory ic0 = BN254.g1().g1Mul(i0);
        BN254.G1 memory ic1 = BN254.g1().g1Mul(i1);
        uint256[4] memory beta = BN254.words(BN254.g2Mul(BN254.g2(), b));
        uint256[4] memory gamma = BN254.words(BN254.g2Mul(BN254.g2(), g));
        uint256[4] memory delta = BN254.words(BN254.g2Mul(BN254.g2(), d));
        proofB = BN254.words(BN254.g2Mul(BN254.g2(), s));

        vk[0] = alpha.x;
        vk[1] = alpha.y;
        for (uint256 j = 0; j < 4; j++) {
            vk[2 + j] = beta[j];
            vk[6 + j] = gamma[j];
            vk[10 + j] = delta[j];
        }
        vk[14] = ic0.x;
        vk[15] = ic0.y;
        vk[16] = ic1.x;
        vk[17] = ic1.y;
        verifier = new Groth16Verifier(vk);

        // a public input like the rollup's (a sha256 reduced mod r)
        x = uint256(sha256("loft Groth16Verifier test: input")) % R;
        proof = _prove(x, _scalar("C"));
    }

    /// A proof for `input` with C = c·G1 (0 < c < R), made with the trapdoor.
    function _prove(uint256 input, uint256 c) internal view returns (uint256[8] memory p) {
        uint256 v = addmod(i0, mulmod(i1, input, R), R);
        uint256 e = addmod(addmod(mulmod(a, b, R), mulmod(v, g, R), R), mulmod(c, d, R), R);
        BN254.G1 memory pa = BN254.g1().g1Mul(mulmod(e, BN254.frInv(s), R));
        BN254.G1 memory pc = BN254.g1().g1Mul(c);
        p = [pa.x, pa.y, proofB[0], proofB[1], proofB[2], proofB[3], pc.x, pc.y];
    }

    /// A failing precompile burns all the gas it was given, so each call is capped (a valid
    /// proof needs about 200,000) to leave the test enough for the next.
    uint256 internal constant VERIFY_GAS = 1_000_000;

    function _verify(uint256[8] memory p, uint256 input) internal view returns (bool) {
        return _verifyWith(verifier, p, input);
    }

    function _verifyWith(Groth16Verifier v, uint256[8] memory p, uint256 input)
        internal
        view
        returns (bool)
    {
        return v.verifyProof{gas: VERIFY_GAS}(p, [input]);
    }

    // ---- the vector itself ----

    /// The G2 points computed in Solidity are the claimed multiples of the generator:
    /// e(-k·G1, G2)·e(G1, k·G2) = 1 for each, checked by the pairing precompile (which also
    /// checks that every point is on the curve and in the subgroup).
    function test_vectorG2PointsAreTheClaimedMultiples() public view {
        uint256[4] memory ks = [b, g, d, s];
        for (uint256 j = 0; j < 4; j++) {
            BN254.G2 memory kG2 = BN254.g2Mul(BN254.g2(), ks[j]);
            assertTrue(
                BN254.pairing2(BN254.g1().g1Mul(ks[j]).g1Neg(), BN254.g2(), BN254.g1(), kG2),
                "k*G2 pairs as k*G1"
            );
            // and not trivially: a different multiple does not
            assertFalse(
                BN254.pairing2(BN254.g1().g1Mul(ks[j] + 1).g1Neg(), BN254.g2(), BN254.g1(), kG2),
                "(k+1)*G1 does not"
            );
        }
        // the generator as the precompile takes it, imaginary part first (EIP-197)
        assertEq(BN254.words(BN254.g2())[0], BN254.G2_X1);
        assertEq(BN254.words(BN254.g2())[1], BN254.G2_X0);
    }

    /// The key's points are all different (no pair of the equation collapses into another).
    function test_vectorPointsAreDistinct() public view {
        uint256[6] memory xs = [vk[0], vk[14], vk[16], proof[0], proof[6], 1];
        for (uint256 j = 0; j < 6; j++) {
            for (uint256 k = j + 1; k < 6; k++) {
                assertTrue(xs[j] != xs[k], "G1 points distinct");
            }
        }
        uint256[5] memory x1s = [vk[2], vk[6], vk[10], proof[2], BN254.G2_X1];
        for (uint256 j = 0; j < 5; j++) {
            for (uint256 k = j + 1; k < 5; k++) {
                assertTrue(x1s[j] != x1s[k], "G2 points distinct");
            }
        }
    }

    // ---- accepted ----

    function test_acceptsValidProof() public view {
        assertTrue(_verify(proof, x), "valid proof refused");
    }

    /// Input 0 (x·IC1 is the identity) and R - 1 (the largest input) are ordinary inputs.
    function test_acceptsValidProofsForEdgeInputs() public view {
        assertTrue(_verify(_prove(0, 7), 0), "input 0");
        assertTrue(_verify(_prove(1, 7), 1), "input 1");
        assertTrue(_verify(_prove(R - 1, 7), R - 1), "input R - 1");
    }

    function testFuzz_acceptsValidProofOnlyForItsInput(uint256 input, uint256 c, uint256 other)
        public
        view
    {
        input = bound(input, 0, R - 1);
        c = bound(c, 1, R - 1);
        other = bound(other, 0, R - 1);
        vm.assume(other != input);
        uint256[8] memory p = _prove(input, c);
        assertTrue(_verify(p, input), "valid proof refused");
        assertFalse(_verify(p, other), "proof accepted for another input");
    }

    // ---- refused ----

    function test_refusesProofForAnotherInput() public view {
        assertFalse(_verify(proof, x + 1), "x + 1");
        assertFalse(_verify(proof, x - 1), "x - 1");
        assertFalse(_verify(proof, 0), "0");
        // a valid proof for another input is no proof for x
        assertFalse(_verify(_prove(x + 1, 7), x), "proof for x + 1");
    }

    function test_refusesTamperedProofPoints() public view {
        uint256[8] memory p;
        BN254.G1 memory pa = BN254.G1(proof[0], proof[1]);
        BN254.G1 memory pc = BN254.G1(proof[6], proof[7]);

        // A replaced by other valid points: A + G1, -A (the verifier negates A itself)
        p = proof;
        (p[0], p[1]) = _xy(pa.g1Add(BN254.g1()));
        assertFalse(_verify(p, x), "A + G1");
        p = proof;
        p[1] = Q - p[1];
        assertFalse(_verify(p, x), "-A");
        // C + G1, -C
        p = proof;
        (p[6], p[7]) = _xy(pc.g1Add(BN254.g1()));
        assertFalse(_verify(p, x), "C + G1");
        p = proof;
        p[7] = Q - p[7];
        assertFalse(_verify(p, x), "-C");
        // B replaced by -B, by the generator
        p = proof;
        (p[4], p[5]) = (Q - p[4], Q - p[5]);
        assertFalse(_verify(p, x), "-B");
        p = proof;
        (p[2], p[3], p[4], p[5]) = (BN254.G2_X1, BN254.G2_X0, BN254.G2_Y1, BN254.G2_Y0);
        assertFalse(_verify(p, x), "B = G2");
        // A and C swapped
        p = proof;
        (p[0], p[1], p[6], p[7]) = (proof[6], proof[7], proof[0], proof[1]);
        assertFalse(_verify(p, x), "A <-> C");
        // the identity for A (0, 0)
        p = proof;
        (p[0], p[1]) = (0, 0);
        assertFalse(_verify(p, x), "A = 0");
    }

    /// Points off the curve (or, for G2, in the wrong order of words) make the pairing
    /// precompile fail; the verifier answers false rather than reverting.
    function test_refusesMalformedProofPoints() public view {
        uint256[8] memory p;
        p = proof;
        p[1] = addmod(p[1], 1, Q);
        assertFalse(_verify(p, x), "A off the curve");
        p = proof;
        p[7] = addmod(p[7], 1, Q);
        assertFalse(_verify(p, x), "C off the curve");
        p = proof;
        p[5] = addmod(p[5], 1, Q);
        assertFalse(_verify(p, x), "B off the curve");
        // B with each coordinate's halves swapped (real part first): not on the twist
        p = proof;
        (p[2], p[3], p[4], p[5]) = (proof[3], proof[2], proof[5], proof[4]);
        assertFalse(_verify(p, x), "B halves swapped");
    }

    /// Each proof word with one bit flipped (every 23rd bit): refused.
    function test_refusesBitFlips() public view {
        for (uint256 bit = 0; bit < 254; bit += 23) {
            for (uint256 w = 0; w < 8; w++) {
                uint256[8] memory p = proof;
                p[w] ^= 1 << bit;
                assertFalse(_verify(p, x), "bit flip accepted");
            }
        }
    }

    /// An input not below R is refused, even R + x, which the precompiles would reduce to x
    /// and accept.
    function test_refusesInputNotBelowR() public view {
        assertFalse(_verify(proof, x + R), "x + R");
        assertFalse(_verify(proof, R), "R");
        assertFalse(_verify(proof, type(uint256).max), "max");
        assertFalse(_verify(_prove(0, 7), R), "R for a proof of 0");
    }

    function testFuzz_refusesInputNotBelowR(uint256 input) public view {
        input = bound(input, R, type(uint256).max);
        assertFalse(_verify(proof, input));
    }

    /// A proof word not below Q is refused, even word + Q, the same field element.
    function test_refusesProofCoordinateNotBelowQ() public view {
        for (uint256 w = 0; w < 8; w++) {
            uint256[8] memory p = proof;
            p[w] += Q;
            assertFalse(_verify(p, x), "word + Q");
            p[w] = Q;
            assertFalse(_verify(p, x), "Q");
            p[w] = type(uint256).max;
            assertFalse(_verify(p, x), "max");
        }
    }

    // ---- the key ----

    function test_constructorRefusesKeyCoordinateNotBelowQ() public {
        for (uint256 i = 0; i < 18; i++) {
            uint256[18] memory bad = vk;
            bad[i] = Q;
            vm.expectRevert(
                abi.encodeWithSelector(Groth16Verifier.KeyCoordinateOutOfField.selector, i)
            );
            new Groth16Verifier(bad);
            bad[i] = vk[i] + Q;
            vm.expectRevert(
                abi.encodeWithSelector(Groth16Verifier.KeyCoordinateOutOfField.selector, i)
            );
            new Groth16Verifier(bad);
            bad[i] = type(uint256).max;
            vm.expectRevert(
                abi.encodeWithSelector(Groth16Verifier.KeyCoordinateOutOfField.selector, i)
            );
            new Groth16Verifier(bad);
        }
    }

    /// The first coordinate out of range is the one reported.
    function test_constructorReportsFirstBadCoordinate() public {
        uint256[18] memory bad = vk;
        bad[5] = Q;
        bad[12] = Q;
        vm.expectRevert(abi.encodeWithSelector(Groth16Verifier.KeyCoordinateOutOfField.selector, 5));
        new Groth16Verifier(bad);
    }

    /// The same key with a G2 point's halves in the other order (real part first) is another
    /// (invalid) key: the proof is refused, so the key words are read imaginary part first.
    function test_keyWithG2HalvesSwappedRefusesTheProof() public {
        for (uint256 base = 2; base <= 10; base += 4) {
            uint256[18] memory swapped = vk;
            (swapped[base], swapped[base + 1]) = (vk[base + 1], vk[base]);
            (swapped[base + 2], swapped[base + 3]) = (vk[base + 3], vk[base + 2]);
            assertFalse(_verifyWith(new Groth16Verifier(swapped), proof, x), "swapped key accepted");
        }
        // and β and γ exchanged (both valid points): refused too
        uint256[18] memory exchanged = vk;
        for (uint256 j = 0; j < 4; j++) {
            (exchanged[2 + j], exchanged[6 + j]) = (vk[6 + j], vk[2 + j]);
        }
        assertFalse(_verifyWith(new Groth16Verifier(exchanged), proof, x), "beta <-> gamma");
    }

    // ---- gas ----

    /// The gas of one verifyProof call from another contract (the first call of the
    /// transaction to the verifier, so its account is cold), printed with -vv.
    function test_gas_verifyProof() public view {
        uint256[1] memory input = [x];
        uint256[8] memory p = proof;
        uint256 before = gasleft();
        bool ok = verifier.verifyProof(p, input);
        uint256 used = before - gasleft();
        assertTrue(ok);
        console.log("Groth16Verifier.verifyProof gas (valid proof, cold account)", used);
        before = gasleft();
        ok = verifier.verifyProof(p, input);
        used = before - gasleft();
        assertTrue(ok);
        console.log("Groth16Verifier.verifyProof gas (valid proof, warm account)", used);
    }

    function _xy(BN254.G1 memory p) internal pure returns (uint256, uint256) {
        return (p.x, p.y);
    }
}
