// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Vm} from "../utils/Test.sol";
import {RollupTestBase, SmtTestTree} from "./RollupTestBase.sol";
import {SmtVectors} from "./SmtVectors.sol";
import {L2OutputOracle} from "../../src/rollup/L2OutputOracle.sol";
import {RollupPortal} from "../../src/rollup/RollupPortal.sol";
import {ReentrancyGuard} from "../../src/rollup/ReentrancyGuard.sol";
import {applyL1ToL2Alias} from "../../src/rollup/RollupConstants.sol";

/// @dev An L1 contract that deposits (so it gets aliased).
contract DepositingContract {
    function deposit(RollupPortal portal, address to, uint64 gasLimit, bytes calldata data)
        external
        payable
    {
        portal.depositTransaction{value: msg.value}(to, msg.value, gasLimit, false, data);
    }

    function send(RollupPortal portal) external payable {
        (bool ok,) = address(portal).call{value: msg.value}("");
        require(ok, "send failed");
    }
}

/// @dev A contract that deposits from its constructor (no code yet, still aliased).
contract ConstructorDepositor {
    constructor(RollupPortal portal) payable {
        portal.depositTransaction{value: msg.value}(address(this), 0, 50_000, false, "");
    }
}

/// @dev Withdrawal target recording what it saw.
contract Recorder {
    RollupPortal internal immutable portal;
    address public seenL2Sender;
    uint256 public seenValue;
    bytes public seenData;
    uint256 public seenGas;

    constructor(RollupPortal portal_) {
        portal = portal_;
    }

    receive() external payable {
        _record();
    }

    fallback() external payable {
        _record();
    }

    function _record() internal {
        seenGas = gasleft();
        seenL2Sender = portal.l2Sender();
        seenValue = msg.value;
        seenData = msg.data;
    }
}

/// @dev Withdrawal target that tries to finalize another withdrawal while being executed.
contract Reenterer {
    RollupPortal internal immutable portal;
    RollupPortal.WithdrawalTransaction internal inner;
    bytes public innerRevert;
    bool public innerSucceeded;

    constructor(RollupPortal portal_) {
        portal = portal_;
    }

    function setInner(RollupPortal.WithdrawalTransaction calldata w) external {
        inner = w;
    }

    receive() external payable {
        _reenter();
    }

    fallback() external payable {
        _reenter();
    }

    function _reenter() internal {
        try portal.finalizeWithdrawalTransaction(inner) {
            innerSucceeded = true;
        } catch (bytes memory reason) {
            innerRevert = reason;
        }
    }
}

