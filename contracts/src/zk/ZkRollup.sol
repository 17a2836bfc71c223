// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {ERC20} from "../ERC20.sol";
import {ReentrancyGuard} from "../rollup/ReentrancyGuard.sol";
import {IGroth16Verifier} from "./IVerifier.sol";

/// @title ZkRollup
/// @notice The L1 contract of loft's ZK rollup (docs/zk.md): deposits and full exits enter a
///         priority queue with deadlines; the validator commits blocks (new state root and
///         public data) that a Groth16 proof then verifies against the one public input
///         `uint256(sha256(oldRoot ‖ newRoot ‖ pubdata)) % R`; executing a block makes its
///         withdrawals and full exits withdrawable (`pendingBalances`, `withdrawPending`).
///         When a priority request stays unexecuted past its deadline anyone can switch the
///         rollup to exodus mode: no more blocks, and every account exits with a proof of its
///         balance under the last executed root.
/// @dev Modelled on zkSync Lite's `ZkSync.sol`. A block's public data is a wide lane of
///      `wideSlots` 64-byte slots (priority operations, withdrawals, change-key, transfers to
///      new accounts; each zero-padded to 64 bytes) followed by a transfer lane of
///      `transferSlots` 15-byte transfers, which L1 only hashes. Blocks are numbered from 1
///      and committed, verified and executed in order; `submitBlock` does all three at once
///      without storing the block. Token 0 is ETH; ERC-20 tokens get ids 1, 2, ... from the
///      governor. All integers in the public data are big-endian.
contract ZkRollup is ReentrancyGuard {
    // ------------------------------------------------------------------ types

    /// @notice A deposit or full-exit request waiting for a block to include it.
    /// @param owner deposit: the L2 address credited; full exit: the requester (`msg.sender`)
    /// @param expirationBlock the L1 block from which, unexecuted, it allows exodus mode
    /// @param tokenId the token deposited or exited
    /// @param opType `OP_DEPOSIT` (1) or `OP_FULL_EXIT` (5); 0 for no request
    /// @param amount deposit: the amount received; full exit: 0 (the circuit sets it)
    /// @param accountId full exit: the account exited; deposit: 0 (the operator's choice)
    struct PriorityRequest {
        address owner;
        uint64 expirationBlock;
        uint16 tokenId;
        uint8 opType;
        uint128 amount;
        uint24 accountId;
    }

    /// @notice What a committed block keeps for its verification and execution (3 slots;
    ///         deleted when the block is executed or reverted).
    /// @param commitment the proof's public input
    /// @param newRoot the state root after the block
    /// @param withdrawalsHash the first 30 bytes of `keccak256` of the block's withdrawal list
    ///        (`executeBlock`)
    /// @param priorityOps how many priority requests the block executes
    struct StoredBlock {
        uint256 commitment;
        bytes32 newRoot;
        bytes30 withdrawalsHash;
        uint16 priorityOps;
    }

    /// @dev The running state of a wide-lane walk (memory, to keep the stack shallow).
    struct Walk {
        uint64 nextRequest; // id of the priority request the next priority op must match
        uint16 priorityOps; // priority ops seen
        bool credit; // credit withdrawals at once (submitBlock) or list them (commitBlock)
        uint256 witnesses; // ethWitnesses used
        uint256 list; // memory: the withdrawal list (length word, then entries)
        uint256 cursor; // memory: where its next entry goes
        bytes30 withdrawalsHash; // list mode: the list's truncated keccak256
    }

    // ------------------------------------------------------------------ events

    /// @notice The governor registered `token` under `tokenId`.
    event TokenAdded(address indexed token, uint16 indexed tokenId);
    /// @notice A priority request entered the queue; the operator must execute it in a block
    ///         before `expirationBlock`.
    event NewPriorityRequest(
        uint64 indexed id,
        uint8 opType,
        uint24 accountId,
        uint16 tokenId,
        uint128 amount,
        address owner,
        uint64 expirationBlock
    );
    /// @notice Block `blockNumber` was committed with public input `commitment`.
    event BlockCommitted(uint32 indexed blockNumber, bytes32 newRoot, uint256 commitment);
    /// @notice The proof of block `blockNumber` was accepted.
    event BlockVerified(uint32 indexed blockNumber);
    /// @notice Block `blockNumber` was executed: `root` is the state root now.
    event BlockExecuted(uint32 indexed blockNumber, bytes32 root);
    /// @notice The unexecuted blocks above `toBlock` were dropped.
    event BlocksReverted(uint32 indexed toBlock);
    /// @notice `owner` authorised account `accountId`'s change-key of nonce `nonce` to the L2
    ///         key `keyHash`, paying `fee` (packed) of `feeToken`.
    event KeyAuthorized(
        address indexed owner,
        uint24 indexed accountId,
        uint32 indexed nonce,
        bytes32 keyHash,
        uint8 feeToken,
        uint16 fee
    );
    /// @notice `amount` of `tokenId` was paid out of `owner`'s pending balance.
    event Withdrawal(address indexed owner, uint16 indexed tokenId, uint128 amount);
    /// @notice The rollup entered exodus mode.
    event ExodusMode();
    /// @notice Exodus: `owner` exited `amount` of `tokenId` from account `accountId`.
    event Exited(uint24 indexed accountId, uint16 indexed tokenId, address owner, uint128 amount);
    /// @notice Exodus: the unexecuted deposit `id` was refunded to `owner`'s pending balance.
    event DepositCanceled(uint64 indexed id, address owner, uint16 tokenId, uint128 amount);

    // ------------------------------------------------------------------ errors

    /// @notice An address that must be set is zero.
    error ZeroAddress();
    /// @notice An address that must hold code (a verifier, a token) holds none.
    error NotAContract(address account);
    /// @notice A state root is not below the BN254 scalar field modulus.
    error RootNotInField(bytes32 root);
    /// @notice The deployment has no wide slots (no deposit could ever be executed).
    error NoWideSlots();
    /// @notice `balanceDepth` above 8 (token ids are one byte in the public data).
    error InvalidBalanceDepth(uint8 balanceDepth);
    /// @notice `accountDepth` is 0 or above 24 (account ids are three bytes in the public
    ///         data).
    error InvalidAccountDepth(uint8 accountDepth);
    /// @notice `priorityExpirationBlocks` is zero.
    error ZeroExpiration();
    /// @notice `blockInterval` is zero, or not below `priorityExpirationBlocks` (a request
    ///         could expire before an operator at capacity reached it).
    error InvalidBlockInterval(uint64 blockInterval, uint64 priorityExpirationBlocks);
    /// @notice Only the validator may call this.
    error NotValidator(address caller);
    /// @notice Only the governor may call this.
    error NotGovernor(address caller);
    /// @notice Refused in exodus mode.
    error ExodusModeActive();
    /// @notice Only in exodus mode.
    error NotExodusMode();
    /// @notice The token is registered already.
    error TokenAlreadyAdded(address token, uint16 tokenId);
    /// @notice All `maxTokenId` token ids are taken.
    error TooManyTokens(uint16 maxTokenId);
    /// @notice The ERC-20 token is not registered.
    error UnknownToken(address token);
    /// @notice No token has this id.
    error UnknownTokenId(uint16 tokenId);
    /// @notice An amount is zero (or an ERC-20 deposit delivered nothing).
    error ZeroAmount();
    /// @notice An ETH deposit of `amount` wei is below `minDeposit`.
    error DepositTooSmall(uint256 amount, uint128 minDeposit);
    /// @notice The account id is not below `2^accountDepth`: no such account can exist in the
    ///         state tree.
    error AccountIdOutOfRange(uint24 accountId);
    /// @notice The rollup would hold 2^128 or more of the token (L2 balances are below 2^128).
    error DepositTooLarge(uint256 holdings);
    /// @notice An ERC-20 `transfer`/`transferFrom` failed or returned false.
    error TokenTransferFailed(address token);
    /// @notice Sending ETH to `to` failed.
    error EthTransferFailed(address to);
    /// @notice The change-key key hash is zero.
    error ZeroKeyHash();
    /// @notice Blocks go in order: `expected` is the only block number accepted now.
    error UnexpectedBlockNumber(uint32 expected, uint32 blockNumber);
    /// @notice The public data is not `pubdataLength` bytes.
    error InvalidPubdataLength(uint256 expected, uint256 length);
    /// @notice A wide slot has non-zero bytes after its operation (or a no-op is not all zero).
    error NonZeroPadding(uint256 slot);
    /// @notice A wide slot holds an operation type that may not be there.
    error UnknownOpType(uint256 slot, uint256 opType);
    /// @notice A priority op does not match priority request `requestId`.
    error PriorityOpMismatch(uint256 slot, uint64 requestId);
    /// @notice The change-key in `slot` has no witness left in `ethWitnesses`.
    error MissingWitness(uint256 slot);
    /// @notice `ethWitnesses` has more entries (`given`) than change-key ops (`used`).
    error UnusedWitnesses(uint256 used, uint256 given);
    /// @notice The change-key signature in `slot` is malformed or not by the op's address.
    error InvalidSignature(uint256 slot);
    /// @notice The change-key in `slot` has no on-chain authorisation by `owner` for `nonce`
    ///         with its account, key hash, fee token and fee.
    error KeyNotAuthorized(uint256 slot, address owner, uint32 nonce);
    /// @notice The verifier refused the proof.
    error InvalidProof();
    /// @notice The block is not committed.
    error BlockNotCommitted(uint32 blockNumber);
    /// @notice The block is not verified.
    error BlockNotVerified(uint32 blockNumber);
    /// @notice The withdrawal list does not hash to what the block's commit recorded.
    error WithdrawalsMismatch(uint32 blockNumber);
    /// @notice `submitBlock` needs every committed block to be executed.
    error PendingBlocks(uint32 lastExecutedBlock, uint32 lastCommittedBlock);
    /// @notice `revertBlocks` needs `lastExecutedBlock <= toBlock < lastCommittedBlock`.
    error InvalidRevertTarget(uint32 toBlock);
    /// @notice The pending balance is smaller than the amount.
    error InsufficientPendingBalance(uint256 pending, uint128 amount);
    /// @notice No priority request is waiting.
    error NoPendingPriorityRequest();
    /// @notice The oldest unexecuted priority request is not expired before `expirationBlock`.
    error PriorityRequestNotExpired(uint64 requestId, uint64 expirationBlock);
    /// @notice The account already exited this token.
    error AlreadyExited(uint24 accountId, uint16 tokenId);
    /// @notice No unexecuted priority request is left to cancel (or `n == 0`).
    error NothingToCancel();

    // ------------------------------------------------------------------ constants

    /// @notice The BN254 scalar field modulus: public inputs are reduced modulo it.
    uint256 public constant R =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;

    uint8 public constant OP_NOOP = 0;
    uint8 public constant OP_DEPOSIT = 1;
    uint8 public constant OP_TRANSFER = 2;
    uint8 public constant OP_TRANSFER_TO_NEW = 3;
    uint8 public constant OP_WITHDRAW = 4;
    uint8 public constant OP_FULL_EXIT = 5;
    uint8 public constant OP_CHANGE_KEY = 6;

    /// @notice Bytes of a wide slot.
    uint256 public constant WIDE_SLOT_BYTES = 64;
    /// @notice Bytes of a transfer-lane slot.
    uint256 public constant TRANSFER_BYTES = 15;
    /// @notice Bytes of a withdrawal-list entry: `owner (20) ‖ uint8 tokenId ‖ uint128 amount`.
    uint256 public constant WITHDRAWAL_ENTRY_BYTES = 37;

    /// @dev secp256k1n / 2: larger `s` values are the malleable twin of a signature.
    uint256 private constant SECP256K1_HALF_N =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    uint256 private constant HOLDINGS_LIMIT = 1 << 128;

    // ------------------------------------------------------------------ configuration

    /// @notice Checks block proofs (public input: the block commitment).
    IGroth16Verifier public immutable blockVerifier;
    /// @notice Checks exit proofs in exodus mode (public input: `exitInput`).
    IGroth16Verifier public immutable exitVerifier;
    /// @notice The state root before block 1.
    bytes32 public immutable genesisRoot;
    /// @notice The operator: the only account that commits, submits and reverts blocks.
    address public immutable validator;
    /// @notice The only account that registers tokens.
    address public immutable governor;
    /// @notice Wide slots per block (64 bytes each).
    uint16 public immutable wideSlots;
    /// @notice Transfer slots per block (15 bytes each).
    uint16 public immutable transferSlots;
    /// @notice Depth of an account's balance tree: token ids are below `2^balanceDepth`.
    uint8 public immutable balanceDepth;
    /// @notice Depth of the account tree (1..24): account ids are below `2^accountDepth`.
    ///         Full-exit requests and exits for larger ids are refused: the circuit can not
    ///         serve such a request, so it could only expire and force exodus mode.
    uint8 public immutable accountDepth;
    /// @notice L1 blocks a priority request may wait, past its place in the queue (see
    ///         `priorityClock`), before it allows exodus mode.
    uint64 public immutable priorityExpirationBlocks;
    /// @notice The operator's configured capacity: it lands a block, retiring up to
    ///         `wideSlots` priority requests, at least every `blockInterval` L1 blocks.
    /// @dev A request's deadline is `ceil(priorityClock / wideSlots) + priorityExpirationBlocks`
    ///      where `priorityClock` is when an operator at this capacity reaches it: however many
    ///      requests L1 takes in one block, each one's deadline leaves the operator the time to
    ///      serve the queue ahead of it (docs/zk.md, "The priority queue").
    uint64 public immutable blockInterval;
    /// @notice The smallest ETH deposit, in wei (anti-spam for the priority queue).
    /// @dev A flood of requests can not force exodus mode (each deadline counts the queue
    ///      ahead: `blockInterval`), but it delays the requests behind it by `blockInterval /
    ///      wideSlots` L1 blocks each. The floor makes a flood of deposits lock real value as
    ///      well as pay gas. ERC-20 deposits only need a non-zero amount (a token's unit has no
    ///      common scale with wei); tokens are registered by the governor, and
    ///      `requestFullExit` stays free so that a user can always leave.
    uint128 public immutable minDeposit;
    /// @notice `64 * wideSlots + 15 * transferSlots`: the public data of every block.
    uint256 public immutable pubdataLength;
    /// @notice The largest token id: `2^balanceDepth - 1`.
    uint16 public immutable maxTokenId;

    // ------------------------------------------------------------------ storage

    // Slot 0: everything a block transaction reads and writes besides the roots. Request ids
    // count from 0; firstPriorityRequestId <= totalCommittedPriorityRequests <=
    // totalPriorityRequests; lastExecutedBlock <= lastVerifiedBlock <= lastCommittedBlock.

    /// @notice The last committed block (0: none).
    uint32 public lastCommittedBlock;
    /// @notice The last verified block.
    uint32 public lastVerifiedBlock;
    /// @notice The last executed block.
    uint32 public lastExecutedBlock;
    /// @notice Priority requests executed: the id of the oldest unexecuted one.
    uint64 public firstPriorityRequestId;
    /// @notice Priority requests included in committed blocks (executed or not): the id of the
    ///         request the next commit's first priority op must match.
    uint64 public totalCommittedPriorityRequests;
    /// @notice Whether the rollup is in exodus mode (final).
    bool public exodusMode;

    // Slot 1: what a new priority request reads and writes besides the mode.

    /// @notice Priority requests ever made (the id of the next one).
    uint64 public totalPriorityRequests;
    /// @notice Registered ERC-20 tokens (their ids are 1..tokenCount).
    uint16 public tokenCount;
    /// @notice The queue's clock, in units of `1 / wideSlots` L1 block: when an operator
    ///         retiring `wideSlots` requests every `blockInterval` L1 blocks reaches the last
    ///         request. Each request moves it to `max(priorityClock, block.number * wideSlots)
    ///         + blockInterval`.
    uint64 public priorityClock;

    /// @notice The state root after the last executed block (`genesisRoot` before block 1).
    bytes32 public stateRoot;
    /// @dev The root after the last committed block while it is not executed yet
    ///      (`committedRoot()`); stale otherwise.
    bytes32 private _committedRoot;

    /// @notice The priority queue.
    mapping(uint64 id => PriorityRequest) public priorityRequests;
    /// @notice Committed blocks that are not executed yet.
    mapping(uint32 blockNumber => StoredBlock) public storedBlocks;
    /// @notice Amounts withdrawable by `withdrawPending`.
    mapping(address owner => mapping(uint16 tokenId => uint256)) public pendingBalances;
    /// @notice The id of a registered ERC-20 token (0: not registered).
    mapping(address token => uint16) public tokenIds;
    /// @notice The ERC-20 token of an id (0 for ETH).
    mapping(uint16 tokenId => address) public tokenAddresses;
    /// @notice On-chain change-key authorisations: whether `owner` authorised the change-key
    ///         whose `changeKeyDigest` is `digest` (account, key hash, nonce, fee token, fee).
    ///         Consumed by the commit that uses it.
    mapping(address owner => mapping(bytes32 digest => bool)) public authorizedChanges;
    /// @notice Exodus: whether `accountId` exited `tokenId`.
    mapping(uint24 accountId => mapping(uint16 tokenId => bool)) public exited;

    // ------------------------------------------------------------------ constructor

    /// @param blockVerifier_ the verifier of the block circuit
    /// @param exitVerifier_ the verifier of the exit circuit
    /// @param genesisRoot_ the state root before block 1 (a field element)
    /// @param validator_ the operator
    /// @param governor_ the account that registers tokens
    /// @param wideSlots_ wide slots per block (at least 1)
    /// @param transferSlots_ transfer slots per block
    /// @param balanceDepth_ depth of the balance trees (at most 8)
    /// @param priorityExpirationBlocks_ deadline of a priority request past its place in the
    ///        queue, in L1 blocks (above `blockInterval_`)
    /// @param blockInterval_ L1 blocks the operator needs per block at its configured capacity
    ///        (not 0)
    /// @param minDeposit_ the smallest ETH deposit, in wei
    constructor(
        IGroth16Verifier blockVerifier_,
        IGroth16Verifier exitVerifier_,
        bytes32 genesisRoot_,
        address validator_,
        address governor_,
        uint16 wideSlots_,
        uint16 transferSlots_,
        uint8 balanceDepth_,
        uint8 accountDepth_,
        uint64 priorityExpirationBlocks_,
        uint64 blockInterval_,
        uint128 minDeposit_
    ) {
        if (validator_ == address(0) || governor_ == address(0)) {
            revert ZeroAddress();
        }
        if (address(blockVerifier_).code.length == 0) revert NotAContract(address(blockVerifier_));
        if (address(exitVerifier_).code.length == 0) revert NotAContract(address(exitVerifier_));
        if (uint256(genesisRoot_) >= R) revert RootNotInField(genesisRoot_);
        if (wideSlots_ == 0) revert NoWideSlots();
        if (balanceDepth_ > 8) revert InvalidBalanceDepth(balanceDepth_);
        if (accountDepth_ == 0 || accountDepth_ > 24) revert InvalidAccountDepth(accountDepth_);
        if (priorityExpirationBlocks_ == 0) revert ZeroExpiration();
        if (blockInterval_ == 0 || blockInterval_ >= priorityExpirationBlocks_) {
            revert InvalidBlockInterval(blockInterval_, priorityExpirationBlocks_);
        }
        blockVerifier = blockVerifier_;
        exitVerifier = exitVerifier_;
        genesisRoot = genesisRoot_;
        validator = validator_;
        governor = governor_;
        wideSlots = wideSlots_;
        transferSlots = transferSlots_;
        balanceDepth = balanceDepth_;
        accountDepth = accountDepth_;
        priorityExpirationBlocks = priorityExpirationBlocks_;
        blockInterval = blockInterval_;
        minDeposit = minDeposit_;
        pubdataLength =
            WIDE_SLOT_BYTES * uint256(wideSlots_) + TRANSFER_BYTES * uint256(transferSlots_);
        maxTokenId = uint16((uint256(1) << balanceDepth_) - 1);
        stateRoot = genesisRoot_;
    }

    // ------------------------------------------------------------------ tokens

    /// @notice Registers the ERC-20 `token` under the next id (1, 2, ..., `maxTokenId`).
    ///         Governor only.
    function addToken(address token) external {
        if (msg.sender != governor) revert NotGovernor(msg.sender);
        _requireActive();
        if (token.code.length == 0) revert NotAContract(token);
        uint16 existing = tokenIds[token];
        if (existing != 0) revert TokenAlreadyAdded(token, existing);
        uint16 id = tokenCount + 1;
        if (id > maxTokenId) revert TooManyTokens(maxTokenId);
        tokenCount = id;
        tokenIds[token] = id;
        tokenAddresses[id] = token;
        emit TokenAdded(token, id);
    }

    // ------------------------------------------------------------------ priority requests

    /// @notice Deposits `msg.value` wei to the L2 address `to` (a priority request). At least
    ///         `minDeposit` wei (see there why).
    function depositETH(address to) external payable {
        if (to == address(0)) revert ZeroAddress();
        if (msg.value == 0) revert ZeroAmount();
        if (msg.value < minDeposit) revert DepositTooSmall(msg.value, minDeposit);
        if (address(this).balance >= HOLDINGS_LIMIT) revert DepositTooLarge(address(this).balance);
        // forge-lint: disable-next-line(unsafe-typecast)
        _addPriorityRequest(OP_DEPOSIT, 0, 0, uint128(msg.value), to); // < 2^128: checked above
    }

    /// @notice Deposits `amount` of the registered ERC-20 `token` (pulled with `transferFrom`;
    ///         approve first) to the L2 address `to`. The request carries the amount the
    ///         rollup actually received (its balance difference).
    function depositERC20(address token, uint128 amount, address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        uint16 tokenId = tokenIds[token];
        if (tokenId == 0) revert UnknownToken(token);
        uint256 before = ERC20(token).balanceOf(address(this));
        _callToken(token, abi.encodeCall(ERC20.transferFrom, (msg.sender, address(this), amount)));
        uint256 holdings = ERC20(token).balanceOf(address(this));
        if (holdings >= HOLDINGS_LIMIT) revert DepositTooLarge(holdings);
        if (holdings <= before) revert ZeroAmount();
        // forge-lint: disable-next-line(unsafe-typecast)
        _addPriorityRequest(OP_DEPOSIT, 0, tokenId, uint128(holdings - before), to); // < 2^128
    }

    /// @notice Requests the full exit of `tokenId` from account `accountId`: the next blocks
    ///         must include it; if `msg.sender` owns the account its whole balance of the token
    ///         becomes withdrawable by `msg.sender` (nothing otherwise). Free (no deposit
    ///         floor). `accountId` must be below `2^accountDepth` and `tokenId` a registered
    ///         token (so at most `maxTokenId`): the circuit can not serve any other request,
    ///         which would then expire and force exodus mode on everyone.
    function requestFullExit(uint24 accountId, uint16 tokenId) external {
        _checkAccountId(accountId);
        if (tokenId > tokenCount) revert UnknownTokenId(tokenId); // tokenCount <= maxTokenId
        _addPriorityRequest(OP_FULL_EXIT, accountId, tokenId, 0, msg.sender);
    }

    /// @notice Authorises the change-key of the caller's account `accountId` at nonce `nonce`
    ///         to the L2 key `keyHash`, paying `fee` (packed, as in the public data) of
    ///         `feeToken`: instead of an ECDSA signature in the block. The commit that uses it
    ///         consumes it (a reverted block does not give it back: authorise again).
    function authorizeKey(
        uint24 accountId,
        bytes32 keyHash,
        uint32 nonce,
        uint8 feeToken,
        uint16 fee
    ) external {
        _requireActive();
        if (keyHash == bytes32(0)) revert ZeroKeyHash();
        bytes32 digest = changeKeyDigest(accountId, keyHash, nonce, feeToken, fee);
        authorizedChanges[msg.sender][digest] = true;
        emit KeyAuthorized(msg.sender, accountId, nonce, keyHash, feeToken, fee);
    }

    // ------------------------------------------------------------------ blocks

    /// @notice Commits block `blockNumber` (= lastCommittedBlock + 1): checks its wide lane
    ///         (priority ops against the queue, change-key authorisations, zero padding) and
    ///         stores its commitment for `verifyBlock`. Validator only.
    /// @param newRoot the state root after the block
    /// @param pubdata `pubdataLength` bytes: wide lane ‖ transfer lane
    /// @param ethWitnesses one entry per change-key op, in order: a 65-byte `r ‖ s ‖ v` ECDSA
    ///        signature, or empty to use an on-chain `authorizeKey`
    function commitBlock(
        uint32 blockNumber,
        bytes32 newRoot,
        bytes calldata pubdata,
        bytes[] calldata ethWitnesses
    ) external {
        _requireValidator();
        _requireActive();
        uint32 expected = lastCommittedBlock + 1;
        if (blockNumber != expected) revert UnexpectedBlockNumber(expected, blockNumber);
        _checkBlockInput(newRoot, pubdata);
        Walk memory s;
        s.nextRequest = totalCommittedPriorityRequests;
        _walk(pubdata, ethWitnesses, s);
        uint256 commitment = blockCommitment(committedRoot(), newRoot, pubdata);

        storedBlocks[blockNumber] = StoredBlock({
            commitment: commitment,
            newRoot: newRoot,
            withdrawalsHash: s.withdrawalsHash,
            priorityOps: s.priorityOps
        });
        lastCommittedBlock = blockNumber;
        totalCommittedPriorityRequests = s.nextRequest + s.priorityOps;
        _committedRoot = newRoot;
        emit BlockCommitted(blockNumber, newRoot, commitment);
    }

    /// @notice Verifies block `blockNumber` (= lastVerifiedBlock + 1, committed) with `proof`
    ///         against its commitment. Anyone: the proof decides.
    function verifyBlock(uint32 blockNumber, uint256[8] calldata proof) external {
        _requireActive();
        uint32 expected = lastVerifiedBlock + 1;
        if (blockNumber != expected) revert UnexpectedBlockNumber(expected, blockNumber);
        if (blockNumber > lastCommittedBlock) revert BlockNotCommitted(blockNumber);
        if (!blockVerifier.verifyProof(proof, [storedBlocks[blockNumber].commitment])) {
            revert InvalidProof();
        }
        lastVerifiedBlock = blockNumber;
        emit BlockVerified(blockNumber);
    }

    /// @notice Executes block `blockNumber` (= lastExecutedBlock + 1, verified): credits its
    ///         withdrawals and full exits to `pendingBalances`, retires its priority requests
    ///         and makes its root the state root. Anyone.
    /// @param withdrawals the block's withdrawal list: for each withdraw (type 4) and full
    ///        exit (type 5) of the wide lane, in slot order, `abi.encodePacked(address owner,
    ///        uint8 tokenId, uint128 amount)` (37 bytes)
    function executeBlock(uint32 blockNumber, bytes calldata withdrawals) external {
        _requireActive();
        uint32 expected = lastExecutedBlock + 1;
        if (blockNumber != expected) revert UnexpectedBlockNumber(expected, blockNumber);
        if (blockNumber > lastVerifiedBlock) revert BlockNotVerified(blockNumber);
        StoredBlock storage stored = storedBlocks[blockNumber];
        if (bytes30(keccak256(withdrawals)) != stored.withdrawalsHash) {
            revert WithdrawalsMismatch(blockNumber);
        }
        // The hash match makes the length a multiple of 37.
        for (uint256 off = 0; off < withdrawals.length; off += WITHDRAWAL_ENTRY_BYTES) {
            address owner;
            uint256 tokenId;
            uint256 amount;
            assembly ("memory-safe") {
                let p := add(withdrawals.offset, off)
                owner := shr(96, calldataload(p))
                tokenId := shr(248, calldataload(add(p, 20)))
                amount := shr(128, calldataload(add(p, 21)))
            }
            _credit(owner, tokenId, amount);
        }
        firstPriorityRequestId += stored.priorityOps;
        bytes32 root = stored.newRoot;
        stateRoot = root;
        lastExecutedBlock = blockNumber;
        delete storedBlocks[blockNumber];
        emit BlockExecuted(blockNumber, root);
    }

    /// @notice Commits, verifies and executes block `blockNumber` in one transaction, storing
    ///         no block record (the operator's gas-lean path). Only when every committed block
    ///         is executed. Validator only. Emits BlockCommitted, BlockVerified and
    ///         BlockExecuted like the three-step path.
    function submitBlock(
        uint32 blockNumber,
        bytes32 newRoot,
        bytes calldata pubdata,
        bytes[] calldata ethWitnesses,
        uint256[8] calldata proof
    ) external {
        _requireValidator();
        _requireActive();
        uint32 last = lastCommittedBlock;
        if (lastExecutedBlock != last) revert PendingBlocks(lastExecutedBlock, last);
        if (blockNumber != last + 1) revert UnexpectedBlockNumber(last + 1, blockNumber);
        _checkBlockInput(newRoot, pubdata);
        Walk memory s;
        s.nextRequest = firstPriorityRequestId; // == totalCommittedPriorityRequests here
        s.credit = true;
        _walk(pubdata, ethWitnesses, s);
        uint256 commitment = blockCommitment(stateRoot, newRoot, pubdata);
        // A staticcall (view): the pending balances credited above can not be re-entered.
        if (!blockVerifier.verifyProof(proof, [commitment])) revert InvalidProof();

        uint64 next = s.nextRequest + s.priorityOps;
        firstPriorityRequestId = next;
        totalCommittedPriorityRequests = next;
        lastCommittedBlock = blockNumber;
        lastVerifiedBlock = blockNumber;
        lastExecutedBlock = blockNumber;
        stateRoot = newRoot;
        emit BlockCommitted(blockNumber, newRoot, commitment);
        emit BlockVerified(blockNumber);
        emit BlockExecuted(blockNumber, newRoot);
    }

    /// @notice Drops the committed (possibly verified) but unexecuted blocks above `toBlock`
    ///         (`lastExecutedBlock <= toBlock < lastCommittedBlock`); their priority requests
    ///         go back to the uncommitted part of the queue. Validator only.
    function revertBlocks(uint32 toBlock) external {
        _requireValidator();
        _requireActive();
        uint32 last = lastCommittedBlock;
        uint32 executed = lastExecutedBlock;
        if (toBlock < executed || toBlock >= last) revert InvalidRevertTarget(toBlock);
        uint64 dropped = 0;
        for (uint256 b = uint256(toBlock) + 1; b <= last; ++b) {
            // forge-lint: disable-next-line(unsafe-typecast)
            uint32 n = uint32(b); // b <= last
            dropped += storedBlocks[n].priorityOps;
            delete storedBlocks[n];
        }
        lastCommittedBlock = toBlock;
        if (lastVerifiedBlock > toBlock) lastVerifiedBlock = toBlock;
        totalCommittedPriorityRequests -= dropped;
        if (toBlock != executed) _committedRoot = storedBlocks[toBlock].newRoot;
        emit BlocksReverted(toBlock);
    }

    // ------------------------------------------------------------------ withdrawals

    /// @notice Pays `amount` of `tokenId` out of `owner`'s pending balance to `owner` (ETH by
    ///         a call with all gas, ERC-20 by `transfer`). Anyone may call it; the funds only
    ///         ever go to `owner`. Works in exodus mode too.
    function withdrawPending(address owner, uint16 tokenId, uint128 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 pending = pendingBalances[owner][tokenId];
        if (pending < amount) revert InsufficientPendingBalance(pending, amount);
        address token = address(0);
        if (tokenId != 0) {
            token = tokenAddresses[tokenId];
            if (token == address(0)) revert UnknownTokenId(tokenId);
        }
        unchecked {
            pendingBalances[owner][tokenId] = pending - amount; // pending >= amount
        }
        emit Withdrawal(owner, tokenId, amount);
        if (tokenId == 0) {
            bool ok;
            assembly ("memory-safe") {
                ok := call(gas(), owner, amount, 0, 0, 0, 0)
            }
            if (!ok) revert EthTransferFailed(owner);
        } else {
            _callToken(token, abi.encodeCall(ERC20.transfer, (owner, amount)));
        }
    }

    // ------------------------------------------------------------------ exodus

    /// @notice Switches to exodus mode (for good) when the oldest unexecuted priority request
    ///         has reached its `expirationBlock`. Anyone.
    function activateExodusMode() external {
        _requireActive();
        uint64 first = firstPriorityRequestId;
        if (first >= totalPriorityRequests) revert NoPendingPriorityRequest();
        uint64 expiration = priorityRequests[first].expirationBlock;
        if (block.number < expiration) revert PriorityRequestNotExpired(first, expiration);
        exodusMode = true;
        emit ExodusMode();
    }

    /// @notice Exodus: credits `amount` of `tokenId` to `owner`'s pending balance, with a
    ///         proof that account `accountId`, whose address is `owner`, holds exactly that
    ///         under `stateRoot`. Once per account and token. Anyone. `accountId` must be below
    ///         `2^accountDepth`.
    function exit(
        uint24 accountId,
        uint16 tokenId,
        uint128 amount,
        address owner,
        uint256[8] calldata proof
    ) external {
        if (!exodusMode) revert NotExodusMode();
        _checkAccountId(accountId);
        if (tokenId > tokenCount) revert UnknownTokenId(tokenId);
        if (owner == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        if (exited[accountId][tokenId]) revert AlreadyExited(accountId, tokenId);
        exited[accountId][tokenId] = true;
        pendingBalances[owner][tokenId] += amount;
        emit Exited(accountId, tokenId, owner, amount);
        uint256 input = exitInput(accountId, tokenId, amount, owner);
        if (!exitVerifier.verifyProof(proof, [input])) revert InvalidProof();
    }

    /// @notice Exodus: refunds up to `n` unexecuted deposits, oldest first, to the pending
    ///         balance of their L2 address (full-exit requests are skipped). Each request is
    ///         settled once. Anyone.
    function cancelOutstandingDeposits(uint64 n) external {
        if (!exodusMode) revert NotExodusMode();
        uint64 first = firstPriorityRequestId;
        uint64 total = totalPriorityRequests;
        if (n == 0 || first >= total) revert NothingToCancel();
        uint64 end = total - first > n ? first + n : total;
        for (uint64 id = first; id < end; ++id) {
            PriorityRequest memory request = priorityRequests[id];
            if (request.opType == OP_DEPOSIT) {
                _credit(request.owner, request.tokenId, request.amount);
                emit DepositCanceled(id, request.owner, request.tokenId, request.amount);
            }
            delete priorityRequests[id];
        }
        firstPriorityRequestId = end;
        if (totalCommittedPriorityRequests < end) totalCommittedPriorityRequests = end;
    }

    // ------------------------------------------------------------------ views

    /// @notice The state root after the last committed block.
    function committedRoot() public view returns (bytes32) {
        return lastCommittedBlock == lastExecutedBlock ? stateRoot : _committedRoot;
    }

    /// @notice A block's public input: `uint256(sha256(oldRoot ‖ newRoot ‖ pubdata)) % R`.
    function blockCommitment(bytes32 oldRoot, bytes32 newRoot, bytes calldata pubdata)
        public
        pure
        returns (uint256)
    {
        return uint256(sha256(abi.encodePacked(oldRoot, newRoot, pubdata))) % R;
    }

    /// @notice An exit proof's public input: `uint256(sha256(abi.encodePacked(stateRoot,
    ///         accountId, uint8(tokenId), amount, owner))) % R` (72 bytes hashed).
    function exitInput(uint24 accountId, uint16 tokenId, uint128 amount, address owner)
        public
        view
        returns (uint256)
    {
        if (tokenId > maxTokenId) revert UnknownTokenId(tokenId);
        // forge-lint: disable-next-line(unsafe-typecast)
        uint8 token = uint8(tokenId); // <= maxTokenId <= 255
        return uint256(sha256(abi.encodePacked(stateRoot, accountId, token, amount, owner))) % R;
    }

    /// @notice The digest an address signs (as an EIP-191 personal message over these 32
    ///         bytes) to authorise account `accountId`'s change-key of nonce `nonce` to the L2
    ///         key `keyHash`, paying `fee` (packed: 11-bit mantissa, 5-bit exponent) of token
    ///         `feeToken`: `keccak256(abi.encodePacked("loft-zk change key", accountId, keyHash,
    ///         nonce, feeToken, fee, block.chainid, address(this)))`. The fee is signed so that
    ///         neither the operator nor anyone replaying the authorisation can choose it.
    function changeKeyDigest(
        uint24 accountId,
        bytes32 keyHash,
        uint32 nonce,
        uint8 feeToken,
        uint16 fee
    ) public view returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                "loft-zk change key",
                accountId,
                keyHash,
                nonce,
                feeToken,
                fee,
                block.chainid,
                address(this)
            )
        );
    }

    // ------------------------------------------------------------------ internals

    function _requireValidator() private view {
        if (msg.sender != validator) revert NotValidator(msg.sender);
    }

    function _requireActive() private view {
        if (exodusMode) revert ExodusModeActive();
    }

    /// @dev Refuses an account id that is not below `2^accountDepth` (`accountDepth <= 24`).
    function _checkAccountId(uint24 accountId) private view {
        if (uint256(accountId) >> accountDepth != 0) revert AccountIdOutOfRange(accountId);
    }

    /// @dev Checks what commit and submit take from the validator besides the wide lane.
    function _checkBlockInput(bytes32 newRoot, bytes calldata pubdata) private view {
        if (pubdata.length != pubdataLength) {
            revert InvalidPubdataLength(pubdataLength, pubdata.length);
        }
        if (uint256(newRoot) >= R) revert RootNotInField(newRoot);
    }

    function _addPriorityRequest(
        uint8 opType,
        uint24 accountId,
        uint16 tokenId,
        uint128 amount,
        address owner
    ) private {
        _requireActive();
        uint64 id = totalPriorityRequests;
        // The queue's clock: an operator at capacity reaches this request `blockInterval /
        // wideSlots` L1 blocks after the one ahead of it, or after now if the queue is done.
        uint256 slots = wideSlots;
        uint256 clock = priorityClock;
        uint256 start = block.number * slots;
        if (clock < start) clock = start;
        clock += blockInterval;
        // forge-lint: disable-next-line(unsafe-typecast)
        priorityClock = uint64(clock); // < 2^64 for any real block number
        // forge-lint: disable-next-line(unsafe-typecast)
        uint64 expiration = uint64((clock + slots - 1) / slots) + priorityExpirationBlocks;
        priorityRequests[id] = PriorityRequest({
            owner: owner,
            expirationBlock: expiration,
            tokenId: tokenId,
            opType: opType,
            amount: amount,
            accountId: accountId
        });
        totalPriorityRequests = id + 1;
        emit NewPriorityRequest(id, opType, accountId, tokenId, amount, owner, expiration);
    }

    /// @dev Walks the wide lane of `pubdata` (its length checked): checks every slot, and
    ///      either credits withdrawals and full exits (`s.credit`) or lists them and sets
    ///      `s.withdrawalsHash` to the list's truncated hash. Counts priority ops in
    ///      `s.priorityOps`.
    function _walk(bytes calldata pubdata, bytes[] calldata ethWitnesses, Walk memory s) private {
        uint256 slots = wideSlots;
        if (!s.credit) {
            uint256 list;
            assembly ("memory-safe") {
                list := mload(0x40)
                // the length word, 37 bytes per slot at most, 32 for the last mstore's tail
                mstore(0x40, add(list, add(0x40, mul(slots, 37))))
            }
            s.list = list;
            s.cursor = list + 32;
        }
        for (uint256 i = 0; i < slots; ++i) {
            uint256 base;
            bool noop;
            assembly {
                base := add(pubdata.offset, shl(6, i)) // i < 2^16: no overflow
                noop := iszero(or(calldataload(base), calldataload(add(base, 32))))
            }
            // An all-zero slot is a no-op; anything else (a non-zero no-op too) is parsed.
            if (!noop) _wideOp(s, i, base, ethWitnesses);
        }
        if (s.witnesses != ethWitnesses.length) {
            revert UnusedWitnesses(s.witnesses, ethWitnesses.length);
        }
        if (!s.credit) {
            uint256 list = s.list;
            uint256 length = s.cursor - list - 32;
            bytes32 h;
            assembly ("memory-safe") {
                mstore(list, length)
                h := keccak256(add(list, 32), length)
            }
            // truncating to the first 30 bytes is intended (StoredBlock packs the rest)
            // forge-lint: disable-next-line(unsafe-typecast)
            s.withdrawalsHash = bytes30(h);
        }
    }

    /// @dev Checks (and records) the wide op in `slot`, at calldata offset `base`.
    function _wideOp(Walk memory s, uint256 slot, uint256 base, bytes[] calldata ethWitnesses)
        private
    {
        uint256 w0 = _load(base);
        uint256 w1 = _load(base + 32);
        uint256 op = w0 >> 248;
        if (op == OP_NOOP) {
            if ((w0 | w1) != 0) revert NonZeroPadding(slot);
        } else if (op == OP_DEPOSIT || op == OP_FULL_EXIT) {
            // type, account u24, token u8, amount u128, address: 41 bytes
            if ((w1 << 72) != 0) revert NonZeroPadding(slot);
            address owner = address(uint160(_load(base + 21) >> 96));
            _checkPriorityOp(s, slot, op, w0, owner);
            if (op == OP_FULL_EXIT) _withdrawal(s, owner, w0);
        } else if (op == OP_WITHDRAW) {
            // type, account u24, token u8, amount u128, fee u16, address: 43 bytes
            if ((w1 << 88) != 0) revert NonZeroPadding(slot);
            _withdrawal(s, address(uint160(_load(base + 23) >> 96)), w0);
        } else if (op == OP_CHANGE_KEY) {
            // type, account u24, address, keyHash, nonce u32, fee token u8, fee u16: 63
            if ((w1 & 0xff) != 0) revert NonZeroPadding(slot);
            uint256 k = s.witnesses;
            if (k == ethWitnesses.length) revert MissingWitness(slot);
            s.witnesses = k + 1;
            _checkChangeKey(slot, base, ethWitnesses[k]);
        } else if (op == OP_TRANSFER_TO_NEW) {
            // type, from u24, to u24, token u8, amount u40, fee u16, address: 35 bytes
            if ((w1 << 24) != 0) revert NonZeroPadding(slot);
        } else {
            revert UnknownOpType(slot, op);
        }
    }

    /// @dev The priority op in `slot` (deposit or full exit; fields in `w0`, address `owner`)
    ///      must match the next priority request (a missing one has opType 0 and never does).
    function _checkPriorityOp(Walk memory s, uint256 slot, uint256 op, uint256 w0, address owner)
        private
        view
    {
        uint64 id = s.nextRequest + s.priorityOps;
        PriorityRequest storage request = priorityRequests[id];
        bool ok = request.opType == op && request.tokenId == ((w0 >> 216) & 0xff)
            && request.owner == owner;
        if (op == OP_DEPOSIT) {
            ok = ok && request.amount == ((w0 >> 88) & type(uint128).max);
        } else {
            ok = ok && request.accountId == ((w0 >> 224) & 0xffffff);
        }
        if (!ok) revert PriorityOpMismatch(slot, id);
        ++s.priorityOps;
    }

    /// @dev A withdraw or full exit (token at byte 4, amount at bytes 5..20 of `w0`) for
    ///      `owner`: credited now, or appended to the withdrawal list.
    function _withdrawal(Walk memory s, address owner, uint256 w0) private {
        uint256 tokenId = (w0 >> 216) & 0xff;
        uint256 amount = (w0 >> 88) & type(uint128).max;
        if (s.credit) {
            _credit(owner, tokenId, amount);
        } else {
            uint256 c = s.cursor;
            assembly ("memory-safe") {
                mstore(c, shl(96, owner))
                mstore(add(c, 20), shl(248, tokenId))
                mstore(add(c, 21), shl(128, amount))
            }
            s.cursor = c + WITHDRAWAL_ENTRY_BYTES;
        }
    }

    /// @dev `pendingBalances[owner][tokenId] += amount` (tokenId < 256, amount < 2^128).
    function _credit(address owner, uint256 tokenId, uint256 amount) private {
        // forge-lint: disable-next-line(unsafe-typecast)
        if (amount != 0) pendingBalances[owner][uint16(tokenId)] += amount;
    }

    /// @dev The change-key at calldata offset `base` (slot `slot`) must be authorised, with
    ///      its account, key hash, nonce, fee token and fee: by `witness`, an ECDSA signature of
    ///      `changeKeyDigest` as a personal message, or (`witness` empty) by a matching
    ///      `authorizeKey`, which this consumes.
    function _checkChangeKey(uint256 slot, uint256 base, bytes calldata witness) private {
        address owner = address(uint160(_load(base + 4) >> 96)); // bytes 4..23
        bytes32 digest;
        {
            // forge-lint: disable-next-line(unsafe-typecast)
            uint24 accountId = uint24(_load(base + 1) >> 232); // bytes 1..3
            bytes32 keyHash = bytes32(_load(base + 24)); // bytes 24..55
            uint256 tail = _load(base + 56); // nonce u32, fee token u8, fee u16: bytes 56..62
            // forge-lint: disable-next-line(unsafe-typecast)
            uint32 nonce = uint32(tail >> 224);
            // forge-lint: disable-next-line(unsafe-typecast)
            uint8 feeToken = uint8(tail >> 216);
            // forge-lint: disable-next-line(unsafe-typecast)
            uint16 fee = uint16(tail >> 200);
            digest = changeKeyDigest(accountId, keyHash, nonce, feeToken, fee);
            if (witness.length == 0) {
                if (!authorizedChanges[owner][digest]) revert KeyNotAuthorized(slot, owner, nonce);
                delete authorizedChanges[owner][digest];
                return;
            }
        }
        if (witness.length != 65) revert InvalidSignature(slot);
        bytes32 r;
        bytes32 sig;
        uint8 v;
        assembly {
            r := calldataload(witness.offset)
            sig := calldataload(add(witness.offset, 32))
            v := byte(0, calldataload(add(witness.offset, 64)))
        }
        if (uint256(sig) > SECP256K1_HALF_N || (v != 27 && v != 28)) revert InvalidSignature(slot);
        address signer = ecrecover(
            keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", digest)), v, r, sig
        );
        if (signer == address(0) || signer != owner) revert InvalidSignature(slot);
    }

    /// @dev The calldata word at `offset`.
    function _load(uint256 offset) private pure returns (uint256 word) {
        assembly {
            word := calldataload(offset)
        }
    }

    /// @dev Calls an ERC-20 `transfer`/`transferFrom`; accepts no return data (tokens that
    ///      return nothing; `addToken` checked the token has code) or a true word.
    function _callToken(address token, bytes memory data) private {
        bool ok;
        assembly ("memory-safe") {
            ok := call(gas(), token, 0, add(data, 32), mload(data), 0, 32)
            ok := and(
                ok,
                or(iszero(returndatasize()), and(gt(returndatasize(), 31), eq(mload(0), 1)))
            )
        }
        if (!ok) revert TokenTransferFailed(token);
    }
}
