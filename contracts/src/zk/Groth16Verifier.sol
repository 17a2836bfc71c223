// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IGroth16Verifier} from "./IVerifier.sol";

/// @title Groth16Verifier
/// @notice Checks Groth16 proofs (BN254) with one public input against the verifying key it
///         was deployed with, through the BN254 precompiles (ecAdd 0x06, ecMul 0x07, ecPairing
///         0x08). The same checks as the verifier `loft-zk` generates as source
///         (`crates/zk/src/solidity.rs`), with the key as immutables instead of constants, so
///         one committed artifact serves every key and deploying needs no Solidity compiler.
/// @dev Verifies `e(-A, B) · e(α, β) · e(IC0 + input·IC1, γ) · e(C, δ) = 1`. A public input not
///      below R, or a proof coordinate not below Q, is refused: it would alias another.
contract Groth16Verifier is IGroth16Verifier {
    /// The BN254 scalar field: public inputs must be below it.
    uint256 internal constant R =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// The BN254 base field: proof and key coordinates must be below it.
    uint256 internal constant Q =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;

    uint256 internal immutable ALPHA_X;
    uint256 internal immutable ALPHA_Y;
    uint256 internal immutable BETA_X1;
    uint256 internal immutable BETA_X0;
    uint256 internal immutable BETA_Y1;
    uint256 internal immutable BETA_Y0;
    uint256 internal immutable GAMMA_X1;
    uint256 internal immutable GAMMA_X0;
    uint256 internal immutable GAMMA_Y1;
    uint256 internal immutable GAMMA_Y0;
    uint256 internal immutable DELTA_X1;
    uint256 internal immutable DELTA_X0;
    uint256 internal immutable DELTA_Y1;
    uint256 internal immutable DELTA_Y0;
    uint256 internal immutable IC0_X;
    uint256 internal immutable IC0_Y;
    uint256 internal immutable IC1_X;
    uint256 internal immutable IC1_Y;

    /// A key coordinate not below Q.
    error KeyCoordinateOutOfField(uint256 index);

    /// @param vk α (x, y), β (x.c1, x.c0, y.c1, y.c0), γ (same), δ (same), IC0 (x, y), IC1 (x, y)
    constructor(uint256[18] memory vk) {
        for (uint256 i = 0; i < 18; i++) {
            if (vk[i] >= Q) revert KeyCoordinateOutOfField(i);
        }
        ALPHA_X = vk[0];
        ALPHA_Y = vk[1];
        BETA_X1 = vk[2];
        BETA_X0 = vk[3];
        BETA_Y1 = vk[4];
        BETA_Y0 = vk[5];
        GAMMA_X1 = vk[6];
        GAMMA_X0 = vk[7];
        GAMMA_Y1 = vk[8];
        GAMMA_Y0 = vk[9];
        DELTA_X1 = vk[10];
        DELTA_X0 = vk[11];
        DELTA_Y1 = vk[12];
        DELTA_Y0 = vk[13];
        IC0_X = vk[14];
        IC0_Y = vk[15];
        IC1_X = vk[16];
        IC1_Y = vk[17];
    }

    /// @notice Whether `proof` proves the circuit for `input`.
    /// @param proof A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y
    /// @param input the public input, below R
    function verifyProof(uint256[8] calldata proof, uint256[1] calldata input)
        external
        view
        returns (bool)
    {
        for (uint256 i = 0; i < 8; i++) {
            if (proof[i] >= Q) return false;
        }
        if (input[0] >= R) return false;
        (uint256 x, uint256 y) = _mulAdd(IC0_X, IC0_Y, IC1_X, IC1_Y, input[0]);
        uint256[24] memory p = [
            proof[0],
            (Q - proof[1]) % Q,
            proof[2],
            proof[3],
            proof[4],
            proof[5],
            ALPHA_X,
            ALPHA_Y,
            BETA_X1,
            BETA_X0,
            BETA_Y1,
            BETA_Y0,
            x,
            y,
            GAMMA_X1,
            GAMMA_X0,
            GAMMA_Y1,
            GAMMA_Y0,
            proof[6],
            proof[7],
            DELTA_X1,
            DELTA_X0,
            DELTA_Y1,
            DELTA_Y0
        ];
        (bool ok, bytes memory out) = address(8).staticcall(abi.encode(p));
        return ok && out.length == 32 && abi.decode(out, (uint256)) == 1;
    }

    /// @dev (x, y) + s·(px, py), through the ecMul and ecAdd precompiles.
    function _mulAdd(uint256 x, uint256 y, uint256 px, uint256 py, uint256 s)
        private
        view
        returns (uint256, uint256)
    {
        (bool ok, bytes memory out) = address(7).staticcall(abi.encode(px, py, s));
        require(ok && out.length == 64, "ecMul");
        (uint256 mx, uint256 my) = abi.decode(out, (uint256, uint256));
        (ok, out) = address(6).staticcall(abi.encode(x, y, mx, my));
        require(ok && out.length == 64, "ecAdd");
        return abi.decode(out, (uint256, uint256));
    }
}