contract RollupPortalTest is RollupTestBase {
    event TransactionDeposited(
        address indexed from, address indexed to, uint256 indexed depositNonce, bytes opaqueData
    );
    event WithdrawalProven(
        bytes32 indexed withdrawalHash, address indexed from, address indexed to
    );
    event WithdrawalFinalized(bytes32 indexed withdrawalHash, bool success);

    address internal alice;
    address internal bob;

    function setUp() public {
        _deployRollup();
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        vm.deal(alice, 100 ether);
        vm.deal(address(portal), 10 ether); // ETH locked by earlier deposits
    }

    // ================================================================ deposits

    function test_DepositFromEOA() public {
        bytes memory data = hex"c0ffee";
        bytes memory opaque =
            abi.encodePacked(uint256(1 ether), uint256(0.4 ether), uint64(80_000), false, data);
        vm.expectEmit(true, true, true, true, address(portal));
        emit TransactionDeposited(alice, bob, 0, opaque);
        vm.prank(alice, alice);
        portal.depositTransaction{value: 1 ether}(bob, 0.4 ether, 80_000, false, data);
        assertEq(address(portal).balance, 11 ether);
        assertEq(portal.nextDepositNonce(), 1);
    }

    /// The event's bytes, checked field by field.
    function test_DepositEventBytes() public {
        bytes memory data = hex"0102030405";
        vm.recordLogs();
        vm.prank(alice, alice);
        portal.depositTransaction{value: 7}(bob, 3, 21_080, false, data);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1);
        assertEq(logs[0].emitter, address(portal));
        assertEq(logs[0].topics.length, 4);
        assertEq(
            logs[0].topics[0], keccak256("TransactionDeposited(address,address,uint256,bytes)")
        );
        assertEq(logs[0].topics[1], bytes32(uint256(uint160(alice))));
        assertEq(logs[0].topics[2], bytes32(uint256(uint160(bob))));
        assertEq(logs[0].topics[3], bytes32(0));
        bytes memory opaque = abi.decode(logs[0].data, (bytes));
        // 32 mint + 32 value + 8 gas + 1 isCreation + data
        assertEq(opaque.length, 73 + 5);
        assertEq(
            opaque,
            hex"0000000000000000000000000000000000000000000000000000000000000007"
            hex"0000000000000000000000000000000000000000000000000000000000000003"
            hex"0000000000005258" hex"00" hex"0102030405"
        );
        (uint256 mint, uint256 value, uint64 gasLimit, bool isCreation, bytes memory d) =
            _decodeOpaque(opaque);
        assertEq(mint, 7);
        assertEq(value, 3);
        assertEq(uint256(gasLimit), 21_080);
        assertFalse(isCreation);
        assertEq(d, data);
    }

    function test_DepositNonceCounts() public {
        for (uint256 i = 0; i < 3; i++) {
            vm.expectEmit(true, true, true, false, address(portal));
            emit TransactionDeposited(alice, bob, i, "");
            vm.prank(alice, alice);
            portal.depositTransaction(bob, 0, 21_000, false, "");
        }
        assertEq(portal.nextDepositNonce(), 3);
    }

    function test_DepositFromContractIsAliased() public {
        DepositingContract c = new DepositingContract();
        address aliased;
        unchecked {
            aliased =
                address(uint160(address(c)) + uint160(0x1111000000000000000000000000000000001111));
        }
        assertEq(applyL1ToL2Alias(address(c)), aliased);
        vm.expectEmit(true, true, true, true, address(portal));
        emit TransactionDeposited(
            aliased, bob, 0, abi.encodePacked(uint256(5), uint256(5), uint64(30_000), false)
        );
        vm.prank(alice, alice);
        c.deposit{value: 5}(portal, bob, 30_000, "");
    }

    function test_DepositFromConstructorIsAliased() public {
        // The address a contract gets from this test contract's next CREATE is unknown here,
        // so read it back from the event.
        vm.recordLogs();
        vm.prank(alice, alice);
        ConstructorDepositor c = new ConstructorDepositor{value: 1}(portal);
        Vm.Log memory log = _findLog(vm.getRecordedLogs(), TransactionDeposited.selector);
        assertEq(log.topics[1], bytes32(uint256(uint160(applyL1ToL2Alias(address(c))))));
        assertEq(log.topics[2], bytes32(uint256(uint160(address(c)))));
    }

    /// Aliasing wraps around modulo 2^160.
    function test_AliasWraps() public {
        address high = address(type(uint160).max);
        address expected = address(uint160(0x1111000000000000000000000000000000001110));
        assertEq(applyL1ToL2Alias(high), expected);
        vm.expectEmit(true, true, true, false, address(portal));
        emit TransactionDeposited(expected, bob, 0, "");
        vm.prank(high); // tx.origin is not `high`: a contract
        portal.depositTransaction(bob, 0, 21_000, false, "");
    }

    function test_ReceiveDepositsToSender() public {
        vm.expectEmit(true, true, true, true, address(portal));
        emit TransactionDeposited(
            alice,
            alice,
            0,
            abi.encodePacked(uint256(2 ether), uint256(2 ether), uint64(100_000), false)
        );
        vm.prank(alice, alice);
        (bool ok,) = address(portal).call{value: 2 ether}("");
        assertTrue(ok);
        assertEq(address(portal).balance, 12 ether);
    }

    function test_ReceiveFromContract() public {
        DepositingContract c = new DepositingContract();
        // from is aliased, to is the contract itself (as OP).
        vm.expectEmit(true, true, true, true, address(portal));
        emit TransactionDeposited(
            applyL1ToL2Alias(address(c)),
            address(c),
            0,
            abi.encodePacked(uint256(9), uint256(9), uint64(100_000), false)
        );
        vm.prank(alice, alice);
        c.send{value: 9}(portal);
    }

    function test_DepositCreation() public {
        bytes memory initCode = hex"600a600c600039600a6000f3";
        vm.expectEmit(true, true, true, true, address(portal));
        emit TransactionDeposited(
            alice,
            address(0),
            0,
            abi.encodePacked(uint256(0), uint256(0), uint64(1_000_000), true, initCode)
        );
        vm.prank(alice, alice);
        portal.depositTransaction(address(0), 0, 1_000_000, true, initCode);
    }

    function test_RevertWhen_CreationWithTarget() public {
        vm.expectRevert(abi.encodeWithSelector(RollupPortal.CreationWithTarget.selector, bob));
        vm.prank(alice, alice);
        portal.depositTransaction(bob, 0, 1_000_000, true, hex"00");
    }

    function test_GasLimitBounds() public {
        bytes memory data = new bytes(100);
        uint64 minimum = 21_000 + 16 * 100;
        assertEq(portal.minimumGasLimit(100), minimum);
        vm.startPrank(alice, alice);
        vm.expectRevert(
            abi.encodeWithSelector(RollupPortal.GasLimitTooLow.selector, minimum - 1, minimum)
        );
        portal.depositTransaction(bob, 0, minimum - 1, false, data);
        portal.depositTransaction(bob, 0, minimum, false, data);

        vm.expectRevert(
            abi.encodeWithSelector(RollupPortal.GasLimitTooLow.selector, 20_999, 21_000)
        );
        portal.depositTransaction(bob, 0, 20_999, false, "");
        portal.depositTransaction(bob, 0, 21_000, false, "");

        portal.depositTransaction(bob, 0, 20_000_000, false, data);
        vm.expectRevert(
            abi.encodeWithSelector(RollupPortal.GasLimitTooHigh.selector, 20_000_001, 20_000_000)
        );
        portal.depositTransaction(bob, 0, 20_000_001, false, data);
        vm.stopPrank();
        assertEq(portal.nextDepositNonce(), 3);
    }

    function testFuzz_GasLimitBounds(uint64 gasLimit, uint16 len) public {
        bytes memory data = new bytes(len);
        uint256 minimum = 21_000 + 16 * uint256(len);
        vm.prank(alice, alice);
        if (gasLimit < minimum) {
            vm.expectRevert(
                abi.encodeWithSelector(RollupPortal.GasLimitTooLow.selector, gasLimit, minimum)
            );
        } else if (gasLimit > 20_000_000) {
            vm.expectRevert(
                abi.encodeWithSelector(RollupPortal.GasLimitTooHigh.selector, gasLimit, 20_000_000)
            );
        }
        portal.depositTransaction(bob, 0, gasLimit, false, data);
    }

    // ================================================================ withdrawals (Rust fixture)

    function _fixture(uint256 i)
        internal
        pure
        returns (RollupPortal.WithdrawalTransaction memory w, bytes memory proof)
    {
        SmtVectors.Withdrawal memory f = SmtVectors.withdrawal(i);
        w = RollupPortal.WithdrawalTransaction({
            nonce: f.nonce,
            sender: f.sender,
            target: f.target,
            value: f.value,
            gasLimit: f.gasLimit,
            data: f.data
        });
        proof = f.proof;
    }

    function _fixtureOutput() internal pure returns (RollupPortal.OutputRootProof memory) {
        return RollupPortal.OutputRootProof({
            version: bytes32(0),
            stateRoot: SmtVectors.STATE_ROOT,
            messagePasserStorageRoot: SmtVectors.MESSAGE_PASSER_STORAGE_ROOT,
            latestBlockhash: SmtVectors.L2_BLOCK_HASH
        });
    }

    /// The Rust fixture agrees with the portal on hashes, keys and the output root.
    function test_FixtureMatchesPortalHashing() public view {
        assertEq(_outputRoot(_fixtureOutput()), SmtVectors.OUTPUT_ROOT);
        for (uint256 i = 0; i < SmtVectors.WITHDRAWAL_COUNT; i++) {
            (RollupPortal.WithdrawalTransaction memory w,) = _fixture(i);
            SmtVectors.Withdrawal memory f = SmtVectors.withdrawal(i);
            assertEq(portal.hashWithdrawal(w), f.withdrawalHash);
            assertEq(portal.withdrawalStorageKey(f.withdrawalHash), f.storageKey);
        }
    }

    function test_ProveWithRustProof() public {
        uint256 index = _propose(SmtVectors.OUTPUT_ROOT);
        for (uint256 i = 0; i < SmtVectors.WITHDRAWAL_COUNT; i++) {
            (RollupPortal.WithdrawalTransaction memory w, bytes memory proof) = _fixture(i);
            bytes32 h = SmtVectors.withdrawal(i).withdrawalHash;
            vm.expectEmit(true, true, true, true, address(portal));
            emit WithdrawalProven(h, w.sender, w.target);
            portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);
            (bytes32 root, uint128 ts, uint128 idx) = portal.provenWithdrawals(h);
            assertEq(root, SmtVectors.OUTPUT_ROOT);
            assertEq(uint256(ts), block.timestamp);
            assertEq(uint256(idx), index);
        }
    }

    function test_RevertWhen_WrongWithdrawalProof() public {
        uint256 index = _propose(SmtVectors.OUTPUT_ROOT);
        (RollupPortal.WithdrawalTransaction memory w0,) = _fixture(0);
        (, bytes memory proof1) = _fixture(1);
        bytes32 h0 = SmtVectors.withdrawal(0).withdrawalHash;
        RollupPortal.OutputRootProof memory orp = _fixtureOutput();

        // another withdrawal's proof
        vm.expectRevert(abi.encodeWithSelector(RollupPortal.InvalidWithdrawalProof.selector, h0));
        portal.proveWithdrawalTransaction(w0, index, orp, proof1);
        // empty and truncated proofs
        vm.expectRevert(abi.encodeWithSelector(RollupPortal.InvalidWithdrawalProof.selector, h0));
        portal.proveWithdrawalTransaction(w0, index, orp, "");
        (, bytes memory proof0) = _fixture(0);
        bytes memory cut = new bytes(proof0.length - 1);
        for (uint256 i = 0; i < cut.length; i++) {
            cut[i] = proof0[i];
        }
        vm.expectRevert(abi.encodeWithSelector(RollupPortal.InvalidWithdrawalProof.selector, h0));
        portal.proveWithdrawalTransaction(w0, index, orp, cut);
        // a withdrawal that was never sent (its fields changed)
        w0.value += 1;
        bytes32 forged = _hash(w0);
        vm.expectRevert(
            abi.encodeWithSelector(RollupPortal.InvalidWithdrawalProof.selector, forged)
        );
        portal.proveWithdrawalTransaction(w0, index, orp, proof0);
    }

    function test_RevertWhen_WrongOutputRootProof() public {
        uint256 index = _propose(SmtVectors.OUTPUT_ROOT);
        (RollupPortal.WithdrawalTransaction memory w, bytes memory proof) = _fixture(0);
        RollupPortal.OutputRootProof memory orp = _fixtureOutput();
        orp.stateRoot = keccak256("other state");
        vm.expectRevert(
            abi.encodeWithSelector(
                RollupPortal.InvalidOutputRootProof.selector,
                SmtVectors.OUTPUT_ROOT,
                _outputRoot(orp)
            )
        );
        portal.proveWithdrawalTransaction(w, index, orp, proof);

        // A storage root that holds the withdrawal but is not the output's.
        orp = _fixtureOutput();
        (bytes32 otherRoot, bytes memory otherProof) =
            SmtTestTree.oneLeaf(_storageKey(_hash(w)), bytes32(uint256(1)));
        orp.messagePasserStorageRoot = otherRoot;
        vm.expectRevert(
            abi.encodeWithSelector(
                RollupPortal.InvalidOutputRootProof.selector,
                SmtVectors.OUTPUT_ROOT,
                _outputRoot(orp)
            )
        );
        portal.proveWithdrawalTransaction(w, index, orp, otherProof);

        orp = _fixtureOutput();
        orp.version = bytes32(uint256(1));
        vm.expectRevert(
            abi.encodeWithSelector(
                RollupPortal.UnsupportedOutputVersion.selector, bytes32(uint256(1))
            )
        );
        portal.proveWithdrawalTransaction(w, index, orp, proof);

        // no output at that index
        vm.expectRevert(abi.encodeWithSelector(L2OutputOracle.OutputNotFound.selector, index + 1));
        portal.proveWithdrawalTransaction(w, index + 1, _fixtureOutput(), proof);
    }

    function test_RevertWhen_ProvingAgainstTheWrongOutput() public {
        uint256 i0 = _propose(SmtVectors.OUTPUT_ROOT);
        uint256 i1 = _propose(keccak256("another output"));
        (RollupPortal.WithdrawalTransaction memory w, bytes memory proof) = _fixture(0);
        vm.expectRevert(
            abi.encodeWithSelector(
                RollupPortal.InvalidOutputRootProof.selector,
                keccak256("another output"),
                SmtVectors.OUTPUT_ROOT
            )
        );
        portal.proveWithdrawalTransaction(w, i1, _fixtureOutput(), proof);
        portal.proveWithdrawalTransaction(w, i0, _fixtureOutput(), proof);
    }

    function test_RevertWhen_TargetIsPortal() public {
        uint256 index = _propose(SmtVectors.OUTPUT_ROOT);
        (RollupPortal.WithdrawalTransaction memory w, bytes memory proof) = _fixture(0);
        w.target = address(portal);
        vm.expectRevert(RollupPortal.BadTarget.selector);
        portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);
    }

    function test_ReproveDoesNotResetTimer() public {
        uint256 index = _propose(SmtVectors.OUTPUT_ROOT);
        (RollupPortal.WithdrawalTransaction memory w, bytes memory proof) = _fixture(0);
        bytes32 h = SmtVectors.withdrawal(0).withdrawalHash;
        portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);
        uint256 provenAt = block.timestamp;

        vm.warp(provenAt + PERIOD - 1);
        vm.expectRevert(abi.encodeWithSelector(RollupPortal.AlreadyProven.selector, h));
        portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);

        // Against a later output that also holds it: still refused.
        uint256 later = _propose(SmtVectors.OUTPUT_ROOT);
        vm.expectRevert(abi.encodeWithSelector(RollupPortal.AlreadyProven.selector, h));
        portal.proveWithdrawalTransaction(w, later, _fixtureOutput(), proof);

        (, uint128 ts,) = portal.provenWithdrawals(h);
        assertEq(uint256(ts), provenAt);
        vm.warp(provenAt + PERIOD);
        portal.finalizeWithdrawalTransaction(w);
        assertTrue(portal.finalizedWithdrawals(h));
    }

    function test_ReproveAfterOutputDeleted() public {
        uint256 index = _propose(SmtVectors.OUTPUT_ROOT);
        (RollupPortal.WithdrawalTransaction memory w, bytes memory proof) = _fixture(0);
        bytes32 h = SmtVectors.withdrawal(0).withdrawalHash;
        portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);

        vm.warp(block.timestamp + 1 days);
        vm.prank(challenger);
        oracle.deleteL2Outputs(index);

        // Finalizing against the deleted output fails ...
        vm.warp(block.timestamp + PERIOD);
        vm.expectRevert(abi.encodeWithSelector(RollupPortal.OutputChanged.selector, index));
        portal.finalizeWithdrawalTransaction(w);

        // ... and while no output is at the index, proving again is allowed as well, once one
        // is: here a corrected output (same storage, another block hash).
        RollupPortal.OutputRootProof memory orp = _fixtureOutput();
        orp.latestBlockhash = keccak256("corrected block");
        uint256 replacement = _propose(_outputRoot(orp));
        assertEq(replacement, index);
        vm.expectEmit(true, true, true, true, address(portal));
        emit WithdrawalProven(h, w.sender, w.target);
        portal.proveWithdrawalTransaction(w, replacement, orp, proof);
        (bytes32 root, uint128 ts,) = portal.provenWithdrawals(h);
        assertEq(root, _outputRoot(orp));
        assertEq(uint256(ts), block.timestamp);

        // The new proof starts its own period.
        vm.expectRevert(
            abi.encodeWithSelector(RollupPortal.ProofNotMatured.selector, block.timestamp + PERIOD)
        );
        portal.finalizeWithdrawalTransaction(w);
        vm.warp(block.timestamp + PERIOD);
        portal.finalizeWithdrawalTransaction(w);
        assertEq(w.target.balance, 1 ether);
    }

    /// The challenger deletes the output and the same root is posted again: the old proof
    /// still holds (so proving again is refused), but finalization waits for the new output.
    function test_SameRootReposted() public {
        uint256 index = _propose(SmtVectors.OUTPUT_ROOT);
        (RollupPortal.WithdrawalTransaction memory w, bytes memory proof) = _fixture(0);
        bytes32 h = SmtVectors.withdrawal(0).withdrawalHash;
        portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);
        uint256 provenAt = block.timestamp;

        vm.warp(provenAt + 3 days);
        vm.prank(challenger);
        oracle.deleteL2Outputs(index);
        _propose(SmtVectors.OUTPUT_ROOT);
        uint256 repostedAt = block.timestamp;

        vm.expectRevert(abi.encodeWithSelector(RollupPortal.AlreadyProven.selector, h));
        portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);

        vm.warp(provenAt + PERIOD);
        vm.expectRevert(
            abi.encodeWithSelector(RollupPortal.OutputNotMatured.selector, repostedAt + PERIOD)
        );
        portal.finalizeWithdrawalTransaction(w);
        vm.warp(repostedAt + PERIOD);
        portal.finalizeWithdrawalTransaction(w);
        assertTrue(portal.finalizedWithdrawals(h));
    }

    function test_FinalizeWithRustProof() public {
        uint256 index = _propose(SmtVectors.OUTPUT_ROOT);
        (RollupPortal.WithdrawalTransaction memory w, bytes memory proof) = _fixture(0);
        bytes32 h = SmtVectors.withdrawal(0).withdrawalHash;
        portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);

        vm.warp(block.timestamp + PERIOD);
        uint256 before = address(portal).balance;
        vm.expectEmit(true, true, true, true, address(portal));
        emit WithdrawalFinalized(h, true);
        vm.prank(bob); // anyone may finalize
        portal.finalizeWithdrawalTransaction(w);
        assertEq(w.target.balance, 1 ether);
        assertEq(address(portal).balance, before - 1 ether);
        assertTrue(portal.finalizedWithdrawals(h));
        assertEq(portal.l2Sender(), portal.DEFAULT_L2_SENDER());
    }

    function test_RevertWhen_FinalizeEarly() public {
        uint256 index = _propose(SmtVectors.OUTPUT_ROOT);
        uint256 postedAt = block.timestamp;
        (RollupPortal.WithdrawalTransaction memory w, bytes memory proof) = _fixture(0);
        // Proven a day after the output was posted.
        vm.warp(postedAt + 1 days);
        portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);
        uint256 provenAt = block.timestamp;

        vm.expectRevert(
            abi.encodeWithSelector(RollupPortal.ProofNotMatured.selector, provenAt + PERIOD)
        );
        portal.finalizeWithdrawalTransaction(w);
        // The output is old enough, the proof is not.
        vm.warp(postedAt + PERIOD);
        vm.expectRevert(
            abi.encodeWithSelector(RollupPortal.ProofNotMatured.selector, provenAt + PERIOD)
        );
        portal.finalizeWithdrawalTransaction(w);
        vm.warp(provenAt + PERIOD - 1);
        vm.expectRevert(
            abi.encodeWithSelector(RollupPortal.ProofNotMatured.selector, provenAt + PERIOD)
        );
        portal.finalizeWithdrawalTransaction(w);
        vm.warp(provenAt + PERIOD);
        portal.finalizeWithdrawalTransaction(w);
    }

    function test_RevertWhen_FinalizeUnproven() public {
        (RollupPortal.WithdrawalTransaction memory w,) = _fixture(0);
        vm.expectRevert(
            abi.encodeWithSelector(
                RollupPortal.NotProven.selector, SmtVectors.withdrawal(0).withdrawalHash
            )
        );
        portal.finalizeWithdrawalTransaction(w);
    }

    function test_RevertWhen_DoubleFinalize() public {
        uint256 index = _propose(SmtVectors.OUTPUT_ROOT);
        (RollupPortal.WithdrawalTransaction memory w, bytes memory proof) = _fixture(0);
        bytes32 h = SmtVectors.withdrawal(0).withdrawalHash;
        portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);
        vm.warp(block.timestamp + PERIOD);
        portal.finalizeWithdrawalTransaction(w);

        vm.expectRevert(abi.encodeWithSelector(RollupPortal.AlreadyFinalized.selector, h));
        portal.finalizeWithdrawalTransaction(w);
        // nor can it be proven again
        vm.expectRevert(abi.encodeWithSelector(RollupPortal.AlreadyFinalized.selector, h));
        portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);
        assertEq(w.target.balance, 1 ether);
    }

    /// A failing target call burns nothing: the withdrawal stays proven and open, the ETH
    /// stays in the portal, and anyone may try again; once the call succeeds it is paid once.
    function test_FailedTargetCallIsRetried() public {
        uint256 index = _propose(SmtVectors.OUTPUT_ROOT);
        (RollupPortal.WithdrawalTransaction memory w, bytes memory proof) = _fixture(1);
        bytes32 h = SmtVectors.withdrawal(1).withdrawalHash;
        vm.etch(w.target, hex"60006000fd"); // PUSH1 0 PUSH1 0 REVERT
        portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);
        vm.warp(block.timestamp + PERIOD);

        uint256 before = address(portal).balance;
        vm.expectEmit(true, true, true, true, address(portal));
        emit WithdrawalFinalized(h, false);
        vm.prank(makeAddr("third party"));
        portal.finalizeWithdrawalTransaction(w);
        assertFalse(portal.finalizedWithdrawals(h));
        assertTrue(portal.failedWithdrawals(h));
        assertEq(address(portal).balance, before);
        assertEq(w.target.balance, 0);
        assertEq(portal.l2Sender(), portal.DEFAULT_L2_SENDER());
        // still failing: still open
        portal.finalizeWithdrawalTransaction(w);
        assertFalse(portal.finalizedWithdrawals(h));
        // nor can it be proven again while its output stands (the timer is not reset)
        vm.expectRevert(abi.encodeWithSelector(RollupPortal.AlreadyProven.selector, h));
        portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);

        vm.etch(w.target, hex""); // the target can receive now
        vm.expectEmit(true, true, true, true, address(portal));
        emit WithdrawalFinalized(h, true);
        portal.finalizeWithdrawalTransaction(w);
        assertTrue(portal.finalizedWithdrawals(h));
        assertEq(address(portal).balance, before - w.value);
        assertEq(w.target.balance, w.value);
        vm.expectRevert(abi.encodeWithSelector(RollupPortal.AlreadyFinalized.selector, h));
        portal.finalizeWithdrawalTransaction(w);
        assertEq(w.target.balance, w.value);
    }

    /// Nobody can make a withdrawal fail by finalizing it with too little gas.
    function test_RevertWhen_InsufficientGas() public {
        uint256 index = _propose(SmtVectors.OUTPUT_ROOT);
        (RollupPortal.WithdrawalTransaction memory w, bytes memory proof) = _fixture(2); // 300k gas
        bytes32 h = SmtVectors.withdrawal(2).withdrawalHash;
        portal.proveWithdrawalTransaction(w, index, _fixtureOutput(), proof);
        vm.warp(block.timestamp + PERIOD);

        vm.expectRevert(RollupPortal.InsufficientGas.selector);
        portal.finalizeWithdrawalTransaction{gas: 300_000}(w);
        assertFalse(portal.finalizedWithdrawals(h));
        portal.finalizeWithdrawalTransaction{gas: 450_000}(w);
        assertTrue(portal.finalizedWithdrawals(h));
    }

    // ================================================================ withdrawals (test-built trees)

    function test_TargetSeesL2SenderValueDataAndGas() public {
        Recorder r = new Recorder(portal);
        RollupPortal.WithdrawalTransaction memory w = RollupPortal.WithdrawalTransaction({
            nonce: 7,
            sender: alice,
            target: address(r),
            value: 0.25 ether,
            gasLimit: 200_000,
            data: hex"abcdef"
        });
        _proveAlone(w);
        vm.warp(block.timestamp + PERIOD);
        portal.finalizeWithdrawalTransaction(w);
        assertEq(r.seenL2Sender(), alice);
        assertEq(r.seenValue(), 0.25 ether);
        assertEq(r.seenData(), hex"abcdef");
        // The call got gasLimit (+ the 2300 stipend for a value transfer) gas, less what ran
        // before `gasleft()`.
        assertTrue(r.seenGas() > 200_000 - 1_000 && r.seenGas() <= 202_300, "forwarded gas");
        assertEq(portal.l2Sender(), portal.DEFAULT_L2_SENDER());
    }

    function test_TwoLeafTreeProofs() public {
        RollupPortal.WithdrawalTransaction memory a =
            RollupPortal.WithdrawalTransaction(1, alice, bob, 1, 50_000, "");
        RollupPortal.WithdrawalTransaction memory b =
            RollupPortal.WithdrawalTransaction(2, alice, bob, 2, 50_000, "");
        (bytes32 root, bytes memory pa, bytes memory pb) = SmtTestTree.twoLeaves(
            _storageKey(_hash(a)), bytes32(uint256(1)), _storageKey(_hash(b)), bytes32(uint256(1))
        );
        RollupPortal.OutputRootProof memory orp = _outputRootProof(root, keccak256("b"));
        uint256 index = _propose(_outputRoot(orp));
        portal.proveWithdrawalTransaction(a, index, orp, pa);
        portal.proveWithdrawalTransaction(b, index, orp, pb);
        vm.warp(block.timestamp + PERIOD);
        portal.finalizeWithdrawalTransaction(a);
        portal.finalizeWithdrawalTransaction(b);
        assertEq(bob.balance, 3);
    }

    /// A withdrawal target that re-enters finalizeWithdrawalTransaction is stopped by the
    /// guard; its own withdrawal completes, the inner one stays pending.
    function test_ReentrancyBlocked() public {
        Reenterer attacker = new Reenterer(portal);
        RollupPortal.WithdrawalTransaction memory outer =
            RollupPortal.WithdrawalTransaction(1, alice, address(attacker), 0, 500_000, "");
        RollupPortal.WithdrawalTransaction memory inner =
            RollupPortal.WithdrawalTransaction(2, alice, bob, 1 ether, 100_000, "");
        (bytes32 root, bytes memory po, bytes memory pi) = SmtTestTree.twoLeaves(
            _storageKey(_hash(outer)),
            bytes32(uint256(1)),
            _storageKey(_hash(inner)),
            bytes32(uint256(1))
        );
        RollupPortal.OutputRootProof memory orp = _outputRootProof(root, keccak256("b"));
        uint256 index = _propose(_outputRoot(orp));
        portal.proveWithdrawalTransaction(outer, index, orp, po);
        portal.proveWithdrawalTransaction(inner, index, orp, pi);
        vm.warp(block.timestamp + PERIOD);

        attacker.setInner(inner);
        vm.expectEmit(true, true, true, true, address(portal));
        emit WithdrawalFinalized(_hash(outer), true);
        portal.finalizeWithdrawalTransaction(outer);
        assertEq(
            attacker.innerRevert(), abi.encodeWithSelector(ReentrancyGuard.ReentrantCall.selector)
        );
        assertFalse(attacker.innerSucceeded());
        assertFalse(portal.finalizedWithdrawals(_hash(inner)));
        assertEq(bob.balance, 0);

        // The inner withdrawal can be finalized normally afterwards.
        portal.finalizeWithdrawalTransaction(inner);
        assertEq(bob.balance, 1 ether);
    }

    /// Re-entering for the same withdrawal is refused too (and it is already marked final).
    function test_ReentrancySameWithdrawal() public {
        Reenterer attacker = new Reenterer(portal);
        RollupPortal.WithdrawalTransaction memory w =
            RollupPortal.WithdrawalTransaction(1, alice, address(attacker), 1 ether, 500_000, "");
        attacker.setInner(w);
        _proveAlone(w);
        vm.warp(block.timestamp + PERIOD);
        uint256 before = address(portal).balance;
        portal.finalizeWithdrawalTransaction(w);
        assertEq(
            attacker.innerRevert(), abi.encodeWithSelector(ReentrancyGuard.ReentrantCall.selector)
        );
        assertEq(address(attacker).balance, 1 ether);
        assertEq(address(portal).balance, before - 1 ether);
    }
}
