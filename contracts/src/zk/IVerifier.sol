// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title IGroth16Verifier
/// @notice The ABI of the Groth16 (BN254) verifiers loft generates from a verifying key
///         (`crates/zk/src/solidity.rs`), for circuits with one public input: the block
///         circuit and the exit circuit of the ZK rollup.
interface IGroth16Verifier {
    /// @notice Whether `proof` proves the circuit for the public input `input[0]`.
    /// @param proof A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y (big-endian words; a G2
    ///        coordinate's imaginary part first, as the pairing precompile wants it)
    /// @param input the public input, below the BN254 scalar field modulus
    function verifyProof(uint256[8] calldata proof, uint256[1] calldata input)
        external
        view
        returns (bool);
}
