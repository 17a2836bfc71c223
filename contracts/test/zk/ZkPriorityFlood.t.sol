// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {console} from "../utils/Test.sol";
import {ZkRollup} from "../../src/zk/ZkRollup.sol";
import {AcceptingVerifier, ZkRollupEncoding} from "./ZkRollup.t.sol";

/// @dev A spammer fills a whole 30M-gas L1 block with free full-exit requests. An operator
///      that lands a block of `W` priority operations every `INTERVAL` L1 blocks (its
///      configured capacity) serves every one before its deadline, and nobody can switch the
///      rollup to exodus mode; an operator that stops still lets anyone do so at the first
///      unserved request's deadline. (Blocks are checked here by a verifier that accepts any
///      proof: what is under test is the queue's clock, not the proof.)
contract ZkPriorityFloodTest is ZkRollupEncoding {
    uint64 internal constant FLOOD_INTERVAL = 2;
    uint64 internal constant FLOOD_EXPIRY = 10;
    uint256 internal constant L1_BLOCK_GAS = 30_000_000;
    uint256 internal constant START = 1000;

    ZkRollup internal rollup;
    address internal validator;
    address internal attacker;
    uint256[8] internal proof;

    function setUp() public {
        vm.roll(START);
        validator = makeAddr("validator");
        attacker = makeAddr("attacker");
        AcceptingVerifier v = new AcceptingVerifier();
        rollup = new ZkRollup(
            v,
            v,
            GENESIS,
            validator,
            makeAddr("governor"),
            W,
            T,
            DEPTH,
            ACCOUNT_DEPTH,
            FLOOD_EXPIRY,
            FLOOD_INTERVAL,
            MIN_DEPOSIT
        );
    }

    /// As many full-exit requests as one L1 block's gas buys (each counted at 21,000 for its
    /// transaction plus what the call costs here: warm storage makes that a little cheaper
    /// than in separate transactions, so the flood is, if anything, larger than real).
    function _flood() internal returns (uint256 n) {
        vm.startPrank(attacker);
        rollup.requestFullExit(0, 0);
        // the second request, with the contract's own slots warm: the cheapest one
        uint256 before = gasleft();
        rollup.requestFullExit(1, 0);
        uint256 each = 21_000 + before - gasleft();
        n = L1_BLOCK_GAS / each;
        for (uint256 i = 2; i < n; i++) {
            // forge-lint: disable-next-line(unsafe-typecast)
            rollup.requestFullExit(uint24(i % 256), 0);
        }
        vm.stopPrank();
        console.log("full-exit requests in one 30M-gas L1 block:", n);
        console.log("gas each (with the transaction's 21,000):", each);
        assertTrue(n > 300, "a full block of requests");
    }

    /// The next block of the operator: the `W` oldest waiting requests (full exits of
    /// accounts the attacker does not own: amount 0).
    function _serveNext(uint32 number) internal {
        uint64 first = rollup.firstPriorityRequestId();
        uint64 total = rollup.totalPriorityRequests();
        uint256 count = total - first < W ? total - first : W;
        bytes[] memory wide = new bytes[](count);
        for (uint256 i = 0; i < count; i++) {
            // forge-lint: disable-next-line(unsafe-typecast)
            (address owner,,,,, uint24 account) = rollup.priorityRequests(first + uint64(i));
            wide[i] = _fullExit(account, 0, 0, owner);
        }
        vm.prank(validator);
        rollup.submitBlock(number, _root(number), _pubdata(wide, ""), new bytes[](0), proof);
    }

    function _err(bytes4 selector) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector);
    }

    function _expectNoExodus() internal {
        uint64 first = rollup.firstPriorityRequestId();
        if (first == rollup.totalPriorityRequests()) {
            vm.expectRevert(_err(ZkRollup.NoPendingPriorityRequest.selector));
        } else {
            (, uint64 expiration,,,,) = rollup.priorityRequests(first);
            assertTrue(
                block.number < expiration, "a request expired before the operator reached it"
            );
            vm.expectRevert(
                abi.encodeWithSelector(
                    ZkRollup.PriorityRequestNotExpired.selector, first, expiration
                )
            );
        }
        rollup.activateExodusMode();
    }

    function test_FloodOfOneL1BlockIsServedBeforeAnyDeadline() public {
        uint256 n = _flood();
        // the last request's deadline counts the queue ahead of it: n·INTERVAL/W L1 blocks
        (, uint64 last,,,,) = rollup.priorityRequests(uint64(n - 1));
        assertEq(uint256(last), START + (n * FLOOD_INTERVAL + W - 1) / W + FLOOD_EXPIRY);
        // an honest user's deposit right behind the flood
        vm.deal(address(this), 1 ether);
        rollup.depositETH{value: MIN_DEPOSIT}(address(this));
        // the operator at capacity: a block of W priority operations every INTERVAL L1 blocks,
        // starting in the block after the flood; before each one, nobody can freeze the rollup
        uint32 number = 0;
        while (rollup.firstPriorityRequestId() < rollup.totalPriorityRequests()) {
            vm.roll(block.number + FLOOD_INTERVAL);
            _expectNoExodus();
            if (rollup.firstPriorityRequestId() + W >= rollup.totalPriorityRequests()) {
                // the last block holds the honest deposit: a deposit op, not a full exit
                break;
            }
            _serveNext(++number);
        }
        uint64 first = rollup.firstPriorityRequestId();
        uint256 left = rollup.totalPriorityRequests() - first;
        bytes[] memory wide = new bytes[](left);
        for (uint256 i = 0; i + 1 < left; i++) {
            (address owner,,,,, uint24 account) = rollup.priorityRequests(first + uint64(i));
            wide[i] = _fullExit(account, 0, 0, owner);
        }
        wide[left - 1] = _deposit(1, 0, MIN_DEPOSIT, address(this));
        vm.prank(validator);
        rollup.submitBlock(++number, _root(number), _pubdata(wide, ""), new bytes[](0), proof);
        _expectNoExodus();
        assertEq(uint256(rollup.firstPriorityRequestId()), n + 1);
        console.log("blocks the operator needed:", uint256(number));
        console.log("L1 blocks after the flood:", block.number - START);
    }

    /// The operator serves part of the flood, then stops: at the first unserved request's
    /// deadline (not a block earlier) anyone can switch to exodus mode.
    function test_ExodusStillStartsWhenTheOperatorStops() public {
        _flood();
        for (uint32 number = 1; number <= 10; number++) {
            vm.roll(block.number + FLOOD_INTERVAL);
            _expectNoExodus();
            _serveNext(number);
        }
        (, uint64 expiration,,,,) = rollup.priorityRequests(rollup.firstPriorityRequestId());
        vm.roll(expiration - 1);
        _expectNoExodus();
        vm.roll(expiration);
        rollup.activateExodusMode();
        assertTrue(rollup.exodusMode());
    }
}
