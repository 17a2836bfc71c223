// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Test, Vm} from "../utils/Test.sol";
import {L2OutputOracle} from "../../src/rollup/L2OutputOracle.sol";
import {RollupPortal} from "../../src/rollup/RollupPortal.sol";
import {SparseMerkleProof} from "../../src/rollup/SparseMerkleProof.sol";
import {L2ToL1MessagePasser} from "../../src/rollup/L2ToL1MessagePasser.sol";
import {L1Block} from "../../src/rollup/L1Block.sol";
import {MintableERC20Factory} from "../../src/rollup/MintableERC20Factory.sol";
import {L2StandardBridge} from "../../src/rollup/L2StandardBridge.sol";
import {
    L2_STANDARD_BRIDGE,
    L2_TO_L1_MESSAGE_PASSER,
    L1_BLOCK,
    MINTABLE_ERC20_FACTORY
} from "../../src/rollup/RollupConstants.sol";

/// @dev Builds small loft sparse Merkle trees (one or two leaves) and their compact proofs,
///      for withdrawals whose hashes are only known at test time. The general case is covered
///      by the Rust vectors (SmtVectors.sol).
library SmtTestTree {
    /// @dev A tree holding only `key`: the root is its leaf, the proof has depth 0.
    function oneLeaf(bytes32 key, bytes32 value)
        internal
        pure
        returns (bytes32 root, bytes memory proof)
    {
        root = SparseMerkleProof.leafHash(key, value);
        proof = abi.encodePacked(uint16(0), bytes32(0), uint8(0));
    }

    /// @dev A tree holding `k1` and `k2`: they split at the first bit `d` where they differ,
    ///      below `d` nodes whose other child is empty.
    function twoLeaves(bytes32 k1, bytes32 v1, bytes32 k2, bytes32 v2)
        internal
        pure
        returns (bytes32 root, bytes memory proof1, bytes memory proof2)
    {
        require(k1 != k2, "same key");
        uint256 diff = uint256(k1 ^ k2);
        uint256 d = 0;
        while ((diff >> (255 - d)) & 1 == 0) d++;
        bytes32 l1 = SparseMerkleProof.leafHash(k1, v1);
        bytes32 l2 = SparseMerkleProof.leafHash(k2, v2);
        bytes32 h =
            _bit(k1, d) ? SparseMerkleProof.nodeHash(l2, l1) : SparseMerkleProof.nodeHash(l1, l2);
        for (uint256 i = d; i > 0; i--) {
            h = _bit(k1, i - 1)
                ? SparseMerkleProof.nodeHash(bytes32(0), h)
                : SparseMerkleProof.nodeHash(h, bytes32(0));
        }
        root = h;
        bytes32 bitmap = bytes32(uint256(1) << (255 - d));
        proof1 = abi.encodePacked(uint16(d + 1), bitmap, l2, uint8(0));
        proof2 = abi.encodePacked(uint16(d + 1), bitmap, l1, uint8(0));
    }

    function _bit(bytes32 key, uint256 i) private pure returns (bool) {
        return (uint256(key) >> (255 - i)) & 1 == 1;
    }
}

