// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {RollupTestBase} from "./RollupTestBase.sol";
import {L2OutputOracle} from "../../src/rollup/L2OutputOracle.sol";

contract L2OutputOracleTest is RollupTestBase {
    event OutputProposed(
        bytes32 indexed outputRoot,
        uint256 indexed l2OutputIndex,
        uint256 indexed l2BlockNumber,
        uint256 l1Timestamp
    );
    event OutputsDeleted(uint256 indexed prevNextOutputIndex, uint256 indexed newNextOutputIndex);

    function setUp() public {
        _deployRollup();
    }

    // ------------------------------------------------------------ configuration

    function test_Config() public view {
        assertEq(oracle.proposer(), proposer);
        assertEq(oracle.challenger(), challenger);
        assertEq(oracle.submissionInterval(), INTERVAL);
        assertEq(oracle.l2BlockTime(), BLOCK_TIME);
        assertEq(oracle.startingBlockNumber(), 0);
        assertEq(oracle.startingTimestamp(), START);
        assertEq(oracle.finalizationPeriodSeconds(), PERIOD);
        assertEq(oracle.nextOutputIndex(), 0);
        assertEq(oracle.latestBlockNumber(), 0);
        assertEq(oracle.nextBlockNumber(), INTERVAL);
        assertEq(oracle.computeL2Timestamp(0), START);
        assertEq(oracle.computeL2Timestamp(7), START + 14);
    }

    function test_RevertWhen_BadConfig() public {
        vm.expectRevert(L2OutputOracle.InvalidConfig.selector);
        new L2OutputOracle(address(0), challenger, 10, 2, 0, START, PERIOD);
        vm.expectRevert(L2OutputOracle.InvalidConfig.selector);
        new L2OutputOracle(proposer, address(0), 10, 2, 0, START, PERIOD);
        vm.expectRevert(L2OutputOracle.InvalidConfig.selector);
        new L2OutputOracle(proposer, challenger, 0, 2, 0, START, PERIOD);
        vm.expectRevert(L2OutputOracle.InvalidConfig.selector);
        new L2OutputOracle(proposer, challenger, 10, 0, 0, START, PERIOD);
        vm.expectRevert(L2OutputOracle.InvalidConfig.selector);
        new L2OutputOracle(proposer, challenger, 10, 2, 0, START + 1, PERIOD);
        vm.expectRevert(L2OutputOracle.InvalidConfig.selector);
        new L2OutputOracle(
            proposer, challenger, 10, 2, uint256(type(uint64).max) + 1, START, PERIOD
        );
    }

    function test_RevertWhen_TimestampBeforeStart() public {
        L2OutputOracle o = new L2OutputOracle(proposer, challenger, 10, 2, 100, START, PERIOD);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.BlockBeforeStart.selector, 99));
        o.computeL2Timestamp(99);
    }

    // ------------------------------------------------------------ proposing

    function test_Propose() public {
        vm.warp(START + 21); // block 10 has timestamp START + 20
        vm.expectEmit(true, true, true, true, address(oracle));
        emit OutputProposed(keccak256("o0"), 0, 10, START + 21);
        vm.prank(proposer);
        oracle.proposeL2Output(keccak256("o0"), 10, bytes32(0), 0);

        L2OutputOracle.Output memory o = oracle.getL2Output(0);
        assertEq(o.outputRoot, keccak256("o0"));
        assertEq(uint256(o.timestamp), START + 21);
        assertEq(uint256(o.l2BlockNumber), 10);
        assertEq(oracle.latestOutputIndex(), 0);
        assertEq(oracle.nextOutputIndex(), 1);
        assertEq(oracle.latestBlockNumber(), 10);
        assertEq(oracle.nextBlockNumber(), 20);
    }

    function test_RevertWhen_NotProposer() public {
        vm.warp(START + 100);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.Unauthorized.selector, challenger));
        vm.prank(challenger);
        oracle.proposeL2Output(keccak256("o"), 10, bytes32(0), 0);
    }

    function test_RevertWhen_WrongBlockNumber() public {
        vm.warp(START + 100);
        vm.startPrank(proposer);
        vm.expectRevert(
            abi.encodeWithSelector(L2OutputOracle.UnexpectedBlockNumber.selector, 10, 9)
        );
        oracle.proposeL2Output(keccak256("o"), 9, bytes32(0), 0);
        vm.expectRevert(
            abi.encodeWithSelector(L2OutputOracle.UnexpectedBlockNumber.selector, 10, 20)
        );
        oracle.proposeL2Output(keccak256("o"), 20, bytes32(0), 0);
        oracle.proposeL2Output(keccak256("o"), 10, bytes32(0), 0);
        // the same block twice
        vm.expectRevert(
            abi.encodeWithSelector(L2OutputOracle.UnexpectedBlockNumber.selector, 20, 10)
        );
        oracle.proposeL2Output(keccak256("o"), 10, bytes32(0), 0);
        vm.stopPrank();
    }

    function test_RevertWhen_BlockInFuture() public {
        // Block 10's timestamp is START + 20: it must be strictly before the L1 block's.
        vm.warp(START + 20);
        vm.expectRevert(
            abi.encodeWithSelector(L2OutputOracle.BlockInFuture.selector, START + 20, START + 20)
        );
        vm.prank(proposer);
        oracle.proposeL2Output(keccak256("o"), 10, bytes32(0), 0);
        vm.warp(START + 21);
        vm.prank(proposer);
        oracle.proposeL2Output(keccak256("o"), 10, bytes32(0), 0);
    }

    function test_RevertWhen_EmptyOutputRoot() public {
        vm.warp(START + 100);
        vm.expectRevert(L2OutputOracle.EmptyOutputRoot.selector);
        vm.prank(proposer);
        oracle.proposeL2Output(bytes32(0), 10, bytes32(0), 0);
    }

    function test_L1BlockHashCheck() public {
        vm.warp(START + 100);
        vm.roll(500);
        vm.setBlockhash(499, keccak256("l1 block 499"));
        vm.startPrank(proposer);
        vm.expectRevert(
            abi.encodeWithSelector(
                L2OutputOracle.L1BlockHashMismatch.selector,
                keccak256("reorged"),
                keccak256("l1 block 499")
            )
        );
        oracle.proposeL2Output(keccak256("o"), 10, keccak256("reorged"), 499);
        oracle.proposeL2Output(keccak256("o"), 10, keccak256("l1 block 499"), 499);
        vm.stopPrank();
        assertEq(oracle.nextOutputIndex(), 1);
    }

    // ------------------------------------------------------------ views

    function test_GetL2OutputIndexAfter() public {
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.NoOutputAfter.selector, 1));
        oracle.getL2OutputIndexAfter(1);
        for (uint256 i = 0; i < 5; i++) {
            _propose(bytes32(i + 1));
        }
        // outputs at blocks 10, 20, 30, 40, 50
        assertEq(oracle.getL2OutputIndexAfter(0), 0);
        assertEq(oracle.getL2OutputIndexAfter(1), 0);
        assertEq(oracle.getL2OutputIndexAfter(10), 0);
        assertEq(oracle.getL2OutputIndexAfter(11), 1);
        assertEq(oracle.getL2OutputIndexAfter(30), 2);
        assertEq(oracle.getL2OutputIndexAfter(41), 4);
        assertEq(oracle.getL2OutputIndexAfter(50), 4);
        assertEq(oracle.getL2OutputAfter(35).outputRoot, bytes32(uint256(4)));
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.NoOutputAfter.selector, 51));
        oracle.getL2OutputIndexAfter(51);
    }

    function test_RevertWhen_NoSuchOutput() public {
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.OutputNotFound.selector, 0));
        oracle.getL2Output(0);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.OutputNotFound.selector, 0));
        oracle.latestOutputIndex();
        _propose(keccak256("o"));
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.OutputNotFound.selector, 1));
        oracle.getL2Output(1);
    }

    // ------------------------------------------------------------ deletion

    function test_DeleteOutputs() public {
        for (uint256 i = 0; i < 4; i++) {
            _propose(bytes32(i + 1));
        }
        vm.expectEmit(true, true, true, true, address(oracle));
        emit OutputsDeleted(4, 2);
        vm.prank(challenger);
        oracle.deleteL2Outputs(2);

        assertEq(oracle.nextOutputIndex(), 2);
        assertEq(oracle.latestOutputIndex(), 1);
        assertEq(oracle.latestBlockNumber(), 20);
        assertEq(oracle.nextBlockNumber(), 30);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.OutputNotFound.selector, 2));
        oracle.getL2Output(2);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.NoOutputAfter.selector, 21));
        oracle.getL2OutputIndexAfter(21);

        // The proposer continues from the last remaining output, with a new root.
        uint256 index = _propose(keccak256("replacement"));
        assertEq(index, 2);
        L2OutputOracle.Output memory o = oracle.getL2Output(2);
        assertEq(o.outputRoot, keccak256("replacement"));
        assertEq(uint256(o.l2BlockNumber), 30);
        assertEq(uint256(o.timestamp), block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.OutputNotFound.selector, 3));
        oracle.getL2Output(3);
    }

    function test_DeleteAllOutputs() public {
        _propose(keccak256("a"));
        _propose(keccak256("b"));
        vm.prank(challenger);
        oracle.deleteL2Outputs(0);
        assertEq(oracle.nextOutputIndex(), 0);
        assertEq(oracle.latestBlockNumber(), 0);
        assertEq(oracle.nextBlockNumber(), INTERVAL);
    }

    function test_RevertWhen_DeleteByNonChallenger() public {
        _propose(keccak256("a"));
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.Unauthorized.selector, proposer));
        vm.prank(proposer);
        oracle.deleteL2Outputs(0);
    }

    function test_RevertWhen_DeleteMissingOutput() public {
        _propose(keccak256("a"));
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.OutputNotFound.selector, 1));
        vm.prank(challenger);
        oracle.deleteL2Outputs(1);
    }

    function test_RevertWhen_DeleteFinalizedOutput() public {
        _propose(keccak256("a"));
        uint256 postedAt = block.timestamp;
        // Deletable until one second before the period ends ...
        vm.warp(postedAt + PERIOD - 1);
        _propose(keccak256("b"));
        vm.prank(challenger);
        oracle.deleteL2Outputs(1); // (b is young)
        // ... not from the moment the portal could finalize against it.
        vm.warp(postedAt + PERIOD);
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.OutputFinalized.selector, 0));
        vm.prank(challenger);
        oracle.deleteL2Outputs(0);
    }

    function test_DeleteJustBeforeFinalization() public {
        _propose(keccak256("a"));
        vm.warp(block.timestamp + PERIOD - 1);
        vm.prank(challenger);
        oracle.deleteL2Outputs(0);
        assertEq(oracle.nextOutputIndex(), 0);
    }

    function testFuzz_ProposeSequence(uint8 count, uint8 deleteAt) public {
        count = uint8(bound(count, 1, 20));
        for (uint256 i = 0; i < count; i++) {
            assertEq(_propose(bytes32(i + 1)), i);
        }
        deleteAt = uint8(bound(deleteAt, 0, count - 1));
        vm.prank(challenger);
        oracle.deleteL2Outputs(deleteAt);
        assertEq(oracle.nextOutputIndex(), deleteAt);
        assertEq(oracle.nextBlockNumber(), (uint256(deleteAt) + 1) * INTERVAL);
        assertEq(_propose(keccak256("next")), deleteAt);
        assertEq(oracle.getL2Output(deleteAt).outputRoot, keccak256("next"));
    }
}
