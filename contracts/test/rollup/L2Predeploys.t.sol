// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {L2PredeployTestBase} from "./RollupTestBase.sol";
import {L2ToL1MessagePasser} from "../../src/rollup/L2ToL1MessagePasser.sol";
import {L1Block} from "../../src/rollup/L1Block.sol";
import {ERC20} from "../../src/ERC20.sol";
import {MintableERC20} from "../../src/rollup/MintableERC20.sol";
import {MintableERC20Factory} from "../../src/rollup/MintableERC20Factory.sol";
import {L2StandardBridge} from "../../src/rollup/L2StandardBridge.sol";
import {RollupPortal} from "../../src/rollup/RollupPortal.sol";
import {
    L2_STANDARD_BRIDGE,
    L2_TO_L1_MESSAGE_PASSER,
    L1_BLOCK,
    MINTABLE_ERC20_FACTORY,
    L1_INFO_DEPOSITOR
} from "../../src/rollup/RollupConstants.sol";

contract L2PredeploysTest is L2PredeployTestBase {
    event MessagePassed(
        uint256 indexed nonce,
        address indexed sender,
        address indexed target,
        uint256 value,
        uint256 gasLimit,
        bytes data,
        bytes32 withdrawalHash
    );
    event MintableERC20Created(
        address indexed localToken, address indexed remoteToken, address deployer
    );
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Mint(address indexed account, uint256 amount);
    event Burn(address indexed account, uint256 amount);

    L2ToL1MessagePasser internal passer = L2ToL1MessagePasser(payable(L2_TO_L1_MESSAGE_PASSER));
    L1Block internal l1Block = L1Block(L1_BLOCK);
    MintableERC20Factory internal factory = MintableERC20Factory(MINTABLE_ERC20_FACTORY);
    address internal alice;
    address internal bob;
    address internal l1Bridge;

    function setUp() public {
        _deployRollup(); // for the portal's withdrawal hashing
        l1Bridge = makeAddr("l1 bridge");
        _etchPredeploys(l1Bridge);
        alice = makeAddr("alice");
        bob = makeAddr("bob");
        vm.deal(alice, 10 ether);
    }

    // ------------------------------------------------------------ L2ToL1MessagePasser

    function test_InitiateWithdrawal() public {
        bytes memory data = hex"1234";
        RollupPortal.WithdrawalTransaction memory w =
            RollupPortal.WithdrawalTransaction(0, alice, bob, 1 ether, 150_000, data);
        bytes32 h = portal.hashWithdrawal(w);
        assertEq(
            h,
            keccak256(abi.encode(uint256(0), alice, bob, uint256(1 ether), uint256(150_000), data))
        );

        vm.expectEmit(true, true, true, true, L2_TO_L1_MESSAGE_PASSER);
        emit MessagePassed(0, alice, bob, 1 ether, 150_000, data, h);
        vm.prank(alice);
        passer.initiateWithdrawal{value: 1 ether}(bob, 150_000, data);

        assertTrue(passer.sentMessages(h));
        assertEq(passer.messageNonce(), 1);
        assertEq(L2_TO_L1_MESSAGE_PASSER.balance, 1 ether);
        // Storage layout: the mapping at slot 0 (what the portal proves), the nonce at slot 1.
        assertEq(
            vm.load(L2_TO_L1_MESSAGE_PASSER, keccak256(abi.encode(h, uint256(0)))),
            bytes32(uint256(1))
        );
        assertEq(vm.load(L2_TO_L1_MESSAGE_PASSER, bytes32(uint256(1))), bytes32(uint256(1)));
        assertEq(
            keccak256(abi.encode(keccak256(abi.encode(h, uint256(0))))),
            portal.withdrawalStorageKey(h)
        );
    }

    function test_WithdrawalNoncesCount() public {
        for (uint256 i = 0; i < 3; i++) {
            bytes32 h = keccak256(abi.encode(i, alice, bob, uint256(0), uint256(21_000), bytes("")));
            vm.expectEmit(true, true, true, true, L2_TO_L1_MESSAGE_PASSER);
            emit MessagePassed(i, alice, bob, 0, 21_000, "", h);
            vm.prank(alice);
            passer.initiateWithdrawal(bob, 21_000, "");
            assertTrue(passer.sentMessages(h));
        }
        assertEq(passer.messageNonce(), 3);
    }

    function test_MessagePasserReceive() public {
        bytes32 h = keccak256(
            abi.encode(uint256(0), alice, alice, uint256(2 ether), uint256(100_000), bytes(""))
        );
        vm.expectEmit(true, true, true, true, L2_TO_L1_MESSAGE_PASSER);
        emit MessagePassed(0, alice, alice, 2 ether, 100_000, "", h);
        vm.prank(alice);
        (bool ok,) = L2_TO_L1_MESSAGE_PASSER.call{value: 2 ether}("");
        assertTrue(ok);
        assertTrue(passer.sentMessages(h));
    }

    // ------------------------------------------------------------ L1Block

    function test_SetL1BlockValues() public {
        vm.prank(L1_INFO_DEPOSITOR);
        l1Block.setL1BlockValues(
            1234, 1_700_000_123, 7 gwei, keccak256("l1 block"), 3, bytes32(uint256(uint160(bob)))
        );
        assertEq(uint256(l1Block.number()), 1234);
        assertEq(uint256(l1Block.timestamp()), 1_700_000_123);
        assertEq(l1Block.basefee(), 7 gwei);
        assertEq(l1Block.hash(), keccak256("l1 block"));
        assertEq(l1Block.blobBaseFee(), 3);
        assertEq(l1Block.batcherHash(), bytes32(uint256(uint160(bob))));
        // documented storage layout
        assertEq(
            vm.load(L1_BLOCK, bytes32(uint256(0))), bytes32((uint256(1_700_000_123) << 64) | 1234)
        );
        assertEq(vm.load(L1_BLOCK, bytes32(uint256(1))), bytes32(uint256(7 gwei)));
        assertEq(vm.load(L1_BLOCK, bytes32(uint256(2))), keccak256("l1 block"));
        assertEq(vm.load(L1_BLOCK, bytes32(uint256(3))), bytes32(uint256(3)));
        assertEq(vm.load(L1_BLOCK, bytes32(uint256(4))), bytes32(uint256(uint160(bob))));
    }

    function test_RevertWhen_L1BlockNotDepositor() public {
        vm.expectRevert(abi.encodeWithSelector(L1Block.OnlyDepositor.selector, alice));
        vm.prank(alice);
        l1Block.setL1BlockValues(1, 2, 3, bytes32(0), 4, bytes32(0));
        assertEq(l1Block.DEPOSITOR_ACCOUNT(), 0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001);
    }

    // ------------------------------------------------------------ MintableERC20Factory

    function test_CreateMintableERC20() public {
        address remote = makeAddr("l1 token");
        address expected = factory.computeAddress(remote, "Token", "TKN", 18);
        // The CREATE2 address, computed independently.
        bytes32 salt = keccak256(abi.encode(remote, "Token", "TKN", uint8(18)));
        bytes32 initHash = keccak256(
            abi.encodePacked(
                type(MintableERC20).creationCode,
                abi.encode(L2_STANDARD_BRIDGE, remote, "Token", "TKN", uint8(18))
            )
        );
        assertEq(
            expected,
            address(
                uint160(
                    uint256(
                        keccak256(
                            abi.encodePacked(bytes1(0xff), MINTABLE_ERC20_FACTORY, salt, initHash)
                        )
                    )
                )
            )
        );

        vm.expectEmit(true, true, true, true, MINTABLE_ERC20_FACTORY);
        emit MintableERC20Created(expected, remote, alice);
        vm.prank(alice);
        address token = factory.createMintableERC20(remote, "Token", "TKN");
        assertEq(token, expected);

        MintableERC20 t = MintableERC20(token);
        assertEq(t.bridge(), L2_STANDARD_BRIDGE);
        assertEq(t.remoteToken(), remote);
        assertEq(t.name(), "Token");
        assertEq(t.symbol(), "TKN");
        assertEq(uint256(t.decimals()), 18);
        assertEq(t.totalSupply(), 0);
        assertEq(factory.BRIDGE(), L2_STANDARD_BRIDGE);
    }

    function test_CreateWithDecimals() public {
        address remote = makeAddr("usdc");
        address a = factory.createMintableERC20WithDecimals(remote, "USD", "USD", 6);
        assertEq(uint256(MintableERC20(a).decimals()), 6);
        address b = factory.createMintableERC20(remote, "USD", "USD");
        assertTrue(a != b, "decimals are part of the salt");
    }

    function test_RevertWhen_CreateTwice() public {
        address remote = makeAddr("l1 token");
        address token = factory.createMintableERC20(remote, "Token", "TKN");
        vm.expectRevert(
            abi.encodeWithSelector(MintableERC20Factory.AlreadyDeployed.selector, token)
        );
        factory.createMintableERC20(remote, "Token", "TKN");
        vm.expectRevert(
            abi.encodeWithSelector(MintableERC20Factory.AlreadyDeployed.selector, token)
        );
        factory.createMintableERC20WithDecimals(remote, "Token", "TKN", 18);
    }

    function test_RevertWhen_CreateWithZeroRemote() public {
        vm.expectRevert(MintableERC20Factory.ZeroRemoteToken.selector);
        factory.createMintableERC20(address(0), "Token", "TKN");
    }

    // ------------------------------------------------------------ MintableERC20

    function _token() internal returns (MintableERC20) {
        // this test contract acts as the bridge
        return new MintableERC20(address(this), makeAddr("remote"), "Token", "TKN", 18);
    }

    function test_MintAndBurnByBridge() public {
        MintableERC20 t = _token();
        vm.expectEmit(true, true, true, true, address(t));
        emit Transfer(address(0), alice, 100);
        vm.expectEmit(true, true, true, true, address(t));
        emit Mint(alice, 100);
        t.mint(alice, 100);
        assertEq(t.balanceOf(alice), 100);
        assertEq(t.totalSupply(), 100);

        vm.expectEmit(true, true, true, true, address(t));
        emit Transfer(alice, address(0), 30);
        vm.expectEmit(true, true, true, true, address(t));
        emit Burn(alice, 30);
        t.burn(alice, 30); // no allowance needed: the bridge is trusted
        assertEq(t.balanceOf(alice), 70);
        assertEq(t.totalSupply(), 70);

        vm.expectRevert(
            abi.encodeWithSelector(ERC20.ERC20InsufficientBalance.selector, alice, 70, 71)
        );
        t.burn(alice, 71);
        vm.expectRevert(
            abi.encodeWithSelector(ERC20.ERC20InvalidReceiver.selector, address(0))
        );
        t.mint(address(0), 1);
    }

    function test_RevertWhen_MintOrBurnNotBridge() public {
        MintableERC20 t = _token();
        t.mint(alice, 10);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(MintableERC20.OnlyBridge.selector, alice));
        t.mint(alice, 1);
        vm.expectRevert(abi.encodeWithSelector(MintableERC20.OnlyBridge.selector, alice));
        t.burn(alice, 1);
        vm.stopPrank();
    }

    function test_ERC20Transfers() public {
        MintableERC20 t = _token();
        t.mint(alice, 100);
        vm.prank(alice);
        assertTrue(t.transfer(bob, 10));
        assertEq(t.balanceOf(bob), 10);

        vm.expectEmit(true, true, true, true, address(t));
        emit Approval(alice, bob, 50);
        vm.prank(alice);
        t.approve(bob, 50);
        vm.prank(bob);
        t.transferFrom(alice, bob, 20);
        assertEq(t.allowance(alice, bob), 30);
        assertEq(t.balanceOf(alice), 70);

        vm.expectRevert(
            abi.encodeWithSelector(ERC20.ERC20InsufficientAllowance.selector, bob, 30, 31)
        );
        vm.prank(bob);
        t.transferFrom(alice, bob, 31);

        vm.prank(alice);
        t.approve(bob, type(uint256).max);
        vm.prank(bob);
        t.transferFrom(alice, bob, 70);
        assertEq(t.allowance(alice, bob), type(uint256).max);

        vm.expectRevert(
            abi.encodeWithSelector(ERC20.ERC20InsufficientBalance.selector, alice, 0, 1)
        );
        vm.prank(alice);
        t.transfer(bob, 1);
        vm.expectRevert(
            abi.encodeWithSelector(ERC20.ERC20InvalidReceiver.selector, address(0))
        );
        vm.prank(bob);
        t.transfer(address(0), 1);
        vm.expectRevert(
            abi.encodeWithSelector(ERC20.ERC20InvalidSpender.selector, address(0))
        );
        vm.prank(bob);
        t.approve(address(0), 1);
    }

    // ------------------------------------------------------------ L2StandardBridge storage

    function test_BridgeOtherBridgeFromGenesisSlot() public view {
        assertEq(L2StandardBridge(L2_STANDARD_BRIDGE).otherBridge(), l1Bridge);
    }
}