/// @dev Deploys an L2OutputOracle and a RollupPortal on a clock that starts at START.
abstract contract RollupTestBase is Test {
    uint256 internal constant START = 1_700_000_000;
    uint256 internal constant INTERVAL = 10;
    uint256 internal constant BLOCK_TIME = 2;
    uint256 internal constant PERIOD = 7 days;

    L2OutputOracle internal oracle;
    RollupPortal internal portal;
    address internal proposer;
    address internal challenger;

    function _deployRollup() internal {
        vm.warp(START);
        proposer = makeAddr("proposer");
        challenger = makeAddr("challenger");
        oracle = new L2OutputOracle(proposer, challenger, INTERVAL, BLOCK_TIME, 0, START, PERIOD);
        portal = new RollupPortal(oracle);
    }

    /// @dev Posts `outputRoot` for the next L2 block (moving the clock past that block's
    ///      timestamp if needed); returns its index.
    function _propose(bytes32 outputRoot) internal returns (uint256 index) {
        uint256 n = oracle.nextBlockNumber();
        uint256 t = oracle.computeL2Timestamp(n);
        if (block.timestamp <= t) vm.warp(t + 1);
        index = oracle.nextOutputIndex();
        vm.prank(proposer);
        oracle.proposeL2Output(outputRoot, n, bytes32(0), 0);
    }

    function _outputRootProof(bytes32 storageRoot, bytes32 blockHash)
        internal
        pure
        returns (RollupPortal.OutputRootProof memory p)
    {
        p = RollupPortal.OutputRootProof({
            version: bytes32(0),
            stateRoot: keccak256("state root"),
            messagePasserStorageRoot: storageRoot,
            latestBlockhash: blockHash
        });
    }

    function _outputRoot(RollupPortal.OutputRootProof memory p) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(p.version, p.stateRoot, p.messagePasserStorageRoot, p.latestBlockhash)
        );
    }

    function _hash(RollupPortal.WithdrawalTransaction memory w) internal pure returns (bytes32) {
        return keccak256(abi.encode(w.nonce, w.sender, w.target, w.value, w.gasLimit, w.data));
    }

    function _storageKey(bytes32 withdrawalHash) internal pure returns (bytes32) {
        return keccak256(abi.encode(keccak256(abi.encode(withdrawalHash, uint256(0)))));
    }

    /// @dev Posts an output whose message-passer storage holds only `w`, proves `w` against
    ///      it; returns the output index.
    function _proveAlone(RollupPortal.WithdrawalTransaction memory w)
        internal
        returns (uint256 index)
    {
        (bytes32 storageRoot, bytes memory proof) =
            SmtTestTree.oneLeaf(_storageKey(_hash(w)), bytes32(uint256(1)));
        RollupPortal.OutputRootProof memory orp = _outputRootProof(storageRoot, keccak256("block"));
        index = _propose(_outputRoot(orp));
        portal.proveWithdrawalTransaction(w, index, orp, proof);
    }

    /// @dev Splits a TransactionDeposited opaqueData into its fields.
    function _decodeOpaque(bytes memory opaque)
        internal
        pure
        returns (uint256 mint, uint256 value, uint64 gasLimit, bool isCreation, bytes memory data)
    {
        require(opaque.length >= 73, "opaqueData too short");
        assembly {
            mint := mload(add(opaque, 0x20))
            value := mload(add(opaque, 0x40))
            gasLimit := shr(192, mload(add(opaque, 0x60)))
            isCreation := shr(248, mload(add(opaque, 0x68)))
        }
        data = new bytes(opaque.length - 73);
        for (uint256 i = 0; i < data.length; i++) {
            data[i] = opaque[73 + i];
        }
    }

    /// @dev The first log with topic0 `sig` among `logs`.
    function _findLog(Vm.Log[] memory logs, bytes32 sig) internal pure returns (Vm.Log memory) {
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].topics.length > 0 && logs[i].topics[0] == sig) return logs[i];
        }
        revert("log not found");
    }
}

/// @dev Places the L2 predeploys at their addresses, as the L2 genesis does (runtime code plus
///      the documented storage), in the same EVM as the L1 contracts.
abstract contract L2PredeployTestBase is RollupTestBase {
    function _etchPredeploys(address l1Bridge) internal {
        vm.etch(L2_TO_L1_MESSAGE_PASSER, address(new L2ToL1MessagePasser()).code);
        vm.etch(L1_BLOCK, address(new L1Block()).code);
        vm.etch(MINTABLE_ERC20_FACTORY, address(new MintableERC20Factory()).code);
        vm.etch(L2_STANDARD_BRIDGE, address(new L2StandardBridge()).code);
        // L2StandardBridge slot 0: otherBridge
        vm.store(L2_STANDARD_BRIDGE, bytes32(0), bytes32(uint256(uint160(l1Bridge))));
    }
}
