// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Test, Vm} from "./utils/Test.sol";
import {LoftToken} from "../src/LoftToken.sol";
import {ERC20} from "../src/ERC20.sol";

contract LoftTokenTest is Test {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    uint256 internal constant SUPPLY = 1_000_000 ether;

    LoftToken internal token;
    address internal owner;
    address internal alice;
    address internal bob;

    function setUp() public {
        owner = makeAddr("owner");
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        token = new LoftToken("Loft Token", "LOFT", 18, owner, SUPPLY);
    }

    // ------------------------------------------------------------ metadata

    function test_Metadata() public view {
        assertEq(token.name(), "Loft Token");
        assertEq(token.symbol(), "LOFT");
        assertEq(token.decimals(), 18);
        assertEq(token.totalSupply(), SUPPLY);
        assertEq(token.balanceOf(owner), SUPPLY);
        assertEq(token.owner(), owner);
    }

    function test_ConstructorEmitsMintAndOwnership() public {
        vm.recordLogs();
        LoftToken t = new LoftToken("T", "T", 6, alice, 5);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 2);
        assertEq(logs[0].topics[0], OwnershipTransferred.selector);
        assertEq(logs[1].topics[0], Transfer.selector);
        assertEq(logs[1].topics[1], bytes32(0));
        assertEq(logs[1].topics[2], bytes32(uint256(uint160(alice))));
        assertEq(abi.decode(logs[1].data, (uint256)), 5);
        assertEq(logs[1].emitter, address(t));
        assertEq(t.decimals(), 6);
    }

    function test_ConstructorZeroSupplyNoTransfer() public {
        vm.recordLogs();
        LoftToken t = new LoftToken("T", "T", 18, alice, 0);
        assertEq(vm.getRecordedLogs().length, 1);
        assertEq(t.totalSupply(), 0);
    }

    function test_RevertWhen_ConstructorZeroOwner() public {
        vm.expectRevert(abi.encodeWithSelector(LoftToken.InvalidOwner.selector, address(0)));
        new LoftToken("T", "T", 18, address(0), 1);
    }

    // ------------------------------------------------------------ transfer

    function test_Transfer() public {
        vm.expectEmit(true, true, false, true, address(token));
        emit Transfer(owner, alice, 100);
        vm.prank(owner);
        assertTrue(token.transfer(alice, 100));
        assertEq(token.balanceOf(owner), SUPPLY - 100);
        assertEq(token.balanceOf(alice), 100);
        assertEq(token.totalSupply(), SUPPLY);
    }

    function test_TransferToSelf() public {
        vm.prank(owner);
        token.transfer(owner, 7);
        assertEq(token.balanceOf(owner), SUPPLY);
    }

    function test_TransferZero() public {
        vm.prank(alice);
        assertTrue(token.transfer(bob, 0));
        assertEq(token.balanceOf(bob), 0);
    }

    function test_TransferEventViaRecordedLogs() public {
        vm.recordLogs();
        vm.prank(owner);
        token.transfer(bob, 42);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1);
        assertEq(logs[0].emitter, address(token));
        assertEq(logs[0].topics.length, 3);
        assertEq(logs[0].topics[0], keccak256("Transfer(address,address,uint256)"));
        assertEq(logs[0].topics[1], bytes32(uint256(uint160(owner))));
        assertEq(logs[0].topics[2], bytes32(uint256(uint160(bob))));
        assertEq(logs[0].data, abi.encode(uint256(42)));
    }

    function test_RevertWhen_TransferInsufficientBalance() public {
        vm.prank(owner);
        token.transfer(alice, 10);
        vm.expectRevert(
            abi.encodeWithSelector(ERC20.ERC20InsufficientBalance.selector, alice, 10, 11)
        );
        vm.prank(alice);
        token.transfer(bob, 11);
    }

    function test_RevertWhen_TransferToZero() public {
        vm.expectRevert(abi.encodeWithSelector(ERC20.ERC20InvalidReceiver.selector, address(0)));
        vm.prank(owner);
        token.transfer(address(0), 1);
    }

    function testFuzz_Transfer(uint256 amount, address to) public {
        vm.assume(to != address(0) && to != owner);
        amount = bound(amount, 0, SUPPLY);
        vm.prank(owner);
        token.transfer(to, amount);
        assertEq(token.balanceOf(to), amount);
        assertEq(token.balanceOf(owner), SUPPLY - amount);
        assertEq(token.totalSupply(), SUPPLY);
    }

    // ------------------------------------------------------------ allowances

    function test_Approve() public {
        vm.expectEmit(true, true, false, true, address(token));
        emit Approval(owner, alice, 500);
        vm.prank(owner);
        assertTrue(token.approve(alice, 500));
        assertEq(token.allowance(owner, alice), 500);
        assertEq(token.allowance(alice, owner), 0);
    }

    function test_ApproveOverwrites() public {
        vm.startPrank(owner);
        token.approve(alice, 500);
        token.approve(alice, 3);
        vm.stopPrank();
        assertEq(token.allowance(owner, alice), 3);
    }

    function test_RevertWhen_ApproveZeroSpender() public {
        vm.expectRevert(abi.encodeWithSelector(ERC20.ERC20InvalidSpender.selector, address(0)));
        vm.prank(owner);
        token.approve(address(0), 1);
    }

    function test_TransferFrom() public {
        vm.prank(owner);
        token.approve(alice, 500);

        vm.expectEmit(true, true, false, true, address(token));
        emit Transfer(owner, bob, 200);
        vm.prank(alice);
        assertTrue(token.transferFrom(owner, bob, 200));

        assertEq(token.allowance(owner, alice), 300);
        assertEq(token.balanceOf(bob), 200);
        assertEq(token.balanceOf(owner), SUPPLY - 200);
    }

    function test_TransferFromInfiniteAllowance() public {
        vm.prank(owner);
        token.approve(alice, type(uint256).max);
        vm.prank(alice);
        token.transferFrom(owner, bob, 200);
        assertEq(token.allowance(owner, alice), type(uint256).max);
    }

    function test_TransferFromDoesNotEmitApproval() public {
        vm.prank(owner);
        token.approve(alice, 500);
        vm.recordLogs();
        vm.prank(alice);
        token.transferFrom(owner, bob, 1);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1);
        assertEq(logs[0].topics[0], Transfer.selector);
    }

    function test_RevertWhen_TransferFromInsufficientAllowance() public {
        vm.prank(owner);
        token.approve(alice, 50);
        vm.expectRevert(
            abi.encodeWithSelector(ERC20.ERC20InsufficientAllowance.selector, alice, 50, 51)
        );
        vm.prank(alice);
        token.transferFrom(owner, bob, 51);
    }

    function test_RevertWhen_TransferFromInsufficientBalance() public {
        vm.prank(owner);
        token.transfer(alice, 10);
        vm.prank(alice);
        token.approve(bob, 100);
        vm.expectRevert(
            abi.encodeWithSelector(ERC20.ERC20InsufficientBalance.selector, alice, 10, 20)
        );
        vm.prank(bob);
        token.transferFrom(alice, bob, 20);
    }

    // ------------------------------------------------------------ mint / burn / owner

    function test_Mint() public {
        vm.expectEmit(true, true, false, true, address(token));
        emit Transfer(address(0), alice, 1 ether);
        vm.prank(owner);
        token.mint(alice, 1 ether);
        assertEq(token.balanceOf(alice), 1 ether);
        assertEq(token.totalSupply(), SUPPLY + 1 ether);
    }

    function test_RevertWhen_MintNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(LoftToken.Unauthorized.selector, alice));
        vm.prank(alice);
        token.mint(alice, 1);
    }

    function test_RevertWhen_MintOverflow() public {
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSignature("Panic(uint256)", 0x11));
        token.mint(alice, type(uint256).max);
    }

    function test_Burn() public {
        vm.prank(owner);
        token.burn(1 ether);
        assertEq(token.totalSupply(), SUPPLY - 1 ether);
        assertEq(token.balanceOf(owner), SUPPLY - 1 ether);
    }

    function test_RevertWhen_BurnTooMuch() public {
        vm.expectRevert(
            abi.encodeWithSelector(ERC20.ERC20InsufficientBalance.selector, alice, 0, 1)
        );
        vm.prank(alice);
        token.burn(1);
    }

    function test_TransferOwnership() public {
        vm.prank(owner);
        token.transferOwnership(alice);
        assertEq(token.owner(), alice);
        vm.prank(alice);
        token.mint(bob, 1);
        vm.expectRevert(abi.encodeWithSelector(LoftToken.Unauthorized.selector, owner));
        vm.prank(owner);
        token.mint(bob, 1);
    }

    function test_RenounceOwnership() public {
        vm.prank(owner);
        token.transferOwnership(address(0));
        vm.expectRevert(abi.encodeWithSelector(LoftToken.Unauthorized.selector, owner));
        vm.prank(owner);
        token.mint(owner, 1);
    }
}
