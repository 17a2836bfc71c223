// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {ReentrancyGuard} from "../rollup/ReentrancyGuard.sol";
import {ISecretRegistry} from "./ISecretRegistry.sol";

/// @title ChannelManager
/// @notice loft's payment channels (docs/channels.md §2): two participants lock ETH or an ERC-20
///         token, pay each other off-chain with EIP-712 balance proofs (one nonce chain per
///         direction, each proof signed by its sender), and settle either cooperatively in one
///         transaction or unilaterally: the closer submits its partner's newest proof, the
///         partner (or its watchtower, with a delegation signature) submits the closer's newest
///         during the settle period, anyone settles after it, and hash-time-locked amounts still
///         pending are unlocked against the `SecretRegistry`.
/// @dev After Raiden's `TokenNetwork`. ETH is `token == address(0)`. Participant 1 is the lower
///      address. Channel ids come from a counter and are never reused, and every signature is
///      over an EIP-712 digest bound to this contract and chain, so a proof can not be replayed
///      on another channel or deployment. Only the hash of a side's
///      `(transferredAmount, lockedAmount, locksroot)` is stored; the values travel in events
///      and are given again to `settleChannel`. Payouts never block a settlement: a push that
///      fails is credited to `owed` and taken later with `claim`.
contract ChannelManager is ReentrancyGuard {
    // ------------------------------------------------------------------ types

    enum State {
        None,
        Opened,
        Closed,
        Settled
    }

    /// @notice A balance proof: what its signer has sent on `channelId` so far.
    /// @param nonce 1, 2, 3, ... per sender; 0 in `closeChannel` means "nothing received"
    /// @param transferredAmount total paid by the signer, only ever grows
    /// @param lockedAmount sum of the signer's pending hash-time locks
    /// @param locksroot keccak256 of the concatenated 56-byte pending locks
    /// @param messageHash hash of the off-chain message that carried the proof
    struct BalanceProof {
        uint64 channelId;
        uint64 nonce;
        uint256 transferredAmount;
        uint256 lockedAmount;
        bytes32 locksroot;
        bytes32 messageHash;
    }

    /// @notice The values behind a participant's stored balance hash, given to `settleChannel`.
    struct SettleData {
        address participant;
        uint256 transferredAmount;
        uint256 lockedAmount;
        bytes32 locksroot;
    }

    /// @dev One side of a channel (3 slots).
    struct Participant {
        uint128 deposit;
        bytes32 balanceHash; // of the proof this participant signed; 0: none submitted
        uint64 nonce; // nonce of that proof
    }

    /// @dev A channel. Slot 0: participant1, settleTimeout, state, closer; slot 1:
    ///      participant2, settleBlock; slot 2: token; then the two participants.
    struct Channel {
        address participant1;
        uint64 settleTimeout;
        State state;
        uint8 closer; // 0: not closed, 1 or 2
        address participant2;
        uint64 settleBlock; // close block + settleTimeout
        address token;
        Participant p1;
        Participant p2;
    }

    /// @dev What remains of a settled channel for one sender's pending locks.
    struct UnlockData {
        bytes32 locksroot;
        uint256 lockedAmount;
        address token;
        address receiver;
    }

    /// @dev `settleChannel`'s results (memory, to keep the stack shallow).
    struct Settlement {
        address token;
        address p1;
        address p2;
        uint256 amount1;
        uint256 amount2;
        uint256 locked1;
        uint256 locked2;
    }

    // ------------------------------------------------------------------ events

    event ChannelOpened(
        uint64 indexed id,
        address indexed participant1,
        address indexed participant2,
        address token,
        uint64 settleTimeout
    );
    event ChannelDeposit(uint64 indexed id, address indexed participant, uint256 totalDeposit);
    /// @notice `closer` closed; the values are those of its partner's proof it submitted (all 0
    ///         for nonce 0).
    event ChannelClosed(
        uint64 indexed id,
        address indexed closer,
        uint64 nonce,
        uint256 transferredAmount,
        uint256 lockedAmount,
        bytes32 locksroot
    );
    /// @notice The closer's proof was submitted by the non-closer or its watchtower.
    event BalanceProofUpdated(
        uint64 indexed id,
        address indexed closer,
        uint64 nonce,
        uint256 transferredAmount,
        uint256 lockedAmount,
        bytes32 locksroot
    );
    /// @notice Paid `amount1`/`amount2` to participant 1/2; `locked1`/`locked2` stay for the
    ///         unlock of participant 1's/2's pending locks.
    event ChannelSettled(
        uint64 indexed id, uint256 amount1, uint256 amount2, uint256 locked1, uint256 locked2
    );
    event ChannelCooperativeSettled(uint64 indexed id, uint256 amount1, uint256 amount2);
    event ChannelUnlocked(
        uint64 indexed id,
        address indexed sender,
        address indexed receiver,
        uint256 unlockedAmount,
        uint256 returnedAmount
    );
    /// @notice A payout to `to` failed and was credited to `owed` (take it with `claim`).
    event PayoutDeferred(address indexed token, address indexed to, uint256 amount);

    // ------------------------------------------------------------------ errors

    error InvalidPartner();
    error SettleTimeoutOutOfRange(uint64 settleTimeout);
    error ChannelExists(uint64 id);
    error WrongState(uint64 id, State state);
    error NotParticipant(address account);
    error WrongValue();
    error DepositNotIncreasing();
    error DepositAboveLimit();
    error UnsupportedToken();
    error TokenTransferFailed();
    error InvalidSignature();
    error WrongSigner(address expected, address recovered);
    error WrongChannel(uint64 channelId);
    error SignatureExpired(uint64 expiration);
    error BalancesMismatch(uint256 available, uint256 given);
    error StaleNonce(uint64 stored, uint64 given);
    error SettlePeriodOver(uint64 settleBlock);
    error SettlePeriodNotOver(uint64 settleBlock);
    error BalanceHashMismatch(address participant);
    error NothingToUnlock();
    error BadLocksEncoding(uint256 length);
    error LocksrootMismatch(bytes32 stored, bytes32 computed);
    error LockStillPending(uint256 index, uint64 expiration);
    error NothingToClaim();
    error BadConstructorArguments();

    // ------------------------------------------------------------------ constants

    bytes32 public constant BALANCE_PROOF_TYPEHASH = keccak256(
        "BalanceProof(uint64 channelId,uint64 nonce,uint256 transferredAmount,uint256 lockedAmount,bytes32 locksroot,bytes32 messageHash)"
    );
    bytes32 public constant UPDATE_AUTHORIZATION_TYPEHASH = keccak256(
        "UpdateAuthorization(address nonCloser,BalanceProof balanceProof)BalanceProof(uint64 channelId,uint64 nonce,uint256 transferredAmount,uint256 lockedAmount,bytes32 locksroot,bytes32 messageHash)"
    );
    bytes32 public constant COOPERATIVE_SETTLE_TYPEHASH = keccak256(
        "CooperativeSettle(uint64 channelId,address participant1,uint256 balance1,address participant2,uint256 balance2,uint64 expiration)"
    );
    bytes32 private constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    bytes32 private constant NAME_HASH = keccak256("loft-channels");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// @dev secp256k1 n / 2: signatures with a higher s are malleable copies, refused.
    uint256 private constant HALF_N =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    /// @dev A lock on the wire and here: uint64 expiration ‖ uint128 amount ‖ bytes32 secrethash.
    uint256 public constant LOCK_SIZE = 56;
    /// @dev Gas a payout push may use; a receiver that needs more is paid through `claim`.
    uint256 private constant PUSH_GAS = 100_000;

    // ------------------------------------------------------------------ state

    ISecretRegistry public immutable secretRegistry;
    uint64 public immutable settleTimeoutMin;
    uint64 public immutable settleTimeoutMax;
    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    uint64 public channelCounter;
    mapping(uint64 => Channel) private _channels;
    /// @dev keccak256(abi.encode(token, participant1, participant2)) => open or closed channel.
    mapping(bytes32 => uint64) private _pairChannel;
    /// @dev keccak256(abi.encode(id, sender)) => pending locks of `sender` after settlement.
    mapping(bytes32 => UnlockData) private _unlocks;
    /// @notice token => account => payouts whose push failed.
    mapping(address => mapping(address => uint256)) public owed;

    constructor(ISecretRegistry registry, uint64 minTimeout, uint64 maxTimeout) {
        if (address(registry).code.length == 0 || minTimeout == 0 || minTimeout > maxTimeout) {
            revert BadConstructorArguments();
        }
        secretRegistry = registry;
        settleTimeoutMin = minTimeout;
        settleTimeoutMax = maxTimeout;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    // ------------------------------------------------------------------ open and deposit

    /// @notice Opens a channel between `msg.sender` and `partner` for `token` (0: ETH).
    function openChannel(address partner, address token, uint64 settleTimeout)
        public
        returns (uint64 id)
    {
        if (partner == address(0) || partner == msg.sender) revert InvalidPartner();
        if (settleTimeout < settleTimeoutMin || settleTimeout > settleTimeoutMax) {
            revert SettleTimeoutOutOfRange(settleTimeout);
        }
        if (token != address(0) && token.code.length == 0) revert UnsupportedToken();
        (address p1, address p2) = _order(msg.sender, partner);
        bytes32 pair = _pairKey(token, p1, p2);
        uint64 existing = _pairChannel[pair];
        if (existing != 0) revert ChannelExists(existing);
        id = ++channelCounter;
        _pairChannel[pair] = id;
        Channel storage c = _channels[id];
        c.participant1 = p1;
        c.participant2 = p2;
        c.settleTimeout = settleTimeout;
        c.state = State.Opened;
        c.token = token;
        emit ChannelOpened(id, p1, p2, token, settleTimeout);
    }

    /// @notice Opens a channel and deposits `deposit` for `msg.sender` in one transaction.
    function openChannelWithDeposit(
        address partner,
        address token,
        uint64 settleTimeout,
        uint256 deposit
    ) external payable returns (uint64 id) {
        id = openChannel(partner, token, settleTimeout);
        _deposit(id, msg.sender, deposit);
    }

    /// @notice Raises `participant`'s total deposit to `totalDeposit`, paid by `msg.sender`
    ///         (ETH: `msg.value` must be the difference; ERC-20: approved beforehand). Total
    ///         based, so a retried transaction can not deposit twice.
    function setTotalDeposit(uint64 id, address participant, uint256 totalDeposit)
        external
        payable
    {
        _deposit(id, participant, totalDeposit);
    }

    function _deposit(uint64 id, address participant, uint256 totalDeposit) private nonReentrant {
        Channel storage c = _channels[id];
        if (c.state != State.Opened) revert WrongState(id, c.state);
        Participant storage p = _participant(c, participant);
        if (totalDeposit <= p.deposit) revert DepositNotIncreasing();
        if (totalDeposit > type(uint128).max) revert DepositAboveLimit();
        uint256 added = totalDeposit - p.deposit;
        // casting to uint128 is safe: totalDeposit <= type(uint128).max was checked above
        // forge-lint: disable-next-line(unsafe-typecast)
        p.deposit = uint128(totalDeposit);
        address token = c.token;
        if (token == address(0)) {
            if (msg.value != added) revert WrongValue();
        } else {
            if (msg.value != 0) revert WrongValue();
            uint256 before = _balanceOf(token);
            (bool ok, bytes memory ret) =
                token.call(abi.encodeWithSelector(0x23b872dd, msg.sender, address(this), added));
            if (!ok || (ret.length != 0 && (ret.length != 32 || abi.decode(ret, (uint256)) != 1))) {
                revert TokenTransferFailed();
            }
            // Fee-on-transfer and rebasing tokens would break the channel's accounting.
            if (_balanceOf(token) - before != added) revert UnsupportedToken();
        }
        emit ChannelDeposit(id, participant, totalDeposit);
    }

    // ------------------------------------------------------------------ cooperative settle

    /// @notice Ends an open channel in one transaction with both participants' signatures on
    ///         `CooperativeSettle{id, participant1, balance1, participant2, balance2,
    ///         expiration}`; anyone may submit it until block `expiration`.
    function cooperativeSettle(
        uint64 id,
        uint256 balance1,
        uint256 balance2,
        uint64 expiration,
        bytes calldata signature1,
        bytes calldata signature2
    ) external nonReentrant {
        Channel storage c = _channels[id];
        if (c.state != State.Opened) revert WrongState(id, c.state);
        if (block.number > expiration) revert SignatureExpired(expiration);
        address p1 = c.participant1;
        address p2 = c.participant2;
        uint256 total = uint256(c.p1.deposit) + c.p2.deposit;
        // balance1 + balance2 could overflow; compare without adding.
        if (balance1 > total || balance2 != total - balance1) {
            revert BalancesMismatch(total, balance1 > total ? balance1 : balance1 + balance2);
        }
        bytes32 digest = cooperativeSettleDigest(id, p1, balance1, p2, balance2, expiration);
        _checkSigner(digest, signature1, p1);
        _checkSigner(digest, signature2, p2);
        address token = c.token;
        _close(id, token, p1, p2);
        emit ChannelCooperativeSettled(id, balance1, balance2);
        _pay(token, p1, balance1);
        _pay(token, p2, balance2);
    }

    // ------------------------------------------------------------------ unilateral close

    /// @notice Closes the channel unilaterally with the partner's newest balance proof (nonce 0,
    ///         empty signature: nothing received). Opens the settle period.
    function closeChannel(
        uint64 id,
        BalanceProof calldata partnerProof,
        bytes calldata partnerSignature
    ) external {
        Channel storage c = _channels[id];
        if (c.state != State.Opened) revert WrongState(id, c.state);
        bool isFirst = msg.sender == c.participant1;
        if (!isFirst && msg.sender != c.participant2) revert NotParticipant(msg.sender);
        uint64 settleBlock = uint64(block.number) + c.settleTimeout;
        c.state = State.Closed;
        c.closer = isFirst ? 1 : 2;
        c.settleBlock = settleBlock;
        if (partnerProof.nonce == 0) {
            emit ChannelClosed(id, msg.sender, 0, 0, 0, 0);
            return;
        }
        {
            if (partnerProof.channelId != id) revert WrongChannel(partnerProof.channelId);
            address partner = isFirst ? c.participant2 : c.participant1;
            _checkSigner(balanceProofDigest(partnerProof), partnerSignature, partner);
            Participant storage p = isFirst ? c.p2 : c.p1;
            p.balanceHash = _balanceHash(partnerProof);
            p.nonce = partnerProof.nonce;
        }
        emit ChannelClosed(
            id,
            msg.sender,
            partnerProof.nonce,
            partnerProof.transferredAmount,
            partnerProof.lockedAmount,
            partnerProof.locksroot
        );
    }

    /// @notice During the settle period, submits the closer's balance proof for `nonCloser`:
    ///         sent by `nonCloser` itself, or by anyone (a watchtower) with `nonCloser`'s
    ///         signature on `UpdateAuthorization{nonCloser, closerProof}`. Only a higher nonce
    ///         than the stored one is taken; may be called again with higher ones.
    function updateNonClosingBalanceProof(
        uint64 id,
        address nonCloser,
        BalanceProof calldata closerProof,
        bytes calldata closerSignature,
        bytes calldata delegationSignature
    ) external {
        Channel storage c = _channels[id];
        if (c.state != State.Closed) revert WrongState(id, c.state);
        if (block.number > c.settleBlock) revert SettlePeriodOver(c.settleBlock);
        address closer;
        Participant storage closerSide;
        if (c.closer == 1 && nonCloser == c.participant2) {
            (closer, closerSide) = (c.participant1, c.p1);
        } else if (c.closer == 2 && nonCloser == c.participant1) {
            (closer, closerSide) = (c.participant2, c.p2);
        } else {
            revert NotParticipant(nonCloser);
        }
        if (closerProof.channelId != id) revert WrongChannel(closerProof.channelId);
        if (closerProof.nonce <= closerSide.nonce) {
            revert StaleNonce(closerSide.nonce, closerProof.nonce);
        }
        bytes32 proofDigest = balanceProofDigest(closerProof);
        _checkSigner(proofDigest, closerSignature, closer);
        if (msg.sender != nonCloser) {
            _checkSigner(
                updateAuthorizationDigest(nonCloser, closerProof), delegationSignature, nonCloser
            );
        }
        closerSide.balanceHash = _balanceHash(closerProof);
        closerSide.nonce = closerProof.nonce;
        emit BalanceProofUpdated(
            id,
            closer,
            closerProof.nonce,
            closerProof.transferredAmount,
            closerProof.lockedAmount,
            closerProof.locksroot
        );
    }

    /// @notice After the settle period, pays both sides what the submitted proofs give them and
    ///         keeps their pending locked amounts for `unlock`. `a` and `b` are the two
    ///         participants, in either order, with the values of their stored balance hashes
    ///         (all zero where none was submitted).
    function settleChannel(uint64 id, SettleData calldata a, SettleData calldata b)
        external
        nonReentrant
    {
        Channel storage c = _channels[id];
        if (c.state != State.Closed) revert WrongState(id, c.state);
        if (block.number <= c.settleBlock) revert SettlePeriodNotOver(c.settleBlock);
        (SettleData calldata s1, SettleData calldata s2) =
            a.participant == c.participant1 ? (a, b) : (b, a);
        if (s1.participant != c.participant1) revert NotParticipant(s1.participant);
        if (s2.participant != c.participant2) revert NotParticipant(s2.participant);
        _checkSettleData(s1, c.p1.balanceHash);
        _checkSettleData(s2, c.p2.balanceHash);

        Settlement memory st;
        (st.amount1, st.amount2, st.locked1, st.locked2) = settleAmounts(
            c.p1.deposit,
            c.p2.deposit,
            s1.transferredAmount,
            s1.lockedAmount,
            s2.transferredAmount,
            s2.lockedAmount
        );
        st.token = c.token;
        st.p1 = c.participant1;
        st.p2 = c.participant2;
        _close(id, st.token, st.p1, st.p2);
        if (st.locked1 != 0) {
            _unlocks[_unlockKey(id, st.p1)] = UnlockData(s1.locksroot, st.locked1, st.token, st.p2);
        }
        if (st.locked2 != 0) {
            _unlocks[_unlockKey(id, st.p2)] = UnlockData(s2.locksroot, st.locked2, st.token, st.p1);
        }
        emit ChannelSettled(id, st.amount1, st.amount2, st.locked1, st.locked2);
        _pay(st.token, st.p1, st.amount1);
        _pay(st.token, st.p2, st.amount2);
    }

    /// @notice Settles the pending locks `sender` had in channel `id` (the 56-byte locks whose
    ///         keccak256 is the locksroot settled for `sender`): a lock whose secret was
    ///         registered at or before its expiration block goes to the receiver, the rest back
    ///         to `sender`. Refused while a lock is unregistered but not yet expired. Anyone may
    ///         call it, once.
    function unlock(uint64 id, address sender, bytes calldata locks) external nonReentrant {
        bytes32 key = _unlockKey(id, sender);
        UnlockData memory u = _unlocks[key];
        if (u.lockedAmount == 0) revert NothingToUnlock();
        if (locks.length % LOCK_SIZE != 0) revert BadLocksEncoding(locks.length);
        bytes32 computed = keccak256(locks);
        if (computed != u.locksroot) revert LocksrootMismatch(u.locksroot, computed);
        uint256 claimable;
        uint256 count = locks.length / LOCK_SIZE;
        for (uint256 i = 0; i < count; ++i) {
            (uint64 expiration, uint128 amount, bytes32 secrethash) = _lockAt(locks, i);
            uint256 revealed = secretRegistry.revealBlock(secrethash);
            if (revealed != 0 && revealed <= expiration) {
                claimable += amount;
            } else if (block.number <= expiration) {
                revert LockStillPending(i, expiration);
            }
        }
        uint256 unlocked = claimable < u.lockedAmount ? claimable : u.lockedAmount;
        uint256 returned = u.lockedAmount - unlocked;
        delete _unlocks[key];
        emit ChannelUnlocked(id, sender, u.receiver, unlocked, returned);
        _pay(u.token, u.receiver, unlocked);
        _pay(u.token, sender, returned);
    }

    /// @notice Takes the payouts of `token` that could not be pushed to `msg.sender`.
    function claim(address token) external nonReentrant {
        uint256 amount = owed[token][msg.sender];
        if (amount == 0) revert NothingToClaim();
        delete owed[token][msg.sender];
        bool ok;
        if (token == address(0)) {
            (ok,) = msg.sender.call{value: amount}("");
        } else {
            bytes memory ret;
            (ok, ret) = token.call(abi.encodeWithSelector(0xa9059cbb, msg.sender, amount));
            ok = ok && (ret.length == 0 || (ret.length == 32 && abi.decode(ret, (uint256)) == 1));
        }
        if (!ok) revert TokenTransferFailed();
    }

    // ------------------------------------------------------------------ settle arithmetic

    /// @notice What settlement pays, from deposits and the submitted (possibly old or missing)
    ///         transferred and locked amounts; never reverts and always sums to `d1 + d2`
    ///         (docs/channels.md §2.4, after Raiden's `getSettleTransferAmounts`).
    /// @return amount1 paid to participant 1 now
    /// @return amount2 paid to participant 2 now
    /// @return locked1 kept for participant 1's pending locks
    /// @return locked2 kept for participant 2's pending locks
    function settleAmounts(uint256 d1, uint256 d2, uint256 t1, uint256 l1, uint256 t2, uint256 l2)
        public
        pure
        returns (uint256 amount1, uint256 amount2, uint256 locked1, uint256 locked2)
    {
        uint256 m1 = _satAdd(t1, l1);
        uint256 m2 = _satAdd(t2, l2);
        // The side that sent less (transferred + locked) goes first, so m2 - m1 can not wrap.
        if (m1 <= m2) return _settleOrdered(d1, d2, l1, l2, m2 - m1);
        (amount2, amount1, locked2, locked1) = _settleOrdered(d2, d1, l2, l1, m1 - m2);
    }

    /// @dev `settleAmounts` with side 1 the one that sent less by `diff`.
    function _settleOrdered(uint256 d1, uint256 d2, uint256 l1, uint256 l2, uint256 diff)
        private
        pure
        returns (uint256 amount1, uint256 amount2, uint256 locked1, uint256 locked2)
    {
        uint256 total = d1 + d2; // each below 2^128
        uint256 r1 = _satAdd(diff, d1); // the most side 1 can receive
        if (r1 > total) r1 = total;
        uint256 r2 = total - r1;
        locked2 = r1 < l2 ? r1 : l2; // side 2's locks stay in the contract
        amount1 = r1 - locked2;
        locked1 = r2 < l1 ? r2 : l1;
        amount2 = r2 - locked1;
    }

    // ------------------------------------------------------------------ views

    /// @notice The channel's fixed data and state.
    function getChannel(uint64 id)
        external
        view
        returns (
            address participant1,
            address participant2,
            address token,
            uint64 settleTimeout,
            uint64 settleBlock,
            State state,
            uint8 closer
        )
    {
        Channel storage c = _channels[id];
        return (
            c.participant1,
            c.participant2,
            c.token,
            c.settleTimeout,
            c.settleBlock,
            c.state,
            c.closer
        );
    }

    /// @notice One participant's deposit and the balance hash and nonce of the proof it signed
    ///         that was submitted (0 if none).
    function getParticipant(uint64 id, address participant)
        external
        view
        returns (uint256 deposit, bytes32 balanceHash, uint64 nonce)
    {
        Channel storage c = _channels[id];
        Participant storage p = _participant(c, participant);
        return (p.deposit, p.balanceHash, p.nonce);
    }

    /// @notice The open or closed channel of `a` and `b` for `token`; 0 if none.
    function channelOf(address token, address a, address b) external view returns (uint64) {
        (address p1, address p2) = _order(a, b);
        return _pairChannel[_pairKey(token, p1, p2)];
    }

    /// @notice What is left to unlock of `sender`'s pending locks in settled channel `id`.
    function getUnlock(uint64 id, address sender)
        external
        view
        returns (bytes32 locksroot, uint256 lockedAmount, address token, address receiver)
    {
        UnlockData storage u = _unlocks[_unlockKey(id, sender)];
        return (u.locksroot, u.lockedAmount, u.token, u.receiver);
    }

    /// @notice The EIP-712 domain separator (name "loft-channels", version "1").
    function domainSeparator() public view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    /// @notice The EIP-712 digest a balance proof's sender signs.
    function balanceProofDigest(BalanceProof calldata proof) public view returns (bytes32) {
        return _digest(keccak256(abi.encode(BALANCE_PROOF_TYPEHASH, proof)));
    }

    /// @notice The EIP-712 digest by which `nonCloser` lets anyone submit `closerProof`.
    function updateAuthorizationDigest(address nonCloser, BalanceProof calldata closerProof)
        public
        view
        returns (bytes32)
    {
        bytes32 proofHash = keccak256(abi.encode(BALANCE_PROOF_TYPEHASH, closerProof));
        return _digest(keccak256(abi.encode(UPDATE_AUTHORIZATION_TYPEHASH, nonCloser, proofHash)));
    }

    /// @notice The EIP-712 digest both participants sign for `cooperativeSettle`.
    function cooperativeSettleDigest(
        uint64 id,
        address participant1,
        uint256 balance1,
        address participant2,
        uint256 balance2,
        uint64 expiration
    ) public view returns (bytes32) {
        return _digest(
            keccak256(
                abi.encode(
                    COOPERATIVE_SETTLE_TYPEHASH,
                    id,
                    participant1,
                    balance1,
                    participant2,
                    balance2,
                    expiration
                )
            )
        );
    }

    // ------------------------------------------------------------------ internals

    /// @dev Ends a channel: its pair may open a new one, its data is gone but its state says
    ///      `Settled`, so every later call on it is `WrongState`.
    function _close(uint64 id, address token, address p1, address p2) private {
        delete _pairChannel[_pairKey(token, p1, p2)];
        delete _channels[id];
        _channels[id].state = State.Settled;
    }

    function _checkSettleData(SettleData calldata s, bytes32 stored) private pure {
        bool ok = stored == 0
            ? s.transferredAmount == 0 && s.lockedAmount == 0 && s.locksroot == 0
            : keccak256(abi.encode(s.transferredAmount, s.lockedAmount, s.locksroot)) == stored;
        if (!ok) revert BalanceHashMismatch(s.participant);
    }

    function _balanceHash(BalanceProof calldata p) private pure returns (bytes32) {
        return keccak256(abi.encode(p.transferredAmount, p.lockedAmount, p.locksroot));
    }

    function _participant(Channel storage c, address who)
        private
        view
        returns (Participant storage)
    {
        if (who == c.participant1 && who != address(0)) return c.p1;
        if (who == c.participant2 && who != address(0)) return c.p2;
        revert NotParticipant(who);
    }

    function _lockAt(bytes calldata locks, uint256 i)
        private
        pure
        returns (uint64 expiration, uint128 amount, bytes32 secrethash)
    {
        uint256 offset = i * LOCK_SIZE;
        expiration = uint64(bytes8(locks[offset:offset + 8]));
        amount = uint128(bytes16(locks[offset + 8:offset + 24]));
        secrethash = bytes32(locks[offset + 24:offset + 56]);
    }

    /// @dev Pushes a payout with bounded gas; a failure (reverting or gas-hungry receiver, a
    ///      token refusing the transfer) is credited to `owed` instead of reverting, so one side
    ///      can not block the other's settlement.
    function _pay(address token, address to, uint256 amount) private {
        if (amount == 0) return;
        bool ok;
        if (token == address(0)) {
            assembly ("memory-safe") {
                ok := call(PUSH_GAS, to, amount, 0, 0, 0, 0)
            }
        } else {
            bytes memory data = abi.encodeWithSelector(0xa9059cbb, to, amount);
            assembly ("memory-safe") {
                // Copy at most 32 bytes of return data: a return bomb can not cost us gas.
                mstore(0, 0)
                ok := call(PUSH_GAS, token, 0, add(data, 32), mload(data), 0, 32)
                let size := returndatasize()
                ok := and(ok, or(iszero(size), and(eq(size, 32), eq(mload(0), 1))))
            }
        }
        if (!ok) {
            owed[token][to] += amount;
            emit PayoutDeferred(token, to, amount);
        }
    }

    function _balanceOf(address token) private view returns (uint256) {
        (bool ok, bytes memory ret) =
            token.staticcall(abi.encodeWithSelector(0x70a08231, address(this)));
        if (!ok || ret.length != 32) revert UnsupportedToken();
        return abi.decode(ret, (uint256));
    }

    /// @dev Recovers the signer of `digest` from a 65-byte `r ‖ s ‖ v` signature, refusing
    ///      malformed or malleable ones, and requires it to be `expected`.
    function _checkSigner(bytes32 digest, bytes calldata signature, address expected) private pure {
        if (signature.length != 65) revert InvalidSignature();
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > HALF_N || (v != 27 && v != 28)) revert InvalidSignature();
        address recovered = ecrecover(digest, v, r, s);
        if (recovered == address(0)) revert InvalidSignature();
        if (recovered != expected) revert WrongSigner(expected, recovered);
    }

    function _digest(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", domainSeparator(), structHash));
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this))
        );
    }

    function _order(address a, address b) private pure returns (address, address) {
        return a < b ? (a, b) : (b, a);
    }

    function _pairKey(address token, address p1, address p2) private pure returns (bytes32) {
        return keccak256(abi.encode(token, p1, p2));
    }

    function _unlockKey(uint64 id, address sender) private pure returns (bytes32) {
        return keccak256(abi.encode(id, sender));
    }

    function _satAdd(uint256 a, uint256 b) private pure returns (uint256) {
        unchecked {
            uint256 c = a + b;
            return c < a ? type(uint256).max : c;
        }
    }
}
