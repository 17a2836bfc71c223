// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Test, Vm} from "./utils/Test.sol";
import {DevnetProbe} from "../src/DevnetProbe.sol";

contract DevnetProbeTest is Test {
    event ValueSet(address indexed who, uint256 value);
    event LabelSet(address indexed who, string label);

    DevnetProbe internal probe;
    address internal alice;

    function setUp() public {
        probe = new DevnetProbe();
        alice = makeAddr("alice");
    }

    function test_InitialState() public view {
        assertEq(probe.value(), 0);
        assertEq(probe.label(), "loft");
        assertEq(probe.lastSetter(), address(0));
        assertEq(probe.setCount(), 0);
    }

    function test_Set() public {
        vm.expectEmit(true, false, false, true, address(probe));
        emit ValueSet(alice, 42);
        vm.prank(alice);
        probe.set(42);
        assertEq(probe.value(), 42);
        assertEq(probe.lastSetter(), alice);
        assertEq(probe.setCount(), 1);
    }

    /// The client tests read these slots directly: keep the layout stable.
    function test_StorageLayout() public {
        vm.prank(alice);
        probe.set(42);
        assertEq(vm.load(address(probe), bytes32(uint256(0))), bytes32(uint256(42)));
        // short string "loft": bytes left-aligned, length*2 in the lowest byte
        assertEq(
            vm.load(address(probe), bytes32(uint256(1))),
            bytes32(bytes("loft")) | bytes32(uint256(4 * 2))
        );
        assertEq(vm.load(address(probe), bytes32(uint256(2))), bytes32(uint256(uint160(alice))));
        assertEq(vm.load(address(probe), bytes32(uint256(3))), bytes32(uint256(1)));
    }

    function test_SetEventViaRecordedLogs() public {
        vm.recordLogs();
        vm.prank(alice);
        probe.set(7);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1);
        assertEq(logs[0].emitter, address(probe));
        assertEq(logs[0].topics[0], keccak256("ValueSet(address,uint256)"));
        assertEq(logs[0].topics[1], bytes32(uint256(uint160(alice))));
        assertEq(logs[0].data, abi.encode(uint256(7)));
    }

    function test_RevertWhen_SetZero() public {
        vm.expectRevert(DevnetProbe.ZeroValue.selector);
        probe.set(0);
        // selector of ZeroValue() as the client tests expect it
        assertEq(bytes32(DevnetProbe.ZeroValue.selector), bytes32(bytes4(0x7c946ed7)));
    }

    function test_SetLabel() public {
        vm.expectEmit(true, false, false, true, address(probe));
        emit LabelSet(alice, "hello");
        vm.prank(alice);
        probe.setLabel("hello");
        assertEq(probe.label(), "hello");
    }

    function test_RevertWhen_SetLabelEmpty() public {
        vm.expectRevert(bytes("DevnetProbe: empty label"));
        probe.setLabel("");
    }

    function test_DoubleAndEnv() public {
        assertEq(probe.double(21), 42);
        vm.warp(1_700_000_000);
        vm.roll(99);
        (uint256 chainId, uint256 number, uint256 ts) = probe.env();
        assertEq(chainId, block.chainid);
        assertEq(number, 99);
        assertEq(ts, 1_700_000_000);
    }

    function testFuzz_Set(uint256 v) public {
        vm.assume(v != 0);
        probe.set(v);
        assertEq(probe.value(), v);
    }
}
