// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Test, console} from "../utils/Test.sol";
import {LoftToken} from "../../src/LoftToken.sol";
import {ReentrancyGuard} from "../../src/rollup/ReentrancyGuard.sol";
import {IGroth16Verifier} from "../../src/zk/IVerifier.sol";
import {ZkRollup} from "../../src/zk/ZkRollup.sol";

/// @dev Stands in for the generated Groth16 verifier (the real one and real proofs are
///      tested from Rust on the devnet EVM): accepts exactly one public input and one proof,
///      both set by the test, so a passing test shows that ZkRollup hands the verifier the
///      input the test computed independently, and the proof unchanged.
contract ExpectingVerifier is IGroth16Verifier {
    uint256 public expectedInput;
    bytes32 public expectedProofHash;

    function expect(uint256 input, uint256[8] calldata proof) external {
        expectedInput = input;
        expectedProofHash = keccak256(abi.encode(proof));
    }

    function verifyProof(uint256[8] calldata proof, uint256[1] calldata input)
        external
        view
        returns (bool)
    {
        return input[0] == expectedInput && keccak256(abi.encode(proof)) == expectedProofHash;
    }
}

/// @dev A verifier that accepts everything, with no storage reads: the gas figures use it so
///      that they hold ZkRollup's own cost (plus one CALL) and nothing of a test double.
contract AcceptingVerifier is IGroth16Verifier {
    function verifyProof(uint256[8] calldata, uint256[1] calldata) external pure returns (bool) {
        return true;
    }
}

/// @dev An ERC-20 that keeps 1% of every transfer (the rollup must count what it received),
///      and returns nothing from transfer/transferFrom (as USDT does).
contract FeeNoReturnToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    function mint(address to, uint256 value) external {
        balanceOf[to] += value;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        return true;
    }

    function transfer(address to, uint256 value) external {
        _move(msg.sender, to, value);
    }

    function transferFrom(address from, address to, uint256 value) external {
        allowance[from][msg.sender] -= value;
        _move(from, to, value);
    }

    function _move(address from, address to, uint256 value) internal {
        balanceOf[from] -= value;
        balanceOf[to] += value - value / 100;
    }
}

/// @dev An ERC-20 whose transfers return false and move nothing.
contract FalseToken {
    function balanceOf(address) external pure returns (uint256) {
        return 0;
    }

    function transferFrom(address, address, uint256) external pure returns (bool) {
        return false;
    }
}

/// @dev An ETH recipient that re-enters `withdrawPending` from its `receive`.
contract ReenteringReceiver {
    ZkRollup internal immutable rollup;

    constructor(ZkRollup rollup_) {
        rollup = rollup_;
    }

    receive() external payable {
        rollup.withdrawPending(address(this), 0, 1);
    }
}

/// @dev Constants and public-data encoders shared by the suites below.
abstract contract ZkRollupEncoding is Test {
    uint256 internal constant R =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint16 internal constant W = 4;
    uint16 internal constant T = 8;
    uint8 internal constant DEPTH = 3;
    /// account ids 0..255
    uint8 internal constant ACCOUNT_DEPTH = 8;
    /// the smallest ETH deposit, in wei
    uint128 internal constant MIN_DEPOSIT = 1000;
    uint64 internal constant EXPIRY = 100;
    /// the operator's configured capacity: a block (W priority ops) every INTERVAL L1 blocks
    uint64 internal constant INTERVAL = 1;
    bytes32 internal constant GENESIS = bytes32(uint256(0x1234));

    function _str(uint256 x) internal pure returns (string memory) {
        if (x == 0) return "0";
        bytes memory b;
        while (x != 0) {
            // forge-lint: disable-next-line(unsafe-typecast)
            b = bytes.concat(bytes1(uint8(48 + (x % 10))), b);
            x /= 10;
        }
        return string(b);
    }

    function _root(uint256 n) internal pure returns (bytes32) {
        return bytes32(uint256(keccak256(abi.encode("root", n))) % R);
    }

    /// The commitment, computed here independently of the contract.
    function _commitment(bytes32 oldRoot, bytes32 newRoot, bytes memory pubdata)
        internal
        pure
        returns (uint256)
    {
        return uint256(sha256(abi.encodePacked(oldRoot, newRoot, pubdata))) % R;
    }

    function _pad64(bytes memory op) internal pure returns (bytes memory) {
        require(op.length <= 64, "op too long");
        return bytes.concat(op, new bytes(64 - op.length));
    }

    function _deposit(uint24 account, uint8 tokenId, uint128 amount, address to)
        internal
        pure
        returns (bytes memory)
    {
        bytes memory op = abi.encodePacked(uint8(1), account, tokenId, amount, to);
        assertEq(op.length, 41);
        return _pad64(op);
    }

    function _transferToNew(uint24 from, uint24 to, uint8 tokenId, address toAddress)
        internal
        pure
        returns (bytes memory)
    {
        bytes memory op = abi.encodePacked(
            uint8(3), from, to, tokenId, bytes5(0x0000000a40), uint16(0x0021), toAddress
        );
        assertEq(op.length, 35);
        return _pad64(op);
    }

    function _withdraw(uint24 account, uint8 tokenId, uint128 amount, address to)
        internal
        pure
        returns (bytes memory)
    {
        bytes memory op = abi.encodePacked(uint8(4), account, tokenId, amount, uint16(0x0123), to);
        assertEq(op.length, 43);
        return _pad64(op);
    }

    function _fullExit(uint24 account, uint8 tokenId, uint128 amount, address to)
        internal
        pure
        returns (bytes memory)
    {
        bytes memory op = abi.encodePacked(uint8(5), account, tokenId, amount, to);
        assertEq(op.length, 41);
        return _pad64(op);
    }

    /// The fee every change-key of these tests pays unless it says otherwise (packed: 2·10^1).
    uint16 internal constant CHANGE_KEY_FEE = 0x0041;

    function _changeKey(uint24 account, address owner, bytes32 keyHash, uint32 nonce)
        internal
        pure
        returns (bytes memory)
    {
        return _changeKeyPaying(account, owner, keyHash, nonce, 0, CHANGE_KEY_FEE);
    }

    function _changeKeyPaying(
        uint24 account,
        address owner,
        bytes32 keyHash,
        uint32 nonce,
        uint8 feeToken,
        uint16 fee
    ) internal pure returns (bytes memory) {
        bytes memory op = abi.encodePacked(uint8(6), account, owner, keyHash, nonce, feeToken, fee);
        assertEq(op.length, 63);
        return _pad64(op);
    }

    function _transfer(uint24 from, uint24 to, uint8 tokenId, uint40 amount, uint16 fee)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodePacked(uint8(2), from, to, tokenId, amount, fee);
    }

    /// A full block's public data: `wide` then no-ops, `transfers` then zero bytes.
    function _pubdata(bytes[] memory wide, bytes memory transfers)
        internal
        pure
        returns (bytes memory p)
    {
        return _pubdataFor(W, T, wide, transfers);
    }

    function _pubdataFor(uint16 w, uint16 t, bytes[] memory wide, bytes memory transfers)
        internal
        pure
        returns (bytes memory p)
    {
        require(wide.length <= w && transfers.length <= 15 * uint256(t), "block too full");
        for (uint256 i = 0; i < wide.length; i++) {
            require(wide[i].length == 64, "wide op not 64 bytes");
            p = bytes.concat(p, wide[i]);
        }
        p = bytes.concat(
            p, new bytes(64 * (w - wide.length)), transfers, new bytes(15 * t - transfers.length)
        );
    }

    function _ops() internal pure returns (bytes[] memory a) {
        a = new bytes[](0);
    }

    function _ops(bytes memory x) internal pure returns (bytes[] memory a) {
        a = new bytes[](1);
        a[0] = x;
    }

    function _ops(bytes memory x, bytes memory y) internal pure returns (bytes[] memory a) {
        a = new bytes[](2);
        a[0] = x;
        a[1] = y;
    }

    function _ops(bytes memory x, bytes memory y, bytes memory z)
        internal
        pure
        returns (bytes[] memory a)
    {
        a = new bytes[](3);
        a[0] = x;
        a[1] = y;
        a[2] = z;
    }

    function _entry(address owner, uint8 tokenId, uint128 amount)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodePacked(owner, tokenId, amount);
    }
}

