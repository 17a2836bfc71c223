// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Test} from "../utils/Test.sol";
import {LoftToken} from "../../src/LoftToken.sol";
import {FeeNoReturnToken} from "../zk/ZkRollup.t.sol";
import {ChannelManager} from "../../src/channels/ChannelManager.sol";
import {SecretRegistry} from "../../src/channels/SecretRegistry.sol";

/// @dev A participant that is a contract refusing ETH until told otherwise.
contract RefusingParticipant {
    ChannelManager internal immutable manager;
    bool public accept;

    constructor(ChannelManager manager_) payable {
        manager = manager_;
    }

    function setAccept(bool a) external {
        accept = a;
    }

    function open(address partner, uint64 timeout, uint256 deposit) external returns (uint64) {
        return manager.openChannelWithDeposit{value: deposit}(partner, address(0), timeout, deposit);
    }

    function claim() external {
        manager.claim(address(0));
    }

    receive() external payable {
        require(accept, "refused");
    }
}

contract ChannelManagerTest is Test {
    SecretRegistry internal registry;
    ChannelManager internal cm;
    LoftToken internal token;

    uint256 internal constant ALICE_KEY = 0xA11CE;
    uint256 internal constant BOB_KEY = 0xB0B;
    uint256 internal constant TOWER_KEY = 0x70E4;
    address internal alice;
    address internal bob;
    address internal tower;
    uint64 internal constant TIMEOUT = 40;
    uint256 internal constant HALF_N =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    uint256 internal constant N =
        0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141;

    function setUp() public {
        registry = new SecretRegistry();
        cm = new ChannelManager(registry, 10, 100_000);
        alice = vm.addr(ALICE_KEY);
        bob = vm.addr(BOB_KEY);
        tower = vm.addr(TOWER_KEY);
        vm.deal(alice, 100 ether);
        vm.deal(bob, 100 ether);
        vm.deal(tower, 1 ether);
        token = new LoftToken("Loft", "LOFT", 18, address(this), 0);
        token.mint(alice, 1000 ether);
        token.mint(bob, 1000 ether);
        vm.roll(1000);
    }

    // ------------------------------------------------------------ helpers (EIP-712 by hand)

    function domain() internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("loft-channels"),
                keccak256("1"),
                block.chainid,
                address(cm)
            )
        );
    }

    function proofHash(ChannelManager.BalanceProof memory p) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256(
                    "BalanceProof(uint64 channelId,uint64 nonce,uint256 transferredAmount,uint256 lockedAmount,bytes32 locksroot,bytes32 messageHash)"
                ),
                p.channelId,
                p.nonce,
                p.transferredAmount,
                p.lockedAmount,
                p.locksroot,
                p.messageHash
            )
        );
    }

    function digestOf(bytes32 structHash) internal view returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", domain(), structHash));
    }

    function sig(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function bp(uint64 id, uint64 nonce, uint256 t, uint256 l, bytes32 root)
        internal
        pure
        returns (ChannelManager.BalanceProof memory)
    {
        return ChannelManager.BalanceProof(id, nonce, t, l, root, keccak256(abi.encode(nonce)));
    }

    function signBp(uint256 key, ChannelManager.BalanceProof memory p)
        internal
        view
        returns (bytes memory)
    {
        return sig(key, digestOf(proofHash(p)));
    }

    function delegation(uint256 key, address nonCloser, ChannelManager.BalanceProof memory p)
        internal
        view
        returns (bytes memory)
    {
        bytes32 h = keccak256(
            abi.encode(
                keccak256(
                    "UpdateAuthorization(address nonCloser,BalanceProof balanceProof)BalanceProof(uint64 channelId,uint64 nonce,uint256 transferredAmount,uint256 lockedAmount,bytes32 locksroot,bytes32 messageHash)"
                ),
                nonCloser,
                proofHash(p)
            )
        );
        return sig(key, digestOf(h));
    }

    function coopSig(uint256 key, uint64 id, uint256 b1, uint256 b2, uint64 exp)
        internal
        view
        returns (bytes memory)
    {
        (address p1, address p2) = alice < bob ? (alice, bob) : (bob, alice);
        bytes32 h = keccak256(
            abi.encode(
                keccak256(
                    "CooperativeSettle(uint64 channelId,address participant1,uint256 balance1,address participant2,uint256 balance2,uint64 expiration)"
                ),
                id,
                p1,
                b1,
                p2,
                b2,
                exp
            )
        );
        return sig(key, digestOf(h));
    }

    function emptyProof() internal pure returns (ChannelManager.BalanceProof memory) {
        return ChannelManager.BalanceProof(0, 0, 0, 0, bytes32(0), bytes32(0));
    }

    function sd(address who, uint256 t, uint256 l, bytes32 root)
        internal
        pure
        returns (ChannelManager.SettleData memory)
    {
        return ChannelManager.SettleData(who, t, l, root);
    }

    /// Alice opens with `da`, Bob deposits `db`: an ETH channel.
    function openEth(uint256 da, uint256 db) internal returns (uint64 id) {
        vm.prank(alice);
        id = cm.openChannelWithDeposit{value: da}(bob, address(0), TIMEOUT, da);
        if (db != 0) {
            vm.prank(bob);
            cm.setTotalDeposit{value: db}(id, bob, db);
        }
    }

    function lock(uint64 expiration, uint128 amount, bytes32 secret)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodePacked(expiration, amount, keccak256(abi.encodePacked(secret)));
    }

    // ------------------------------------------------------------ open and deposit

    function test_open_refuses_bad_arguments() public {
        vm.startPrank(alice);
        vm.expectRevert(ChannelManager.InvalidPartner.selector);
        cm.openChannel(address(0), address(0), TIMEOUT);
        vm.expectRevert(ChannelManager.InvalidPartner.selector);
        cm.openChannel(alice, address(0), TIMEOUT);
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.SettleTimeoutOutOfRange.selector, 9));
        cm.openChannel(bob, address(0), 9);
        vm.expectRevert(
            abi.encodeWithSelector(ChannelManager.SettleTimeoutOutOfRange.selector, 100_001)
        );
        cm.openChannel(bob, address(0), 100_001);
        vm.expectRevert(ChannelManager.UnsupportedToken.selector);
        cm.openChannel(bob, address(0xdead), TIMEOUT);
        uint64 id = cm.openChannel(bob, address(0), TIMEOUT);
        assertEq(id, 1);
        vm.stopPrank();
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.ChannelExists.selector, 1));
        cm.openChannel(alice, address(0), TIMEOUT);
        // Another token is another channel.
        vm.prank(bob);
        assertEq(cm.openChannel(alice, address(token), TIMEOUT), 2);
        assertEq(cm.channelOf(address(0), bob, alice), 1);
        assertEq(cm.channelOf(address(token), alice, bob), 2);
    }

    function test_open_with_deposit_records_both_deposits() public {
        uint64 id = openEth(3 ether, 2 ether);
        (address p1, address p2, address tok, uint64 timeout,, ChannelManager.State state,) =
            cm.getChannel(id);
        assertTrue(p1 < p2, "participant 1 is the lower address");
        assertTrue((p1 == alice && p2 == bob) || (p1 == bob && p2 == alice));
        assertEq(tok, address(0));
        assertEq(timeout, TIMEOUT);
        assertEq(uint256(state), uint256(ChannelManager.State.Opened));
        (uint256 da,,) = cm.getParticipant(id, alice);
        (uint256 db,,) = cm.getParticipant(id, bob);
        assertEq(da, 3 ether);
        assertEq(db, 2 ether);
        assertEq(address(cm).balance, 5 ether);
    }

    function test_deposit_refusals() public {
        uint64 id = openEth(1 ether, 0);
        vm.startPrank(bob);
        vm.expectRevert(ChannelManager.WrongValue.selector);
        cm.setTotalDeposit{value: 1 ether}(id, bob, 2 ether);
        vm.expectRevert(ChannelManager.DepositNotIncreasing.selector);
        cm.setTotalDeposit{value: 0}(id, alice, 1 ether);
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.NotParticipant.selector, tower));
        cm.setTotalDeposit{value: 1}(id, tower, 1);
        vm.expectRevert(ChannelManager.DepositAboveLimit.selector);
        cm.setTotalDeposit{value: 0}(id, bob, uint256(type(uint128).max) + 1);
        // Anyone may top up a participant; a retried total does not deposit twice.
        cm.setTotalDeposit{value: 1 ether}(id, alice, 2 ether);
        vm.expectRevert(ChannelManager.DepositNotIncreasing.selector);
        cm.setTotalDeposit{value: 1 ether}(id, alice, 2 ether);
        vm.expectRevert(
            abi.encodeWithSelector(ChannelManager.WrongState.selector, 9, ChannelManager.State.None)
        );
        cm.setTotalDeposit{value: 1}(9, bob, 1);
        vm.stopPrank();
        assertEq(address(cm).balance, 2 ether);
    }

    function test_erc20_channel_deposits_and_settles_in_tokens() public {
        vm.prank(alice);
        token.approve(address(cm), type(uint256).max);
        vm.prank(bob);
        token.approve(address(cm), type(uint256).max);
        vm.prank(alice);
        vm.expectRevert(ChannelManager.WrongValue.selector);
        cm.openChannelWithDeposit{value: 1}(bob, address(token), TIMEOUT, 10 ether);
        vm.prank(alice);
        uint64 id = cm.openChannelWithDeposit(bob, address(token), TIMEOUT, 10 ether);
        vm.prank(bob);
        cm.setTotalDeposit(id, bob, 5 ether);
        assertEq(token.balanceOf(address(cm)), 15 ether);
        // Alice paid Bob 4 tokens off-chain.
        (uint256 b1, uint256 b2) = alice < bob ? (6 ether, 9 ether) : (9 ether, 6 ether);
        uint64 exp = uint64(block.number + 5);
        cm.cooperativeSettle(
            id,
            b1,
            b2,
            exp,
            coopSig(alice < bob ? ALICE_KEY : BOB_KEY, id, b1, b2, exp),
            coopSig(alice < bob ? BOB_KEY : ALICE_KEY, id, b1, b2, exp)
        );
        assertEq(token.balanceOf(alice), 996 ether);
        assertEq(token.balanceOf(bob), 1004 ether);
        assertEq(token.balanceOf(address(cm)), 0);
    }

    function test_fee_on_transfer_token_is_refused() public {
        FeeNoReturnToken fee = new FeeNoReturnToken();
        fee.mint(alice, 100 ether);
        vm.startPrank(alice);
        fee.approve(address(cm), type(uint256).max);
        vm.expectRevert(ChannelManager.UnsupportedToken.selector);
        cm.openChannelWithDeposit(bob, address(fee), TIMEOUT, 10 ether);
        vm.stopPrank();
    }

    // ------------------------------------------------------------ cooperative settle

    function coopArgs(uint256 aliceBalance, uint256 bobBalance)
        internal
        view
        returns (uint256 b1, uint256 b2, uint256 k1, uint256 k2)
    {
        return alice < bob
            ? (aliceBalance, bobBalance, ALICE_KEY, BOB_KEY)
            : (bobBalance, aliceBalance, BOB_KEY, ALICE_KEY);
    }

    function test_cooperative_settle_pays_both_and_frees_the_pair() public {
        uint64 id = openEth(3 ether, 2 ether);
        (uint256 b1, uint256 b2, uint256 k1, uint256 k2) = coopArgs(1 ether, 4 ether);
        uint64 exp = uint64(block.number + 10);
        bytes memory s1 = coopSig(k1, id, b1, b2, exp);
        bytes memory s2 = coopSig(k2, id, b1, b2, exp);
        uint256 a0 = alice.balance;
        uint256 bob0 = bob.balance;
        vm.prank(tower); // anyone may submit it
        cm.cooperativeSettle(id, b1, b2, exp, s1, s2);
        assertEq(alice.balance - a0, 1 ether);
        assertEq(bob.balance - bob0, 4 ether);
        assertEq(address(cm).balance, 0);
        (,,,,, ChannelManager.State state,) = cm.getChannel(id);
        assertEq(uint256(state), uint256(ChannelManager.State.Settled));
        assertEq(cm.channelOf(address(0), alice, bob), 0);
        // A replay is refused, and the pair's next channel has a new id the old signatures miss.
        vm.expectRevert(
            abi.encodeWithSelector(
                ChannelManager.WrongState.selector, id, ChannelManager.State.Settled
            )
        );
        cm.cooperativeSettle(id, b1, b2, exp, s1, s2);
        uint64 next = openEth(3 ether, 2 ether);
        assertEq(next, id + 1);
        vm.expectRevert();
        cm.cooperativeSettle(next, b1, b2, exp, s1, s2);
    }

    function test_cooperative_settle_refusals() public {
        uint64 id = openEth(3 ether, 2 ether);
        (uint256 b1, uint256 b2, uint256 k1, uint256 k2) = coopArgs(1 ether, 4 ether);
        uint64 exp = uint64(block.number + 10);
        bytes memory s1 = coopSig(k1, id, b1, b2, exp);
        bytes memory s2 = coopSig(k2, id, b1, b2, exp);
        address p1 = vm.addr(k1);
        address p2 = vm.addr(k2);

        vm.expectRevert(
            abi.encodeWithSelector(ChannelManager.BalancesMismatch.selector, 5 ether, 6 ether)
        );
        cm.cooperativeSettle(id, b1 + 1 ether, b2, exp, s1, s2);
        vm.expectRevert(); // signed for other balances
        cm.cooperativeSettle(id, b1 + 1 ether, b2 - 1 ether, exp, s1, s2);
        vm.expectRevert(); // signatures swapped
        cm.cooperativeSettle(id, b1, b2, exp, s2, s1);
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.WrongSigner.selector, p2, p1));
        cm.cooperativeSettle(id, b1, b2, exp, s1, s1);
        vm.expectRevert(ChannelManager.InvalidSignature.selector); // 64 bytes
        cm.cooperativeSettle(id, b1, b2, exp, s1, slice(s2, 64));
        // The malleable twin (n - s, flipped v) recovers the same key but is refused.
        vm.expectRevert(ChannelManager.InvalidSignature.selector);
        cm.cooperativeSettle(id, b1, b2, exp, s1, highS(s2));
        bytes memory badV = bytes.concat(slice(s2, 64), bytes1(uint8(29)));
        vm.expectRevert(ChannelManager.InvalidSignature.selector);
        cm.cooperativeSettle(id, b1, b2, exp, s1, badV);
        vm.roll(exp + 1);
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.SignatureExpired.selector, exp));
        cm.cooperativeSettle(id, b1, b2, exp, s1, s2);
        assertEq(address(cm).balance, 5 ether, "nothing moved");
        assertEq(p1 == alice ? p2 : p1, bob);
    }

    function slice(bytes memory b, uint256 len) internal pure returns (bytes memory out) {
        out = new bytes(len);
        for (uint256 i = 0; i < len; ++i) {
            out[i] = b[i];
        }
    }

    function highS(bytes memory s65) internal pure returns (bytes memory) {
        bytes32 r;
        bytes32 s;
        assembly {
            r := mload(add(s65, 32))
            s := mload(add(s65, 64))
        }
        uint8 v = uint8(s65[64]);
        return abi.encodePacked(r, bytes32(N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
    }

    // ------------------------------------------------------------ unilateral close

    /// Bob paid Alice 30 times; he closes as if none of it happened (Alice's proofs only), an
    /// old proof of his (nonce 5) reaches the chain first, then Alice's newest (nonce 30) wins.
    function test_old_state_loses_to_update() public {
        uint64 id = openEth(5 ether, 5 ether);
        ChannelManager.BalanceProof memory old5 = bp(id, 5, 0.5 ether, 0, keccak256(""));
        ChannelManager.BalanceProof memory new30 = bp(id, 30, 3 ether, 0, keccak256(""));
        // Alice paid Bob once (nonce 1, 1 ether); Bob closes with it.
        ChannelManager.BalanceProof memory alice1 = bp(id, 1, 1 ether, 0, keccak256(""));
        vm.prank(bob);
        cm.closeChannel(id, alice1, signBp(ALICE_KEY, alice1));

        // Bob can not submit his own proof as the "update" without Alice's delegation.
        vm.prank(bob);
        vm.expectRevert(ChannelManager.InvalidSignature.selector);
        cm.updateNonClosingBalanceProof(id, alice, old5, signBp(BOB_KEY, old5), "");
        // Neither can the closer name itself as the non-closer.
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.NotParticipant.selector, bob));
        cm.updateNonClosingBalanceProof(id, bob, old5, signBp(BOB_KEY, old5), "");

        vm.startPrank(alice);
        cm.updateNonClosingBalanceProof(id, alice, old5, signBp(BOB_KEY, old5), "");
        cm.updateNonClosingBalanceProof(id, alice, new30, signBp(BOB_KEY, new30), "");
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.StaleNonce.selector, 30, 5));
        cm.updateNonClosingBalanceProof(id, alice, old5, signBp(BOB_KEY, old5), "");
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.StaleNonce.selector, 30, 30));
        cm.updateNonClosingBalanceProof(id, alice, new30, signBp(BOB_KEY, new30), "");
        // A proof Alice signed herself is not Bob's.
        ChannelManager.BalanceProof memory forged = bp(id, 31, 9 ether, 0, keccak256(""));
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.WrongSigner.selector, bob, alice));
        cm.updateNonClosingBalanceProof(id, alice, forged, signBp(ALICE_KEY, forged), "");
        vm.stopPrank();
        (, bytes32 h, uint64 nonce) = cm.getParticipant(id, bob);
        assertEq(nonce, 30);
        assertEq(h, keccak256(abi.encode(uint256(3 ether), uint256(0), keccak256(""))));

        (,,,, uint64 settleBlock,,) = cm.getChannel(id);
        assertEq(settleBlock, block.number + TIMEOUT);
        vm.expectRevert(
            abi.encodeWithSelector(ChannelManager.SettlePeriodNotOver.selector, settleBlock)
        );
        cm.settleChannel(
            id, sd(alice, 1 ether, 0, keccak256("")), sd(bob, 3 ether, 0, keccak256(""))
        );
        vm.roll(settleBlock + 1);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(ChannelManager.SettlePeriodOver.selector, settleBlock)
        );
        cm.updateNonClosingBalanceProof(id, alice, forged, signBp(BOB_KEY, forged), "");
        // Bob's old values do not match what is stored.
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.BalanceHashMismatch.selector, bob));
        cm.settleChannel(
            id, sd(alice, 1 ether, 0, keccak256("")), sd(bob, 0.5 ether, 0, keccak256(""))
        );

        uint256 a0 = alice.balance;
        uint256 b0 = bob.balance;
        vm.prank(bob); // either order of the two sides
        cm.settleChannel(
            id, sd(bob, 3 ether, 0, keccak256("")), sd(alice, 1 ether, 0, keccak256(""))
        );
        assertEq(alice.balance - a0, 7 ether, "5 - 1 + 3");
        assertEq(bob.balance - b0, 3 ether, "5 - 3 + 1");
        vm.expectRevert(
            abi.encodeWithSelector(
                ChannelManager.WrongState.selector, id, ChannelManager.State.Settled
            )
        );
        cm.settleChannel(
            id, sd(bob, 3 ether, 0, keccak256("")), sd(alice, 1 ether, 0, keccak256(""))
        );
    }

    function test_close_refusals() public {
        uint64 id = openEth(5 ether, 5 ether);
        ChannelManager.BalanceProof memory p = bp(id, 1, 1 ether, 0, keccak256(""));
        vm.prank(tower);
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.NotParticipant.selector, tower));
        cm.closeChannel(id, p, signBp(ALICE_KEY, p));
        vm.startPrank(bob);
        // Bob can not close with a proof he signed himself, nor with one of another channel.
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.WrongSigner.selector, alice, bob));
        cm.closeChannel(id, p, signBp(BOB_KEY, p));
        ChannelManager.BalanceProof memory other = bp(id + 1, 1, 1 ether, 0, keccak256(""));
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.WrongChannel.selector, id + 1));
        cm.closeChannel(id, other, signBp(ALICE_KEY, other));
        cm.closeChannel(id, emptyProof(), "");
        vm.expectRevert(
            abi.encodeWithSelector(
                ChannelManager.WrongState.selector, id, ChannelManager.State.Closed
            )
        );
        cm.closeChannel(id, emptyProof(), "");
        vm.stopPrank();
        // Closed: no more deposits, no cooperative settle.
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                ChannelManager.WrongState.selector, id, ChannelManager.State.Closed
            )
        );
        cm.setTotalDeposit{value: 1 ether}(id, alice, 6 ether);
    }

    /// Alice is offline; her watchtower submits Bob's newest proof with her delegation.
    function test_watchtower_updates_with_delegation() public {
        uint64 id = openEth(5 ether, 5 ether);
        ChannelManager.BalanceProof memory newest = bp(id, 12, 2 ether, 0, keccak256(""));
        bytes memory bobSig = signBp(BOB_KEY, newest);
        vm.prank(bob);
        cm.closeChannel(id, emptyProof(), "");

        vm.startPrank(tower);
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.WrongSigner.selector, alice, bob));
        cm.updateNonClosingBalanceProof(
            id, alice, newest, bobSig, delegation(BOB_KEY, alice, newest)
        );
        // A delegation for another proof does not cover this one.
        ChannelManager.BalanceProof memory older = bp(id, 11, 1 ether, 0, keccak256(""));
        vm.expectRevert();
        cm.updateNonClosingBalanceProof(
            id, alice, newest, bobSig, delegation(ALICE_KEY, alice, older)
        );
        cm.updateNonClosingBalanceProof(
            id, alice, newest, bobSig, delegation(ALICE_KEY, alice, newest)
        );
        vm.stopPrank();

        vm.roll(block.number + TIMEOUT + 1);
        uint256 a0 = alice.balance;
        cm.settleChannel(id, sd(alice, 0, 0, 0), sd(bob, 2 ether, 0, keccak256("")));
        assertEq(alice.balance - a0, 7 ether);
    }

    // ------------------------------------------------------------ locks

    function test_unlock_pays_registered_locks_and_returns_the_rest() public {
        uint64 id = openEth(5 ether, 5 ether);
        bytes32 inTime = keccak256("in time");
        bytes32 late = keccak256("late");
        bytes32 never = keccak256("never");
        uint64 e1 = uint64(block.number + 20);
        uint64 e2 = uint64(block.number + 25);
        uint64 e3 = uint64(block.number + 30);
        bytes memory locks = bytes.concat(
            lock(e1, 1 ether, inTime), lock(e2, 0.5 ether, late), lock(e3, 0.25 ether, never)
        );
        bytes32 root = keccak256(locks);
        // Alice paid Bob 1 ether outright and has three locks pending towards him.
        ChannelManager.BalanceProof memory p = bp(id, 4, 1 ether, 1.75 ether, root);
        vm.prank(bob);
        cm.closeChannel(id, p, signBp(ALICE_KEY, p));

        registry.registerSecret(inTime); // before e1
        vm.roll(e2 + 1);
        registry.registerSecret(late); // after e2: does not count

        vm.roll(block.number + TIMEOUT);
        uint256 a0 = alice.balance;
        uint256 b0 = bob.balance;
        cm.settleChannel(id, sd(alice, 1 ether, 1.75 ether, root), sd(bob, 0, 0, 0));
        assertEq(alice.balance - a0, 2.25 ether, "5 - 1 - 1.75 locked");
        assertEq(bob.balance - b0, 6 ether);
        checkUnlockData(id, root);

        vm.roll(e3); // the unregistered lock can still be claimed up to its expiration
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.LockStillPending.selector, 2, e3));
        cm.unlock(id, alice, locks);
        vm.roll(e3 + 1);
        vm.expectRevert(abi.encodeWithSelector(ChannelManager.BadLocksEncoding.selector, 169));
        cm.unlock(id, alice, bytes.concat(locks, hex"00"));
        bytes memory reordered = bytes.concat(
            lock(e2, 0.5 ether, late), lock(e1, 1 ether, inTime), lock(e3, 0.25 ether, never)
        );
        vm.expectRevert(
            abi.encodeWithSelector(
                ChannelManager.LocksrootMismatch.selector, root, keccak256(reordered)
            )
        );
        cm.unlock(id, alice, reordered);
        vm.expectRevert(ChannelManager.NothingToUnlock.selector);
        cm.unlock(id, bob, "");

        vm.prank(tower); // anyone
        cm.unlock(id, alice, locks);
        assertEq(bob.balance - b0, 7 ether, "6 + the lock registered in time");
        assertEq(alice.balance - a0, 3 ether, "2.25 + 0.5 late + 0.25 never");
        assertEq(address(cm).balance, 0);
        vm.expectRevert(ChannelManager.NothingToUnlock.selector);
        cm.unlock(id, alice, locks);
    }

    function checkUnlockData(uint64 id, bytes32 root) internal view {
        (bytes32 r, uint256 locked,, address receiver) = cm.getUnlock(id, alice);
        assertEq(r, root);
        assertEq(locked, 1.75 ether);
        assertEq(receiver, bob);
    }

    // ------------------------------------------------------------ payouts

    function test_refusing_receiver_is_paid_through_claim() public {
        RefusingParticipant c = new RefusingParticipant{value: 3 ether}(cm);
        uint64 id = c.open(alice, TIMEOUT, 3 ether);
        vm.prank(alice);
        cm.setTotalDeposit{value: 1 ether}(id, alice, 1 ether);
        vm.prank(alice);
        cm.closeChannel(id, emptyProof(), "");
        vm.roll(block.number + TIMEOUT + 1);
        uint256 a0 = alice.balance;
        vm.expectEmit(true, true, false, true);
        emit ChannelManager.PayoutDeferred(address(0), address(c), 3 ether);
        cm.settleChannel(id, sd(alice, 0, 0, 0), sd(address(c), 0, 0, 0));
        assertEq(alice.balance - a0, 1 ether, "Alice is paid although the other side refuses");
        assertEq(cm.owed(address(0), address(c)), 3 ether);
        vm.expectRevert(ChannelManager.TokenTransferFailed.selector);
        c.claim();
        c.setAccept(true);
        c.claim();
        assertEq(address(c).balance, 3 ether);
        assertEq(cm.owed(address(0), address(c)), 0);
        vm.expectRevert(ChannelManager.NothingToClaim.selector);
        c.claim();
    }

    // ------------------------------------------------------------ settle arithmetic

    /// With the latest proofs each side gets exactly deposit - sent + received, locks aside.
    function test_settle_amounts_with_latest_proofs() public view {
        (uint256 a1, uint256 a2, uint256 l1, uint256 l2) = cm.settleAmounts(10, 20, 3, 2, 7, 1);
        assertEq(a1, 10 - 3 - 2 + 7);
        assertEq(a2, 20 - 7 - 1 + 3);
        assertEq(l1, 2);
        assertEq(l2, 1);
    }

    /// Any values (old, forged by the sender against itself, absurd): never reverts, never
    /// pays out more or less than the deposits.
    function testFuzz_settle_amounts_conserve_the_deposits(
        uint128 d1,
        uint128 d2,
        uint256 t1,
        uint256 l1,
        uint256 t2,
        uint256 l2
    ) public view {
        (uint256 a1, uint256 a2, uint256 k1, uint256 k2) = cm.settleAmounts(d1, d2, t1, l1, t2, l2);
        assertEq(a1 + a2 + k1 + k2, uint256(d1) + d2);
        assertTrue(k1 <= l1 && k2 <= l2);
    }

    /// An honest history: whichever older proof of its partner a side submits, it gets no more
    /// than with the newest one.
    function testFuzz_older_partner_proof_never_helps(
        uint64 d1,
        uint64 d2,
        uint64 t1,
        uint64 t2,
        uint64 older
    ) public view {
        vm.assume(uint256(t1) <= d1 + uint256(t2) && uint256(t2) <= d2 + uint256(t1));
        uint256 oldT2 = older % (uint256(t2) + 1);
        (uint256 latest1,,,) = cm.settleAmounts(d1, d2, t1, 0, t2, 0);
        (uint256 stale1,,,) = cm.settleAmounts(d1, d2, t1, 0, oldT2, 0);
        assertEq(latest1, uint256(d1) + t2 - t1);
        assertTrue(stale1 <= latest1);
    }

    function test_domain_separator_is_eip712() public view {
        assertEq(cm.domainSeparator(), domain());
        ChannelManager.BalanceProof memory p = bp(1, 2, 3, 4, bytes32(uint256(5)));
        assertEq(cm.balanceProofDigest(p), digestOf(proofHash(p)));
    }
}