contract ZkRollupTest is ZkRollupEncoding {
    event NewPriorityRequest(
        uint64 indexed id,
        uint8 opType,
        uint24 accountId,
        uint16 tokenId,
        uint128 amount,
        address owner,
        uint64 expirationBlock
    );
    event BlockCommitted(uint32 indexed blockNumber, bytes32 newRoot, uint256 commitment);
    event BlockVerified(uint32 indexed blockNumber);
    event BlockExecuted(uint32 indexed blockNumber, bytes32 root);
    event BlocksReverted(uint32 indexed toBlock);
    event TokenAdded(address indexed token, uint16 indexed tokenId);
    event ExodusMode();
    event Withdrawal(address indexed owner, uint16 indexed tokenId, uint128 amount);
    event KeyAuthorized(
        address indexed owner,
        uint24 indexed accountId,
        uint32 indexed nonce,
        bytes32 keyHash,
        uint8 feeToken,
        uint16 fee
    );

    uint256 internal constant SECP256K1_N =
        0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141;
    bytes32 internal constant KEY_HASH = keccak256("alice's L2 key");

    ExpectingVerifier internal blockVerifier;
    ExpectingVerifier internal exitVerifier;
    ZkRollup internal rollup;
    LoftToken internal token;
    address internal validator;
    address internal governor;
    uint256 internal alicePk;
    address internal alice;
    address internal bob;
    uint256[8] internal proof;

    function setUp() public {
        vm.roll(1000);
        validator = makeAddr("validator");
        governor = makeAddr("governor");
        alicePk = uint256(keccak256("alice"));
        alice = makeAddr("alice"); // vm.addr(alicePk)
        bob = makeAddr("bob");
        blockVerifier = new ExpectingVerifier();
        exitVerifier = new ExpectingVerifier();
        rollup = new ZkRollup(
            blockVerifier,
            exitVerifier,
            GENESIS,
            validator,
            governor,
            W,
            T,
            DEPTH,
            ACCOUNT_DEPTH,
            EXPIRY,
            INTERVAL,
            MIN_DEPOSIT
        );
        token = new LoftToken("Test", "TST", 18, address(this), 1e30);
        vm.prank(governor);
        rollup.addToken(address(token));
        vm.deal(alice, 100 ether);
        token.transfer(alice, 1e24);
        vm.prank(alice);
        token.approve(address(rollup), type(uint256).max);
        for (uint256 i = 0; i < 8; i++) {
            proof[i] = uint256(keccak256(abi.encode("proof", i)));
        }
    }

    /// An EIP-191 signature by `pk` of the change-key digest, as 65 bytes r ‖ s ‖ v.
    function _signChangeKey(uint256 pk, uint24 account, bytes32 keyHash, uint32 nonce)
        internal
        view
        returns (bytes memory)
    {
        return _signChangeKeyPaying(pk, account, keyHash, nonce, 0, CHANGE_KEY_FEE);
    }

    function _signChangeKeyPaying(
        uint256 pk,
        uint24 account,
        bytes32 keyHash,
        uint32 nonce,
        uint8 feeToken,
        uint16 fee
    ) internal view returns (bytes memory) {
        bytes32 digest = keccak256(
            abi.encodePacked(
                "loft-zk change key",
                account,
                keyHash,
                nonce,
                feeToken,
                fee,
                block.chainid,
                address(rollup)
            )
        );
        assertEq(digest, rollup.changeKeyDigest(account, keyHash, nonce, feeToken, fee));
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(pk, keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", digest)));
        return abi.encodePacked(r, s, v);
    }

    // ================================================================ flow helpers

    function _depositETH(address from, address to, uint256 amount) internal {
        vm.prank(from);
        rollup.depositETH{value: amount}(to);
    }

    function _commit(uint32 n, bytes32 root, bytes memory pubdata, bytes[] memory witnesses)
        internal
    {
        vm.prank(validator);
        rollup.commitBlock(n, root, pubdata, witnesses);
    }

    function _expectCommitRevert(bytes memory pubdata, bytes[] memory witnesses, bytes memory err)
        internal
    {
        uint32 n = rollup.lastCommittedBlock() + 1;
        vm.prank(validator);
        vm.expectRevert(err);
        rollup.commitBlock(n, _root(n), pubdata, witnesses);
    }

    function _verify(uint32 n, bytes32 oldRoot, bytes32 root, bytes memory pubdata) internal {
        blockVerifier.expect(_commitment(oldRoot, root, pubdata), proof);
        rollup.verifyBlock(n, proof);
    }

    /// Commits, verifies and executes block `n` on top of the committed root.
    function _commitVerifyExecute(
        uint32 n,
        bytes memory pubdata,
        bytes[] memory witnesses,
        bytes memory withdrawals
    ) internal {
        bytes32 oldRoot = rollup.committedRoot();
        _commit(n, _root(n), pubdata, witnesses);
        _verify(n, oldRoot, _root(n), pubdata);
        rollup.executeBlock(n, withdrawals);
    }

    function _submit(uint32 n, bytes memory pubdata, bytes[] memory witnesses) internal {
        blockVerifier.expect(_commitment(rollup.stateRoot(), _root(n), pubdata), proof);
        vm.prank(validator);
        rollup.submitBlock(n, _root(n), pubdata, witnesses, proof);
    }

    function _err(bytes4 selector) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector);
    }

    // ================================================================ deployment

    function test_Constructor() public view {
        assertEq(address(rollup.blockVerifier()), address(blockVerifier));
        assertEq(address(rollup.exitVerifier()), address(exitVerifier));
        assertEq(rollup.genesisRoot(), GENESIS);
        assertEq(rollup.stateRoot(), GENESIS);
        assertEq(rollup.committedRoot(), GENESIS);
        assertEq(rollup.validator(), validator);
        assertEq(rollup.governor(), governor);
        assertEq(uint256(rollup.wideSlots()), W);
        assertEq(uint256(rollup.transferSlots()), T);
        assertEq(uint256(rollup.balanceDepth()), DEPTH);
        assertEq(uint256(rollup.accountDepth()), ACCOUNT_DEPTH);
        assertEq(uint256(rollup.priorityExpirationBlocks()), EXPIRY);
        assertEq(uint256(rollup.minDeposit()), MIN_DEPOSIT);
        assertEq(rollup.pubdataLength(), 64 * 4 + 15 * 8);
        assertEq(uint256(rollup.maxTokenId()), 7);
        assertEq(uint256(rollup.lastCommittedBlock()), 0);
        assertFalse(rollup.exodusMode());
    }

    function test_RevertWhen_ConstructorArgumentsInvalid() public {
        vm.expectRevert(_err(ZkRollup.ZeroAddress.selector));
        new ZkRollup(
            blockVerifier, exitVerifier, GENESIS, address(0), governor, W, T, 3, 8, 2, 1, 0
        );
        vm.expectRevert(_err(ZkRollup.ZeroAddress.selector));
        new ZkRollup(
            blockVerifier, exitVerifier, GENESIS, validator, address(0), W, T, 3, 8, 2, 1, 0
        );
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.NotAContract.selector, bob));
        new ZkRollup(
            IGroth16Verifier(bob), exitVerifier, GENESIS, validator, governor, W, T, 3, 8, 2, 1, 0
        );
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.NotAContract.selector, bob));
        new ZkRollup(
            blockVerifier, IGroth16Verifier(bob), GENESIS, validator, governor, W, T, 3, 8, 2, 1, 0
        );
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.RootNotInField.selector, bytes32(R)));
        new ZkRollup(
            blockVerifier, exitVerifier, bytes32(R), validator, governor, W, T, 3, 8, 2, 1, 0
        );
        vm.expectRevert(_err(ZkRollup.NoWideSlots.selector));
        new ZkRollup(blockVerifier, exitVerifier, GENESIS, validator, governor, 0, T, 3, 8, 2, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InvalidBalanceDepth.selector, 9));
        new ZkRollup(blockVerifier, exitVerifier, GENESIS, validator, governor, W, T, 9, 8, 2, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InvalidAccountDepth.selector, 0));
        new ZkRollup(blockVerifier, exitVerifier, GENESIS, validator, governor, W, T, 3, 0, 2, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InvalidAccountDepth.selector, 25));
        new ZkRollup(
            blockVerifier, exitVerifier, GENESIS, validator, governor, W, T, 3, 25, 2, 1, 0
        );
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InvalidAccountDepth.selector, 255));
        new ZkRollup(
            blockVerifier, exitVerifier, GENESIS, validator, governor, W, T, 3, 255, 2, 1, 0
        );
        vm.expectRevert(_err(ZkRollup.ZeroExpiration.selector));
        new ZkRollup(blockVerifier, exitVerifier, GENESIS, validator, governor, W, T, 3, 8, 0, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InvalidBlockInterval.selector, 0, 2));
        new ZkRollup(blockVerifier, exitVerifier, GENESIS, validator, governor, W, T, 3, 8, 2, 0, 0);
        // a request could expire before an operator at capacity reached it
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InvalidBlockInterval.selector, 2, 2));
        new ZkRollup(blockVerifier, exitVerifier, GENESIS, validator, governor, W, T, 3, 8, 2, 2, 0);
        // the edges are fine: account depth 24 admits every uint24 account id, depth 1 ids 0, 1
        ZkRollup r = new ZkRollup(
            blockVerifier, exitVerifier, bytes32(R - 1), validator, governor, 1, 0, 8, 24, 2, 1, 0
        );
        assertEq(r.pubdataLength(), 64);
        assertEq(uint256(r.maxTokenId()), 255);
        assertEq(uint256(r.accountDepth()), 24);
        assertEq(uint256(r.minDeposit()), 0);
        r.requestFullExit(type(uint24).max, 0);
        r.depositETH{value: 1}(bob); // minDeposit 0: any non-zero amount
        ZkRollup one = new ZkRollup(
            blockVerifier, exitVerifier, GENESIS, validator, governor, 1, 0, 0, 1, 2, 1, 1 ether
        );
        assertEq(uint256(one.accountDepth()), 1);
        assertEq(uint256(one.maxTokenId()), 0);
        one.requestFullExit(1, 0);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.AccountIdOutOfRange.selector, 2));
        one.requestFullExit(2, 0);
    }

    // ================================================================ tokens

    function test_AddToken() public {
        assertEq(uint256(rollup.tokenIds(address(token))), 1);
        assertEq(rollup.tokenAddresses(1), address(token));
        assertEq(rollup.tokenAddresses(0), address(0));
        LoftToken second = new LoftToken("B", "B", 6, address(this), 0);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit TokenAdded(address(second), 2);
        vm.prank(governor);
        rollup.addToken(address(second));
        assertEq(uint256(rollup.tokenIds(address(second))), 2);
        assertEq(rollup.tokenAddresses(2), address(second));
        assertEq(uint256(rollup.tokenCount()), 2);
    }

    function test_RevertWhen_AddTokenInvalid() public {
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.NotGovernor.selector, address(this)));
        rollup.addToken(address(token));
        vm.prank(governor);
        vm.expectRevert(
            abi.encodeWithSelector(ZkRollup.TokenAlreadyAdded.selector, address(token), 1)
        );
        rollup.addToken(address(token));
        vm.prank(governor);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.NotAContract.selector, bob));
        rollup.addToken(bob);
        vm.prank(governor);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.NotAContract.selector, address(0)));
        rollup.addToken(address(0));
    }

    /// balanceDepth 1: token ids 0 (ETH) and 1 only.
    function test_RevertWhen_TooManyTokens() public {
        ZkRollup small = new ZkRollup(
            blockVerifier, exitVerifier, GENESIS, validator, governor, 1, 1, 1, 8, 10, 1, 0
        );
        vm.startPrank(governor);
        small.addToken(address(token));
        LoftToken second = new LoftToken("B", "B", 6, address(this), 0);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.TooManyTokens.selector, 1));
        small.addToken(address(second));
        vm.stopPrank();
    }

    // ================================================================ deposits

    function test_DepositETH() public {
        vm.expectEmit(true, true, true, true, address(rollup));
        emit NewPriorityRequest(0, 1, 0, 0, 1 ether, bob, 1001 + EXPIRY);
        _depositETH(alice, bob, 1 ether);
        assertEq(address(rollup).balance, 1 ether);
        assertEq(uint256(rollup.totalPriorityRequests()), 1);
        (
            address owner,
            uint64 expirationBlock,
            uint16 tokenId,
            uint8 opType,
            uint128 amount,
            uint24 accountId
        ) = rollup.priorityRequests(0);
        assertEq(owner, bob);
        // the queue was empty: its clock is now + INTERVAL / W, rounded up to a block
        assertEq(uint256(expirationBlock), 1101);
        assertEq(uint256(rollup.priorityClock()), 1000 * W + INTERVAL);
        assertEq(uint256(tokenId), 0);
        assertEq(uint256(opType), 1);
        assertEq(uint256(amount), 1 ether);
        assertEq(uint256(accountId), 0);

        // exactly minDeposit is enough
        vm.roll(1005);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit NewPriorityRequest(1, 1, 0, 0, MIN_DEPOSIT, alice, 1106);
        _depositETH(alice, alice, MIN_DEPOSIT);
        assertEq(uint256(rollup.totalPriorityRequests()), 2);
    }

    function test_RevertWhen_DepositETHInvalid() public {
        vm.prank(alice);
        vm.expectRevert(_err(ZkRollup.ZeroAmount.selector));
        rollup.depositETH(bob);
        vm.prank(alice);
        vm.expectRevert(_err(ZkRollup.ZeroAddress.selector));
        rollup.depositETH{value: 1}(address(0));
        // the rollup may never hold 2^128 wei or more (no L2 balance could overflow)
        vm.deal(address(rollup), (uint256(1) << 128) - 1 - 2 * uint256(MIN_DEPOSIT));
        _depositETH(alice, bob, MIN_DEPOSIT);
        _depositETH(alice, bob, MIN_DEPOSIT); // holds 2^128 - 1
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                ZkRollup.DepositTooLarge.selector, (uint256(1) << 128) - 1 + MIN_DEPOSIT
            )
        );
        rollup.depositETH{value: MIN_DEPOSIT}(bob);
    }

    /// Dust ETH deposits are refused (each would be a priority request the operator must
    /// serve in time); ERC-20 deposits and full-exit requests have no floor.
    function test_RevertWhen_DepositETHBelowMinimum() public {
        vm.startPrank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(ZkRollup.DepositTooSmall.selector, MIN_DEPOSIT - 1, MIN_DEPOSIT)
        );
        rollup.depositETH{value: MIN_DEPOSIT - 1}(bob);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.DepositTooSmall.selector, 1, MIN_DEPOSIT));
        rollup.depositETH{value: 1}(bob);
        // zero is still ZeroAmount
        vm.expectRevert(_err(ZkRollup.ZeroAmount.selector));
        rollup.depositETH(bob);
        assertEq(uint256(rollup.totalPriorityRequests()), 0);
        assertEq(address(rollup).balance, 0);
        rollup.depositERC20(address(token), 1, bob);
        rollup.requestFullExit(1, 0);
        vm.stopPrank();
        assertEq(uint256(rollup.totalPriorityRequests()), 2);
    }

    function test_DepositERC20() public {
        vm.expectEmit(true, true, true, true, address(rollup));
        emit NewPriorityRequest(0, 1, 0, 1, 5e18, bob, 1101);
        vm.prank(alice);
        rollup.depositERC20(address(token), 5e18, bob);
        assertEq(token.balanceOf(address(rollup)), 5e18);
        assertEq(token.balanceOf(alice), 1e24 - 5e18);
        (,, uint16 tokenId, uint8 opType, uint128 amount,) = rollup.priorityRequests(0);
        assertEq(uint256(tokenId), 1);
        assertEq(uint256(opType), 1);
        assertEq(uint256(amount), 5e18);
    }

    /// The request carries what arrived, not what was asked (a 1% transfer fee here), and a
    /// token that returns nothing from transferFrom works.
    function test_DepositERC20CountsReceivedAmount() public {
        FeeNoReturnToken fee = new FeeNoReturnToken();
        vm.prank(governor);
        rollup.addToken(address(fee));
        fee.mint(alice, 1000);
        vm.startPrank(alice);
        fee.approve(address(rollup), 1000);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit NewPriorityRequest(0, 1, 0, 2, 990, bob, 1101);
        rollup.depositERC20(address(fee), 1000, bob);
        vm.stopPrank();
        assertEq(fee.balanceOf(address(rollup)), 990);
    }

    function test_RevertWhen_DepositERC20Invalid() public {
        vm.startPrank(alice);
        vm.expectRevert(_err(ZkRollup.ZeroAmount.selector));
        rollup.depositERC20(address(token), 0, bob);
        vm.expectRevert(_err(ZkRollup.ZeroAddress.selector));
        rollup.depositERC20(address(token), 1, address(0));
        LoftToken other = new LoftToken("O", "O", 18, alice, 100);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.UnknownToken.selector, address(other)));
        rollup.depositERC20(address(other), 1, bob);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.UnknownToken.selector, address(0)));
        rollup.depositERC20(address(0), 1, bob);
        vm.stopPrank();

        FalseToken f = new FalseToken();
        vm.prank(governor);
        rollup.addToken(address(f));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.TokenTransferFailed.selector, address(f)));
        rollup.depositERC20(address(f), 1, bob);

        // holdings of 2^128 or more are refused
        token.mint(alice, uint256(1) << 128);
        vm.prank(alice);
        rollup.depositERC20(address(token), type(uint128).max, bob);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(ZkRollup.DepositTooLarge.selector, uint256(1) << 128)
        );
        rollup.depositERC20(address(token), 1, bob);
    }

    function test_RequestFullExit() public {
        vm.expectEmit(true, true, true, true, address(rollup));
        emit NewPriorityRequest(0, 5, 77, 1, 0, alice, 1101);
        vm.prank(alice);
        rollup.requestFullExit(77, 1);
        (address owner,, uint16 tokenId, uint8 opType, uint128 amount, uint24 accountId) =
            rollup.priorityRequests(0);
        assertEq(owner, alice);
        assertEq(uint256(tokenId), 1);
        assertEq(uint256(opType), 5);
        assertEq(uint256(amount), 0);
        assertEq(uint256(accountId), 77);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.UnknownTokenId.selector, 2));
        rollup.requestFullExit(77, 2);
    }

    /// Account ids must be below 2^accountDepth and token ids registered (so at most
    /// maxTokenId): the circuit could never serve another request, which would only expire
    /// and force exodus mode.
    function test_RequestFullExitAccountRange() public {
        uint24 limit = uint24(1) << ACCOUNT_DEPTH; // 256
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.AccountIdOutOfRange.selector, limit));
        rollup.requestFullExit(limit, 0);
        vm.expectRevert(
            abi.encodeWithSelector(ZkRollup.AccountIdOutOfRange.selector, type(uint24).max)
        );
        rollup.requestFullExit(type(uint24).max, 1);
        vm.expectRevert(
            abi.encodeWithSelector(ZkRollup.AccountIdOutOfRange.selector, uint24(1) << 23)
        );
        rollup.requestFullExit(uint24(1) << 23, 1);
        assertEq(uint256(rollup.totalPriorityRequests()), 0);
        // the largest account id is fine
        vm.expectEmit(true, true, true, true, address(rollup));
        emit NewPriorityRequest(0, 5, limit - 1, 1, 0, alice, 1101);
        rollup.requestFullExit(limit - 1, 1);
        rollup.requestFullExit(0, 0);
        // token ids above maxTokenId are refused (here: above tokenCount, which is less)
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.UnknownTokenId.selector, 8));
        rollup.requestFullExit(1, 8);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.UnknownTokenId.selector, type(uint16).max));
        rollup.requestFullExit(1, type(uint16).max);
        vm.stopPrank();
        assertEq(uint256(rollup.totalPriorityRequests()), 2);
    }

    /// With every token id registered, the largest one is accepted and the next refused.
    function test_RequestFullExitTokenRange() public {
        ZkRollup small = new ZkRollup(
            blockVerifier, exitVerifier, GENESIS, validator, governor, 1, 1, 1, 8, 10, 1, 0
        );
        vm.prank(governor);
        small.addToken(address(token));
        assertEq(uint256(small.tokenCount()), uint256(small.maxTokenId()));
        small.requestFullExit(5, 1);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.UnknownTokenId.selector, 2));
        small.requestFullExit(5, 2);
    }

    // ================================================================ commit

    function test_CommitChecksPriorityOpsInOrder() public {
        _depositETH(alice, bob, 1 ether);
        vm.prank(alice);
        rollup.depositERC20(address(token), 3e18, alice);
        vm.prank(bob);
        rollup.requestFullExit(9, 1);

        bytes memory pubdata = _pubdata(
            _ops(
                _deposit(5, 0, 1 ether, bob), _deposit(6, 1, 3e18, alice), _fullExit(9, 1, 0, bob)
            ),
            bytes.concat(_transfer(5, 6, 0, 0x0a40, 0x0021), _transfer(6, 5, 1, 0x1e41, 0))
        );
        bytes32 root = _root(1);
        uint256 commitment = _commitment(GENESIS, root, pubdata);
        assertEq(rollup.blockCommitment(GENESIS, root, pubdata), commitment);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit BlockCommitted(1, root, commitment);
        _commit(1, root, pubdata, _ops());

        assertEq(uint256(rollup.lastCommittedBlock()), 1);
        assertEq(uint256(rollup.totalCommittedPriorityRequests()), 3);
        assertEq(uint256(rollup.firstPriorityRequestId()), 0);
        assertEq(rollup.committedRoot(), root);
        assertEq(rollup.stateRoot(), GENESIS);
        (uint256 c, bytes32 newRoot, bytes30 withdrawalsHash, uint16 priorityOps) =
            rollup.storedBlocks(1);
        assertEq(c, commitment);
        assertEq(newRoot, root);
        assertEq(bytes32(withdrawalsHash), bytes32(bytes30(keccak256(_entry(bob, 1, 0)))));
        assertEq(uint256(priorityOps), 3);
    }

    function test_RevertWhen_CommitPriorityOpMismatch() public {
        _depositETH(alice, bob, 1 ether);
        vm.prank(alice);
        rollup.requestFullExit(9, 0);
        bytes memory mismatch0 =
            abi.encodeWithSelector(ZkRollup.PriorityOpMismatch.selector, uint256(0), uint64(0));
        // wrong amount, address, token; the full exit first
        _expectCommitRevert(_pubdata(_ops(_deposit(5, 0, 1 ether - 1, bob)), ""), _ops(), mismatch0);
        _expectCommitRevert(_pubdata(_ops(_deposit(5, 0, 1 ether, alice)), ""), _ops(), mismatch0);
        _expectCommitRevert(_pubdata(_ops(_deposit(5, 1, 1 ether, bob)), ""), _ops(), mismatch0);
        _expectCommitRevert(_pubdata(_ops(_fullExit(9, 0, 0, alice)), ""), _ops(), mismatch0);
        // the deposit matches; the full exit of another address, or of another account, not
        bytes memory mismatch1 =
            abi.encodeWithSelector(ZkRollup.PriorityOpMismatch.selector, uint256(1), uint64(1));
        bytes memory dep = _deposit(5, 0, 1 ether, bob);
        _expectCommitRevert(_pubdata(_ops(dep, _fullExit(9, 0, 0, bob)), ""), _ops(), mismatch1);
        _expectCommitRevert(_pubdata(_ops(dep, _fullExit(8, 0, 0, alice)), ""), _ops(), mismatch1);
        _expectCommitRevert(
            _pubdata(_ops(dep, _deposit(5, 0, 1 ether, bob)), ""), _ops(), mismatch1
        );
        // a third priority op with no request behind it
        bytes memory ex = _fullExit(9, 0, 123, alice);
        _expectCommitRevert(
            _pubdata(_ops(dep, ex, _deposit(1, 0, 1, bob)), ""),
            _ops(),
            abi.encodeWithSelector(ZkRollup.PriorityOpMismatch.selector, uint256(2), uint64(2))
        );
        // the right block commits
        _commit(1, _root(1), _pubdata(_ops(dep, ex), ""), _ops());
        assertEq(uint256(rollup.totalCommittedPriorityRequests()), 2);
    }

    function test_RevertWhen_CommitMalformed() public {
        bytes memory empty = _pubdata(_ops(), "");
        // not the validator
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.NotValidator.selector, address(this)));
        rollup.commitBlock(1, _root(1), empty, _ops());
        // wrong block number
        vm.prank(validator);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.UnexpectedBlockNumber.selector, 1, 2));
        rollup.commitBlock(2, _root(2), empty, _ops());
        // wrong lengths
        _expectCommitRevert(
            bytes.concat(empty, hex"00"),
            _ops(),
            abi.encodeWithSelector(ZkRollup.InvalidPubdataLength.selector, 376, 377)
        );
        _expectCommitRevert(
            new bytes(375),
            _ops(),
            abi.encodeWithSelector(ZkRollup.InvalidPubdataLength.selector, 376, 375)
        );
        // a root that is no field element
        vm.prank(validator);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.RootNotInField.selector, bytes32(R)));
        rollup.commitBlock(1, bytes32(R), empty, _ops());
        // unknown op types in the wide lane (a plain transfer belongs in the transfer lane)
        uint8[4] memory bad = [2, 7, 0x80, 0xff];
        for (uint256 i = 0; i < bad.length; i++) {
            bytes memory op = _pad64(abi.encodePacked(bad[i]));
            _expectCommitRevert(
                _pubdata(_ops(op), ""),
                _ops(),
                abi.encodeWithSelector(ZkRollup.UnknownOpType.selector, uint256(0), uint256(bad[i]))
            );
        }
        // non-zero padding after a no-op, a withdraw, a change-key and a transfer to new
        bytes memory noop = new bytes(64);
        noop[63] = 0x01;
        bytes memory nonZero = abi.encodeWithSelector(ZkRollup.NonZeroPadding.selector, uint256(1));
        bytes memory w = _withdraw(1, 0, 5, bob);
        _expectCommitRevert(_pubdata(_ops(w, noop), ""), _ops(), nonZero);
        bytes memory w2 = _withdraw(1, 0, 5, bob);
        w2[43] = 0x01;
        _expectCommitRevert(_pubdata(_ops(w, w2), ""), _ops(), nonZero);
        bytes memory ck = _changeKey(1, alice, KEY_HASH, 0);
        ck[63] = 0x01;
        _expectCommitRevert(_pubdata(_ops(w, ck), ""), _ops(), nonZero);
        bytes memory tn = _transferToNew(1, 2, 0, bob);
        tn[35] = 0x01;
        _expectCommitRevert(_pubdata(_ops(w, tn), ""), _ops(), nonZero);
        // padding after a deposit (checked before the queue)
        bytes memory d = _deposit(1, 0, 5, bob);
        d[41] = 0x01;
        _expectCommitRevert(_pubdata(_ops(w, d), ""), _ops(), nonZero);
        // a witness without a change-key
        _expectCommitRevert(
            empty, _ops(hex""), abi.encodeWithSelector(ZkRollup.UnusedWitnesses.selector, 0, 1)
        );
    }

    // ================================================================ verify

    function test_VerifyPassesTheCommitment() public {
        bytes memory pubdata = _pubdata(_ops(), _transfer(1, 2, 0, 0x0a40, 0x0021));
        _commit(1, _root(1), pubdata, _ops());
        // the verifier accepts exactly the independently computed commitment and the proof
        blockVerifier.expect(_commitment(GENESIS, _root(1), pubdata), proof);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit BlockVerified(1);
        rollup.verifyBlock(1, proof);
        assertEq(uint256(rollup.lastVerifiedBlock()), 1);
        // block 2 chains on block 1's root
        _commit(2, _root(2), pubdata, _ops());
        _verify(2, _root(1), _root(2), pubdata);
        assertEq(uint256(rollup.lastVerifiedBlock()), 2);
    }

    function test_RevertWhen_VerifierRefuses() public {
        bytes memory pubdata = _pubdata(_ops(), "");
        _commit(1, _root(1), pubdata, _ops());
        uint256 commitment = _commitment(GENESIS, _root(1), pubdata);
        blockVerifier.expect(commitment + 1, proof);
        vm.expectRevert(_err(ZkRollup.InvalidProof.selector));
        rollup.verifyBlock(1, proof);
        // another proof
        blockVerifier.expect(commitment, proof);
        uint256[8] memory other = proof;
        other[3] ^= 1;
        vm.expectRevert(_err(ZkRollup.InvalidProof.selector));
        rollup.verifyBlock(1, other);
        assertEq(uint256(rollup.lastVerifiedBlock()), 0);
    }

    function test_RevertWhen_VerifyOutOfOrder() public {
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.BlockNotCommitted.selector, 1));
        rollup.verifyBlock(1, proof);
        _commit(1, _root(1), _pubdata(_ops(), ""), _ops());
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.UnexpectedBlockNumber.selector, 1, 2));
        rollup.verifyBlock(2, proof);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.UnexpectedBlockNumber.selector, 1, 0));
        rollup.verifyBlock(0, proof);
    }

    // ================================================================ execute

    function test_ExecuteCreditsWithdrawalsAndFullExits() public {
        _depositETH(alice, bob, 1 ether);
        vm.prank(alice);
        rollup.requestFullExit(3, 1);
        bytes memory pubdata = _pubdata(
            _ops(
                _deposit(4, 0, 1 ether, bob),
                _withdraw(4, 0, 0.25 ether, alice),
                _fullExit(3, 1, 2e18, alice)
            ),
            _transfer(4, 3, 0, 0x0a40, 0x0021)
        );
        bytes memory withdrawals =
            bytes.concat(_entry(alice, 0, 0.25 ether), _entry(alice, 1, 2e18));
        _commit(1, _root(1), pubdata, _ops());
        _verify(1, GENESIS, _root(1), pubdata);

        vm.expectRevert(abi.encodeWithSelector(ZkRollup.WithdrawalsMismatch.selector, 1));
        rollup.executeBlock(1, bytes.concat(_entry(alice, 0, 0.25 ether), _entry(bob, 1, 2e18)));
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.WithdrawalsMismatch.selector, 1));
        rollup.executeBlock(1, "");

        vm.expectEmit(true, true, true, true, address(rollup));
        emit BlockExecuted(1, _root(1));
        rollup.executeBlock(1, withdrawals);
        assertEq(rollup.pendingBalances(alice, 0), 0.25 ether);
        assertEq(rollup.pendingBalances(alice, 1), 2e18);
        assertEq(rollup.pendingBalances(bob, 0), 0);
        assertEq(rollup.stateRoot(), _root(1));
        assertEq(rollup.committedRoot(), _root(1));
        assertEq(uint256(rollup.lastExecutedBlock()), 1);
        assertEq(uint256(rollup.firstPriorityRequestId()), 2);
        (uint256 c,,,) = rollup.storedBlocks(1);
        assertEq(c, 0); // the record is gone

        vm.expectRevert(abi.encodeWithSelector(ZkRollup.UnexpectedBlockNumber.selector, 2, 1));
        rollup.executeBlock(1, withdrawals);
    }

    function test_RevertWhen_ExecuteUnverified() public {
        _commit(1, _root(1), _pubdata(_ops(), ""), _ops());
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.BlockNotVerified.selector, 1));
        rollup.executeBlock(1, "");
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.UnexpectedBlockNumber.selector, 1, 2));
        rollup.executeBlock(2, "");
    }

    // ================================================================ withdrawPending

    function _creditAliceAndBob() internal {
        _depositETH(alice, bob, 2 ether);
        vm.prank(alice);
        rollup.depositERC20(address(token), 10e18, bob);
        bytes memory pubdata =
            _pubdata(_ops(_withdraw(1, 0, 1.5 ether, alice), _withdraw(2, 1, 4e18, bob)), "");
        _commitVerifyExecute(
            1, pubdata, _ops(), bytes.concat(_entry(alice, 0, 1.5 ether), _entry(bob, 1, 4e18))
        );
    }

    function test_WithdrawPendingPaysOnce() public {
        _creditAliceAndBob();
        uint256 aliceBefore = alice.balance;
        // anyone may trigger it; the ETH goes to the owner
        vm.expectEmit(true, true, true, true, address(rollup));
        emit Withdrawal(alice, 0, 1 ether);
        vm.prank(bob);
        rollup.withdrawPending(alice, 0, 1 ether);
        assertEq(alice.balance, aliceBefore + 1 ether);
        assertEq(rollup.pendingBalances(alice, 0), 0.5 ether);
        rollup.withdrawPending(alice, 0, 0.5 ether);
        assertEq(alice.balance, aliceBefore + 1.5 ether);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InsufficientPendingBalance.selector, 0, 1));
        rollup.withdrawPending(alice, 0, 1);

        rollup.withdrawPending(bob, 1, 4e18);
        assertEq(token.balanceOf(bob), 4e18);
        assertEq(token.balanceOf(address(rollup)), 6e18);
        vm.expectRevert(
            abi.encodeWithSelector(ZkRollup.InsufficientPendingBalance.selector, 0, 4e18)
        );
        rollup.withdrawPending(bob, 1, 4e18);
        vm.expectRevert(_err(ZkRollup.ZeroAmount.selector));
        rollup.withdrawPending(bob, 1, 0);
    }

    function test_WithdrawPendingReentrancyRefused() public {
        ReenteringReceiver r = new ReenteringReceiver(rollup);
        _depositETH(alice, bob, 1 ether);
        _commitVerifyExecute(
            1, _pubdata(_ops(_withdraw(1, 0, 2, address(r))), ""), _ops(), _entry(address(r), 0, 2)
        );
        // its receive re-enters, is refused, so its receive reverts and so does the payout
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.EthTransferFailed.selector, address(r)));
        rollup.withdrawPending(address(r), 0, 1);
        assertEq(rollup.pendingBalances(address(r), 0), 2);
        assertEq(ReentrancyGuard.ReentrantCall.selector, bytes4(keccak256("ReentrantCall()")));
    }

    // ================================================================ change key

    function test_ChangeKeyWithSignature() public {
        bytes memory sig = _signChangeKey(alicePk, 7, KEY_HASH, 3);
        bytes memory pubdata = _pubdata(_ops(_changeKey(7, alice, KEY_HASH, 3)), "");
        _commit(1, _root(1), pubdata, _ops(sig));
        assertEq(uint256(rollup.lastCommittedBlock()), 1);
        // two change-keys, one signature each, in order, around another op
        bytes memory sig2 = _signChangeKey(alicePk, 8, KEY_HASH, 0);
        bytes memory sig3 = _signChangeKey(alicePk, 7, KEY_HASH, 4);
        pubdata = _pubdata(
            _ops(
                _changeKey(8, alice, KEY_HASH, 0),
                _withdraw(8, 0, 0, alice),
                _changeKey(7, alice, KEY_HASH, 4)
            ),
            ""
        );
        _commit(2, _root(2), pubdata, _ops(sig2, sig3));
        assertEq(uint256(rollup.lastCommittedBlock()), 2);
    }

    function test_RevertWhen_ChangeKeySignatureInvalid() public {
        bytes memory pubdata = _pubdata(_ops(_changeKey(7, alice, KEY_HASH, 3)), "");
        bytes memory invalid =
            abi.encodeWithSelector(ZkRollup.InvalidSignature.selector, uint256(0));
        // another signer
        _expectCommitRevert(
            pubdata, _ops(_signChangeKey(uint256(keccak256("bob")), 7, KEY_HASH, 3)), invalid
        );
        // signed for another nonce, account or key
        _expectCommitRevert(pubdata, _ops(_signChangeKey(alicePk, 7, KEY_HASH, 2)), invalid);
        _expectCommitRevert(pubdata, _ops(_signChangeKey(alicePk, 6, KEY_HASH, 3)), invalid);
        _expectCommitRevert(pubdata, _ops(_signChangeKey(alicePk, 7, bytes32(0), 3)), invalid);
        // malleated (high s), bad v, wrong lengths
        bytes memory sig = _signChangeKey(alicePk, 7, KEY_HASH, 3);
        (bytes32 r, bytes32 s, uint8 v) = _split(sig);
        bytes memory high =
            abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        // (ecrecover alone would take it)
        bytes32 signed = keccak256(
            abi.encodePacked(
                "\x19Ethereum Signed Message:\n32",
                rollup.changeKeyDigest(7, KEY_HASH, 3, 0, CHANGE_KEY_FEE)
            )
        );
        assertEq(ecrecover(signed, v == 27 ? 28 : 27, r, bytes32(SECP256K1_N - uint256(s))), alice);
        _expectCommitRevert(pubdata, _ops(high), invalid);
        _expectCommitRevert(pubdata, _ops(abi.encodePacked(r, s, v - 27)), invalid);
        _expectCommitRevert(pubdata, _ops(bytes.concat(sig, hex"00")), invalid);
        _expectCommitRevert(pubdata, _ops(abi.encodePacked(r, s)), invalid);
        // no witness, too many witnesses
        _expectCommitRevert(
            pubdata, _ops(), abi.encodeWithSelector(ZkRollup.MissingWitness.selector, uint256(0))
        );
        _expectCommitRevert(
            pubdata, _ops(sig, sig), abi.encodeWithSelector(ZkRollup.UnusedWitnesses.selector, 1, 2)
        );
        // an empty witness needs an on-chain authorisation
        _expectCommitRevert(
            pubdata,
            _ops(hex""),
            abi.encodeWithSelector(ZkRollup.KeyNotAuthorized.selector, uint256(0), alice, uint32(3))
        );
        // the good one
        _commit(1, _root(1), pubdata, _ops(sig));
    }

    function _split(bytes memory sig) internal pure returns (bytes32 r, bytes32 s, uint8 v) {
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
    }

    /// The fee and its token are signed: neither the operator nor anyone replaying the
    /// owner's signature can make the account pay another fee, in another token, or use it for
    /// another account of the same owner.
    function test_RevertWhen_ChangeKeyFeeNotSigned() public {
        bytes memory sig = _signChangeKey(alicePk, 7, KEY_HASH, 3); // token 0, fee 0x0041
        bytes memory invalid =
            abi.encodeWithSelector(ZkRollup.InvalidSignature.selector, uint256(0));
        // the largest packed fee, the same fee in another token, another account of alice
        _expectCommitRevert(
            _pubdata(_ops(_changeKeyPaying(7, alice, KEY_HASH, 3, 0, 0xffff)), ""),
            _ops(sig),
            invalid
        );
        _expectCommitRevert(
            _pubdata(_ops(_changeKeyPaying(7, alice, KEY_HASH, 3, 1, CHANGE_KEY_FEE)), ""),
            _ops(sig),
            invalid
        );
        _expectCommitRevert(
            _pubdata(_ops(_changeKey(8, alice, KEY_HASH, 3)), ""), _ops(sig), invalid
        );
        // the same with an on-chain authorisation
        vm.prank(alice);
        rollup.authorizeKey(7, KEY_HASH, 3, 0, CHANGE_KEY_FEE);
        bytes memory unauthorized = abi.encodeWithSelector(
            ZkRollup.KeyNotAuthorized.selector, uint256(0), alice, uint32(3)
        );
        _expectCommitRevert(
            _pubdata(_ops(_changeKeyPaying(7, alice, KEY_HASH, 3, 0, 0x07ff)), ""),
            _ops(hex""),
            unauthorized
        );
        _expectCommitRevert(
            _pubdata(_ops(_changeKeyPaying(7, alice, KEY_HASH, 3, 1, CHANGE_KEY_FEE)), ""),
            _ops(hex""),
            unauthorized
        );
        _expectCommitRevert(
            _pubdata(_ops(_changeKey(8, alice, KEY_HASH, 3)), ""), _ops(hex""), unauthorized
        );
        // what was signed goes through, by signature and by the authorisation
        _commit(1, _root(1), _pubdata(_ops(_changeKey(7, alice, KEY_HASH, 3)), ""), _ops(sig));
        _commit(2, _root(2), _pubdata(_ops(_changeKey(7, alice, KEY_HASH, 3)), ""), _ops(hex""));
    }

    function test_ChangeKeyWithOnChainAuthorization() public {
        bytes32 digest3 = rollup.changeKeyDigest(7, KEY_HASH, 3, 0, CHANGE_KEY_FEE);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit KeyAuthorized(alice, 7, 3, KEY_HASH, 0, CHANGE_KEY_FEE);
        vm.prank(alice);
        rollup.authorizeKey(7, KEY_HASH, 3, 0, CHANGE_KEY_FEE);
        assertTrue(rollup.authorizedChanges(alice, digest3));
        bytes memory pubdata = _pubdata(_ops(_changeKey(7, alice, KEY_HASH, 3)), "");
        // another key hash is not authorised
        _expectCommitRevert(
            _pubdata(_ops(_changeKey(7, alice, keccak256("other"), 3)), ""),
            _ops(hex""),
            abi.encodeWithSelector(ZkRollup.KeyNotAuthorized.selector, uint256(0), alice, uint32(3))
        );
        _commit(1, _root(1), pubdata, _ops(hex""));
        assertFalse(rollup.authorizedChanges(alice, digest3)); // consumed
        // replaying the nonce: the authorisation is gone
        _expectCommitRevert(
            pubdata,
            _ops(hex""),
            abi.encodeWithSelector(ZkRollup.KeyNotAuthorized.selector, uint256(0), alice, uint32(3))
        );
        // and it can not be used twice in one block either
        vm.prank(alice);
        rollup.authorizeKey(7, KEY_HASH, 4, 0, CHANGE_KEY_FEE);
        bytes memory twice = _pubdata(
            _ops(_changeKey(7, alice, KEY_HASH, 4), _changeKey(7, alice, KEY_HASH, 4)), ""
        );
        _expectCommitRevert(
            twice,
            _ops(hex"", hex""),
            abi.encodeWithSelector(ZkRollup.KeyNotAuthorized.selector, uint256(1), alice, uint32(4))
        );
        vm.expectRevert(_err(ZkRollup.ZeroKeyHash.selector));
        rollup.authorizeKey(7, bytes32(0), 5, 0, CHANGE_KEY_FEE);
    }

    // ================================================================ submitBlock

    function test_SubmitBlock() public {
        _depositETH(alice, bob, 1 ether);
        bytes memory sig = _signChangeKey(alicePk, 2, KEY_HASH, 0);
        bytes memory pubdata = _pubdata(
            _ops(
                _deposit(2, 0, 1 ether, bob),
                _withdraw(2, 0, 0.5 ether, alice),
                _changeKey(2, alice, KEY_HASH, 0)
            ),
            bytes.concat(_transfer(2, 1, 0, 0x0a40, 0x0021), _transfer(1, 2, 0, 0x1040, 0))
        );
        uint256 commitment = _commitment(GENESIS, _root(1), pubdata);
        blockVerifier.expect(commitment, proof);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit BlockCommitted(1, _root(1), commitment);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit BlockVerified(1);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit BlockExecuted(1, _root(1));
        vm.prank(validator);
        rollup.submitBlock(1, _root(1), pubdata, _ops(sig), proof);

        assertEq(rollup.stateRoot(), _root(1));
        assertEq(rollup.committedRoot(), _root(1));
        assertEq(uint256(rollup.lastCommittedBlock()), 1);
        assertEq(uint256(rollup.lastVerifiedBlock()), 1);
        assertEq(uint256(rollup.lastExecutedBlock()), 1);
        assertEq(uint256(rollup.firstPriorityRequestId()), 1);
        assertEq(uint256(rollup.totalCommittedPriorityRequests()), 1);
        assertEq(rollup.pendingBalances(alice, 0), 0.5 ether);
        (uint256 c,,,) = rollup.storedBlocks(1);
        assertEq(c, 0); // nothing stored

        // the three-step path continues on top of it
        _commitVerifyExecute(2, _pubdata(_ops(), ""), _ops(), "");
        assertEq(rollup.stateRoot(), _root(2));
        // and submit on top of that
        _submit(3, _pubdata(_ops(_withdraw(2, 0, 0.25 ether, alice)), ""), _ops());
        assertEq(rollup.pendingBalances(alice, 0), 0.75 ether);
        assertEq(uint256(rollup.lastExecutedBlock()), 3);
    }

    function test_RevertWhen_SubmitBlockInvalid() public {
        bytes memory pubdata = _pubdata(_ops(), "");
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.NotValidator.selector, address(this)));
        rollup.submitBlock(1, _root(1), pubdata, _ops(), proof);
        // the verifier says no: nothing changes
        blockVerifier.expect(_commitment(GENESIS, _root(1), pubdata) + 1, proof);
        vm.prank(validator);
        vm.expectRevert(_err(ZkRollup.InvalidProof.selector));
        rollup.submitBlock(1, _root(1), pubdata, _ops(), proof);
        vm.prank(validator);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.UnexpectedBlockNumber.selector, 1, 2));
        rollup.submitBlock(2, _root(2), pubdata, _ops(), proof);
        vm.prank(validator);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InvalidPubdataLength.selector, 376, 64));
        rollup.submitBlock(1, _root(1), new bytes(64), _ops(), proof);
        // priority ops are checked as in commit
        _depositETH(alice, bob, 1 ether);
        bytes memory wrong = _pubdata(_ops(_deposit(1, 0, 2 ether, bob)), "");
        vm.prank(validator);
        vm.expectRevert(
            abi.encodeWithSelector(ZkRollup.PriorityOpMismatch.selector, uint256(0), uint64(0))
        );
        rollup.submitBlock(1, _root(1), wrong, _ops(), proof);
        // not while a committed block is unexecuted
        _commit(1, _root(1), pubdata, _ops());
        vm.prank(validator);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.PendingBlocks.selector, 0, 1));
        rollup.submitBlock(2, _root(2), pubdata, _ops(), proof);
    }

    // ================================================================ revertBlocks

    function test_RevertBlocks() public {
        _depositETH(alice, bob, 1 ether);
        _depositETH(alice, alice, 2 ether);
        bytes memory b1 = _pubdata(_ops(_deposit(1, 0, 1 ether, bob)), "");
        bytes memory b2 = _pubdata(_ops(_deposit(2, 0, 2 ether, alice)), "");
        _commitVerifyExecute(1, b1, _ops(), "");
        _commit(2, _root(2), b2, _ops());
        _verify(2, _root(1), _root(2), b2);
        _commit(3, _root(3), _pubdata(_ops(), ""), _ops());
        assertEq(uint256(rollup.totalCommittedPriorityRequests()), 2);

        vm.expectRevert(abi.encodeWithSelector(ZkRollup.NotValidator.selector, address(this)));
        rollup.revertBlocks(1);
        vm.startPrank(validator);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InvalidRevertTarget.selector, 0));
        rollup.revertBlocks(0); // executed
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InvalidRevertTarget.selector, 3));
        rollup.revertBlocks(3); // nothing above
        // drop block 3 only
        vm.expectEmit(true, true, true, true, address(rollup));
        emit BlocksReverted(2);
        rollup.revertBlocks(2);
        assertEq(uint256(rollup.lastCommittedBlock()), 2);
        assertEq(uint256(rollup.lastVerifiedBlock()), 2);
        assertEq(rollup.committedRoot(), _root(2));
        // drop verified block 2 too
        rollup.revertBlocks(1);
        vm.stopPrank();
        assertEq(uint256(rollup.lastCommittedBlock()), 1);
        assertEq(uint256(rollup.lastVerifiedBlock()), 1);
        assertEq(uint256(rollup.lastExecutedBlock()), 1);
        assertEq(uint256(rollup.totalCommittedPriorityRequests()), 1);
        assertEq(rollup.committedRoot(), _root(1));
        (uint256 c,,,) = rollup.storedBlocks(2);
        assertEq(c, 0);

        // the dropped deposit is matched again by a new block 2, with another root
        bytes32 other = _root(22);
        _commit(2, other, b2, _ops());
        _verify(2, _root(1), other, b2);
        rollup.executeBlock(2, "");
        assertEq(rollup.stateRoot(), other);
        assertEq(uint256(rollup.firstPriorityRequestId()), 2);
    }

    // ================================================================ exodus

    function test_ExodusActivation() public {
        vm.expectRevert(_err(ZkRollup.NoPendingPriorityRequest.selector));
        rollup.activateExodusMode();
        _depositETH(alice, bob, 1 ether); // expires at 1101
        vm.roll(1100);
        vm.expectRevert(
            abi.encodeWithSelector(ZkRollup.PriorityRequestNotExpired.selector, 0, 1101)
        );
        rollup.activateExodusMode();
        // executed in time: no exodus
        _commitVerifyExecute(1, _pubdata(_ops(_deposit(1, 0, 1 ether, bob)), ""), _ops(), "");
        vm.roll(5000);
        vm.expectRevert(_err(ZkRollup.NoPendingPriorityRequest.selector));
        rollup.activateExodusMode();
        // a request the operator ignores
        vm.prank(alice);
        rollup.requestFullExit(1, 0); // expires at 5101
        vm.roll(5101);
        vm.expectEmit(true, true, true, true, address(rollup));
        emit ExodusMode();
        vm.prank(bob);
        rollup.activateExodusMode();
        assertTrue(rollup.exodusMode());
        vm.expectRevert(_err(ZkRollup.ExodusModeActive.selector));
        rollup.activateExodusMode();
    }

    /// Committed (even verified) but unexecuted requests count: the deadline is execution's.
    function test_ExodusWhenCommittedButUnexecuted() public {
        _depositETH(alice, bob, 1 ether);
        bytes memory b1 = _pubdata(_ops(_deposit(1, 0, 1 ether, bob)), "");
        _commit(1, _root(1), b1, _ops());
        _verify(1, GENESIS, _root(1), b1);
        vm.roll(1101);
        rollup.activateExodusMode();
        assertTrue(rollup.exodusMode());
    }

    function _enterExodus() internal {
        _depositETH(alice, bob, 1 ether);
        vm.prank(alice);
        rollup.depositERC20(address(token), 8e18, alice);
        // block 1 executes the ETH deposit: it is in the state, account 1 holds it
        _commitVerifyExecute(1, _pubdata(_ops(_deposit(1, 0, 1 ether, bob)), ""), _ops(), "");
        // block 2 commits the token deposit but is never executed
        bytes memory b2 = _pubdata(_ops(_deposit(2, 1, 8e18, alice)), "");
        _commit(2, _root(2), b2, _ops());
        // two more requests nobody executes
        vm.prank(bob);
        rollup.requestFullExit(1, 0);
        _depositETH(alice, alice, 3 ether);
        vm.roll(1101);
        rollup.activateExodusMode();
    }

    function test_EverythingBlockedInExodus() public {
        _enterExodus();
        bytes memory pubdata = _pubdata(_ops(), "");
        bytes4 blocked = ZkRollup.ExodusModeActive.selector;
        vm.startPrank(validator);
        vm.expectRevert(_err(blocked));
        rollup.commitBlock(3, _root(3), pubdata, _ops());
        vm.expectRevert(_err(blocked));
        rollup.submitBlock(3, _root(3), pubdata, _ops(), proof);
        vm.expectRevert(_err(blocked));
        rollup.revertBlocks(1);
        vm.stopPrank();
        vm.expectRevert(_err(blocked));
        rollup.verifyBlock(2, proof);
        vm.expectRevert(_err(blocked));
        rollup.executeBlock(2, "");
        vm.startPrank(alice);
        vm.expectRevert(_err(blocked));
        rollup.depositETH{value: MIN_DEPOSIT}(alice);
        vm.expectRevert(_err(blocked));
        rollup.depositERC20(address(token), 1, alice);
        vm.expectRevert(_err(blocked));
        rollup.requestFullExit(1, 0);
        vm.expectRevert(_err(blocked));
        rollup.authorizeKey(1, KEY_HASH, 1, 0, CHANGE_KEY_FEE);
        vm.stopPrank();
        LoftToken t2 = new LoftToken("B", "B", 6, address(this), 0);
        vm.prank(governor);
        vm.expectRevert(_err(blocked));
        rollup.addToken(address(t2));
    }

    function test_ExitPaysOnce() public {
        vm.expectRevert(_err(ZkRollup.NotExodusMode.selector));
        rollup.exit(1, 0, 1 ether, bob, proof);
        _enterExodus();
        assertEq(rollup.stateRoot(), _root(1));
        uint256 input = uint256(
            sha256(abi.encodePacked(_root(1), uint24(1), uint8(0), uint128(0.9 ether), bob))
        ) % R;
        assertEq(rollup.exitInput(1, 0, 0.9 ether, bob), input);
        exitVerifier.expect(input, proof);
        // a wrong amount, owner, account or token gives another input: refused
        vm.expectRevert(_err(ZkRollup.InvalidProof.selector));
        rollup.exit(1, 0, 1 ether, bob, proof);
        vm.expectRevert(_err(ZkRollup.InvalidProof.selector));
        rollup.exit(1, 0, 0.9 ether, alice, proof);
        vm.expectRevert(_err(ZkRollup.InvalidProof.selector));
        rollup.exit(2, 0, 0.9 ether, bob, proof);
        vm.expectRevert(_err(ZkRollup.InvalidProof.selector));
        rollup.exit(1, 1, 0.9 ether, bob, proof);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.UnknownTokenId.selector, 2));
        rollup.exit(1, 2, 0.9 ether, bob, proof);
        vm.expectRevert(_err(ZkRollup.ZeroAmount.selector));
        rollup.exit(1, 0, 0, bob, proof);
        vm.expectRevert(_err(ZkRollup.ZeroAddress.selector));
        rollup.exit(1, 0, 0.9 ether, address(0), proof);
        // no account 2^accountDepth or above exists: refused before the verifier is asked
        uint24 limit = uint24(1) << ACCOUNT_DEPTH;
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.AccountIdOutOfRange.selector, limit));
        rollup.exit(limit, 0, 0.9 ether, bob, proof);
        vm.expectRevert(
            abi.encodeWithSelector(ZkRollup.AccountIdOutOfRange.selector, type(uint24).max)
        );
        rollup.exit(type(uint24).max, 0, 0.9 ether, bob, proof);
        assertFalse(rollup.exited(limit, 0));
        // the largest account id reaches the verifier (which refuses this proof for it)
        vm.expectRevert(_err(ZkRollup.InvalidProof.selector));
        rollup.exit(limit - 1, 0, 0.9 ether, bob, proof);

        vm.prank(alice); // anyone may submit it
        rollup.exit(1, 0, 0.9 ether, bob, proof);
        assertEq(rollup.pendingBalances(bob, 0), 0.9 ether);
        assertTrue(rollup.exited(1, 0));
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.AlreadyExited.selector, 1, 0));
        rollup.exit(1, 0, 0.9 ether, bob, proof);

        uint256 before = bob.balance;
        rollup.withdrawPending(bob, 0, 0.9 ether);
        assertEq(bob.balance, before + 0.9 ether);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InsufficientPendingBalance.selector, 0, 1));
        rollup.withdrawPending(bob, 0, 1);
    }

    function test_CancelOutstandingDepositsRefundsOnce() public {
        vm.expectRevert(_err(ZkRollup.NotExodusMode.selector));
        rollup.cancelOutstandingDeposits(1);
        _enterExodus();
        // unexecuted: request 1 (token deposit, committed in block 2), 2 (full exit), 3 (ETH)
        assertEq(uint256(rollup.firstPriorityRequestId()), 1);
        vm.expectRevert(_err(ZkRollup.NothingToCancel.selector));
        rollup.cancelOutstandingDeposits(0);
        rollup.cancelOutstandingDeposits(2);
        assertEq(rollup.pendingBalances(alice, 1), 8e18);
        assertEq(rollup.pendingBalances(alice, 0), 0);
        assertEq(uint256(rollup.firstPriorityRequestId()), 3);
        rollup.cancelOutstandingDeposits(100);
        assertEq(rollup.pendingBalances(alice, 0), 3 ether);
        assertEq(rollup.pendingBalances(bob, 0), 0); // the executed deposit is not refunded
        assertEq(uint256(rollup.firstPriorityRequestId()), 4);
        vm.expectRevert(_err(ZkRollup.NothingToCancel.selector));
        rollup.cancelOutstandingDeposits(1);
        (address owner,,, uint8 opType,,) = rollup.priorityRequests(1);
        assertEq(owner, address(0));
        assertEq(uint256(opType), 0);

        rollup.withdrawPending(alice, 1, 8e18);
        assertEq(token.balanceOf(alice), 1e24);
        uint256 before = alice.balance;
        rollup.withdrawPending(alice, 0, 3 ether);
        assertEq(alice.balance, before + 3 ether);
        vm.expectRevert(abi.encodeWithSelector(ZkRollup.InsufficientPendingBalance.selector, 0, 1));
        rollup.withdrawPending(alice, 0, 1);
    }
}

/// @dev Gas figures for contracts/README.md, printed with `-vv`. Each test makes one call,
///      the first of its transaction to the rollup, on state prepared in setUp (its own
///      transaction): storage and accounts start cold and SSTOREs are priced as on L1. The
///      verifier accepts any proof at the cost of its CALL; the generated Groth16 verifier
///      adds about 198,000 gas per proof (`loft bench zk`).
contract ZkRollupGasTest is ZkRollupEncoding {
    AcceptingVerifier internal v;
    LoftToken internal token;
    address internal validator;
    address internal governor;
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    uint256[8] internal proof;
    /// token registered, two ETH deposits and a token deposit queued, block 1 executed
    ZkRollup internal r;
    /// as r, and block 2 committed / verified / executed
    ZkRollup internal rCommitted;
    ZkRollup internal rVerified;
    ZkRollup internal rExecuted;
    /// block 1 submitted, for the transfer-only blocks
    ZkRollup internal r64;
    ZkRollup internal r256;
    ZkRollup internal r1024;

    function setUp() public {
        v = new AcceptingVerifier();
        validator = makeAddr("validator");
        governor = makeAddr("governor");
        vm.deal(ALICE, 100 ether);
        vm.deal(BOB, 1 ether); // an existing account, as most payees are
        token = new LoftToken("Test", "TST", 18, address(this), 1e30);
        token.transfer(ALICE, 1e24);
        for (uint256 i = 0; i < 8; i++) {
            proof[i] = uint256(keccak256(abi.encode("proof", i))) % R;
        }
        r = _prepared(0);
        rCommitted = _prepared(1);
        rVerified = _prepared(2);
        rExecuted = _prepared(3);
        r64 = _sized(4, 64);
        r256 = _sized(8, 256);
        r1024 = _sized(16, 1024);
    }

    /// Block 2: two deposits, a withdrawal, eight transfers.
    function _block2() internal pure returns (bytes memory) {
        bytes memory transfers;
        for (uint256 i = 0; i < T; i++) {
            transfers = bytes.concat(transfers, hex"02", bytes14(keccak256(abi.encode(i))));
        }
        return _pubdata(
            _ops(
                _deposit(1, 0, 1 ether, BOB),
                _deposit(2, 0, 2 ether, ALICE),
                _withdraw(1, 0, 0.5 ether, BOB)
            ),
            transfers
        );
    }

    function _prepared(uint256 stage) internal returns (ZkRollup x) {
        x = new ZkRollup(
            v,
            v,
            GENESIS,
            validator,
            governor,
            W,
            T,
            DEPTH,
            ACCOUNT_DEPTH,
            EXPIRY,
            INTERVAL,
            MIN_DEPOSIT
        );
        vm.prank(governor);
        x.addToken(address(token));
        vm.startPrank(ALICE);
        token.approve(address(x), type(uint256).max);
        x.depositETH{value: 1 ether}(BOB);
        x.depositETH{value: 2 ether}(ALICE);
        x.depositERC20(address(token), 1e18, ALICE);
        vm.stopPrank();
        vm.startPrank(validator);
        x.commitBlock(1, _root(1), _pubdata(_ops(), ""), _ops());
        x.verifyBlock(1, proof);
        x.executeBlock(1, "");
        if (stage >= 1) x.commitBlock(2, _root(2), _block2(), _ops());
        if (stage >= 2) x.verifyBlock(2, proof);
        if (stage >= 3) x.executeBlock(2, _entry(BOB, 0, 0.5 ether));
        vm.stopPrank();
    }

    function _sized(uint16 w, uint16 t) internal returns (ZkRollup x) {
        x = new ZkRollup(
            v,
            v,
            GENESIS,
            validator,
            governor,
            w,
            t,
            DEPTH,
            ACCOUNT_DEPTH,
            EXPIRY,
            INTERVAL,
            MIN_DEPOSIT
        );
        vm.prank(validator);
        x.submitBlock(1, _root(1), new bytes(64 * uint256(w) + 15 * uint256(t)), _ops(), proof);
    }

    /// A block whose wide lane is all no-ops and whose transfer lane is full of transfers with
    /// pseudo-random bytes (almost all non-zero: the most calldata gas).
    function _transferBlock(uint16 w, uint16 t) internal pure returns (bytes memory pubdata) {
        // written in place: concatenating in a loop would grow memory quadratically
        pubdata = new bytes(64 * uint256(w) + 15 * uint256(t));
        for (uint256 i = 0; i < t; i++) {
            bytes32 x = bytes32(bytes.concat(hex"02", bytes14(keccak256(abi.encode(i)))));
            uint256 pos = 64 * uint256(w) + 15 * i;
            for (uint256 j = 0; j < 15; j++) {
                pubdata[pos + j] = x[j];
            }
        }
    }

    /// The execution gas of calling `target` with `data` and `value`, as the transaction
    /// making that call would pay it on top of its intrinsic gas: the CALL's own cost (cold
    /// account 2600, value transfer 9000 less the 2300 stipend) is taken out.
    function _execGas(address target, uint256 value, bytes memory data)
        internal
        returns (uint256 g)
    {
        bool ok;
        assembly {
            g := gas()
            ok := call(gas(), target, value, add(data, 32), mload(data), 0, 0)
            g := sub(g, gas())
        }
        assertTrue(ok, "call failed");
        g -= value == 0 ? 2600 : 2600 + 9000 - 2300;
    }

    /// Logs the execution gas (before refunds) and the transaction's gas: 21000 + 4 per
    /// calldata token (a zero byte is one token, another byte four) + execution, or the
    /// EIP-7623 floor of 21000 + 10 per token when that is more. For blocks of transfers also
    /// per transfer, and with the real verifier's 198,000 added to the execution.
    function _log(string memory what, uint256 exec, bytes memory data, uint256 transfers)
        internal
        view
    {
        uint256 tokens = 0;
        for (uint256 i = 0; i < data.length; i++) {
            tokens += data[i] == bytes1(0) ? 1 : 4;
        }
        console.log(string.concat(what, ": execution gas"), exec);
        console.log(string.concat(what, ": calldata bytes"), data.length);
        console.log(string.concat(what, ": transaction gas"), _txGas(tokens, exec));
        if (transfers != 0) {
            console.log(
                string.concat(what, ": transaction gas per transfer"),
                _txGas(tokens, exec) / transfers
            );
            console.log(
                string.concat(what, ": transaction gas with the real verifier"),
                _txGas(tokens, exec + 198_000)
            );
            console.log(
                string.concat(what, ": per transfer with the real verifier"),
                _txGas(tokens, exec + 198_000) / transfers
            );
        }
    }

    function _txGas(uint256 tokens, uint256 exec) internal pure returns (uint256) {
        uint256 standard = 21000 + 4 * tokens + exec;
        uint256 floor = 21000 + 10 * tokens;
        return standard > floor ? standard : floor;
    }

    function _gasTransfers(ZkRollup x, uint16 w, uint16 t) internal {
        bytes memory data = abi.encodeCall(
            ZkRollup.submitBlock, (2, _root(2), _transferBlock(w, t), _ops(), proof)
        );
        vm.prank(validator);
        uint256 g = _execGas(address(x), 0, data);
        _log(string.concat("submitBlock W=", _str(w), " T=", _str(t)), g, data, t);
    }

    function test_GasSubmitBlock_W4_T64() public {
        _gasTransfers(r64, 4, 64);
    }

    function test_GasSubmitBlock_W8_T256() public {
        _gasTransfers(r256, 8, 256);
    }

    function test_GasSubmitBlock_W16_T1024() public {
        _gasTransfers(r1024, 16, 1024);
        assertEq(r1024.stateRoot(), _root(2));
    }

    function test_GasSubmitBlockMixed() public {
        bytes memory data =
            abi.encodeCall(ZkRollup.submitBlock, (2, _root(2), _block2(), _ops(), proof));
        vm.prank(validator);
        _log(
            "submitBlock (2 deposits, 1 withdraw, 8 transfers)",
            _execGas(address(r), 0, data),
            data,
            0
        );
        assertEq(r.pendingBalances(BOB, 0), 0.5 ether);
    }

    function test_GasCommitBlock() public {
        bytes memory data = abi.encodeCall(ZkRollup.commitBlock, (2, _root(2), _block2(), _ops()));
        vm.prank(validator);
        _log("commitBlock (same block)", _execGas(address(r), 0, data), data, 0);
    }

    function test_GasVerifyBlock() public {
        bytes memory data = abi.encodeCall(ZkRollup.verifyBlock, (2, proof));
        _log("verifyBlock", _execGas(address(rCommitted), 0, data), data, 0);
    }

    function test_GasExecuteBlock() public {
        bytes memory data = abi.encodeCall(ZkRollup.executeBlock, (2, _entry(BOB, 0, 0.5 ether)));
        _log("executeBlock (1 withdrawal)", _execGas(address(rVerified), 0, data), data, 0);
        assertEq(rVerified.pendingBalances(BOB, 0), 0.5 ether);
    }

    function test_GasDepositETH() public {
        bytes memory data = abi.encodeCall(ZkRollup.depositETH, (BOB));
        vm.prank(ALICE);
        _log("depositETH", _execGas(address(r), 1 ether, data), data, 0);
    }

    function test_GasDepositERC20() public {
        bytes memory data = abi.encodeCall(ZkRollup.depositERC20, (address(token), 5e18, BOB));
        vm.prank(ALICE);
        _log("depositERC20", _execGas(address(r), 0, data), data, 0);
    }

    function test_GasRequestFullExit() public {
        bytes memory data = abi.encodeCall(ZkRollup.requestFullExit, (3, 1));
        vm.prank(ALICE);
        _log("requestFullExit", _execGas(address(r), 0, data), data, 0);
    }

    function test_GasWithdrawPending() public {
        bytes memory data = abi.encodeCall(ZkRollup.withdrawPending, (BOB, 0, 0.5 ether));
        _log("withdrawPending (ETH)", _execGas(address(rExecuted), 0, data), data, 0);
        assertEq(BOB.balance, 1.5 ether);
    }

    /// Calibration: one cold SLOAD through a view call is 2100 plus a little.
    function test_GasCalibration() public {
        uint256 g = _execGas(address(r), 0, abi.encodeWithSelector(r.stateRoot.selector));
        console.log("stateRoot() view: execution gas", g);
        assertTrue(g > 2100 && g < 2600, "storage is not cold in a test's transaction");
    }
}
