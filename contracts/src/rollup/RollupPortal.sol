// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {L2OutputOracle} from "./L2OutputOracle.sol";
import {ReentrancyGuard} from "./ReentrancyGuard.sol";
import {SparseMerkleProof} from "./SparseMerkleProof.sol";
import {applyL1ToL2Alias} from "./RollupConstants.sol";

/// @title RollupPortal
/// @notice The L1 entry and exit of loft's optimistic rollup (docs/rollup.md): deposits
///         (L1 → L2 transactions, with ETH) are events that L2 derivation turns into deposit
///         transactions; withdrawals (L2 → L1 messages sent through the L2ToL1MessagePasser)
///         are proven against an output of the L2OutputOracle, wait out the finalization
///         period, and are then executed here.
/// @dev Modelled on OP Stack Bedrock's OptimismPortal. The portal holds the ETH locked by
///      deposits and pays it out to withdrawals. Withdrawal storage proofs are loft sparse
///      Merkle tree proofs (SparseMerkleProof), not Merkle-Patricia proofs.
contract RollupPortal is ReentrancyGuard {
    // ------------------------------------------------------------------ types

    /// @notice A withdrawal as the L2ToL1MessagePasser records it.
    /// @param nonce the message passer's nonce for it
    /// @param sender the L2 account that sent it (`l2Sender()` during its execution)
    /// @param target the L1 account it calls
    /// @param value the wei it sends along
    /// @param gasLimit the gas its call gets
    /// @param data the calldata of the call
    struct WithdrawalTransaction {
        uint256 nonce;
        address sender;
        address target;
        uint256 value;
        uint256 gasLimit;
        bytes data;
    }

    /// @notice The preimage of an output root:
    ///         `outputRoot = keccak256(abi.encode(version, stateRoot, messagePasserStorageRoot,
    ///         latestBlockhash))` with `version == 0`.
    struct OutputRootProof {
        bytes32 version;
        bytes32 stateRoot;
        bytes32 messagePasserStorageRoot;
        bytes32 latestBlockhash;
    }

    /// @notice A proven withdrawal: the output it was proven against and when.
    struct ProvenWithdrawal {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2OutputIndex;
    }

    // ------------------------------------------------------------------ events

    /// @notice A deposit: L2 derivation turns it into a deposit transaction (type 0x7E).
    /// @param from the L2 sender: the L1 caller, aliased if it is a contract
    /// @param to the L2 recipient (zero for a contract creation)
    /// @param depositNonce counts deposits from 0
    /// @param opaqueData `abi.encodePacked(uint256 mint, uint256 value, uint64 gasLimit,
    ///        bool isCreation, bytes data)`
    event TransactionDeposited(
        address indexed from, address indexed to, uint256 indexed depositNonce, bytes opaqueData
    );

    /// @notice A withdrawal was proven against an output.
    event WithdrawalProven(
        bytes32 indexed withdrawalHash, address indexed from, address indexed to
    );

    /// @notice A withdrawal's call was made; `success` is its outcome. A successful call makes
    ///         the withdrawal final; after a failed one the withdrawal stays open and anyone may
    ///         try it again with `finalizeWithdrawalTransaction` until its call succeeds.
    event WithdrawalFinalized(bytes32 indexed withdrawalHash, bool success);

    // ------------------------------------------------------------------ errors

    /// @notice A contract creation must have `to == address(0)`.
    error CreationWithTarget(address to);
    /// @notice The deposit gas limit is below `21000 + 16 * data.length`.
    error GasLimitTooLow(uint64 gasLimit, uint256 minimum);
    /// @notice The deposit gas limit is above `MAX_DEPOSIT_GAS_LIMIT`.
    error GasLimitTooHigh(uint64 gasLimit, uint256 maximum);
    /// @notice A withdrawal may not target the portal itself.
    error BadTarget();
    /// @notice The output root version is not 0.
    error UnsupportedOutputVersion(bytes32 version);
    /// @notice `keccak256(abi.encode(outputRootProof))` is not the output root at the index.
    error InvalidOutputRootProof(bytes32 outputRoot, bytes32 computed);
    /// @notice The storage proof does not show the withdrawal in the message passer.
    error InvalidWithdrawalProof(bytes32 withdrawalHash);
    /// @notice The withdrawal is already proven against an output that still stands.
    error AlreadyProven(bytes32 withdrawalHash);
    /// @notice The withdrawal was never proven.
    error NotProven(bytes32 withdrawalHash);
    /// @notice The withdrawal was already finalized.
    error AlreadyFinalized(bytes32 withdrawalHash);
    /// @notice The finalization period since proving has not passed; wait until `readyAt`.
    error ProofNotMatured(uint256 readyAt);
    /// @notice The finalization period since the output was posted has not passed.
    error OutputNotMatured(uint256 readyAt);
    /// @notice The output the withdrawal was proven against was deleted or replaced; prove
    ///         the withdrawal again.
    error OutputChanged(uint256 l2OutputIndex);
    /// @notice Not enough gas left to give the withdrawal's call its full `gasLimit`.
    error InsufficientGas();

    // ------------------------------------------------------------------ constants

    /// @notice `l2Sender()` outside a withdrawal's execution.
    address public constant DEFAULT_L2_SENDER = 0x000000000000000000000000000000000000dEaD;
    /// @notice L2 gas limit of the deposit made by `receive()`.
    uint64 public constant RECEIVE_DEFAULT_GAS_LIMIT = 100_000;
    /// @notice Largest deposit gas limit.
    uint64 public constant MAX_DEPOSIT_GAS_LIMIT = 20_000_000;
    /// @notice Gas kept aside for the withdrawal call's own cost (cold account access, value
    ///         transfer, account creation), as OP's `SafeCall.hasMinGas`.
    uint256 public constant WITHDRAWAL_CALL_OVERHEAD = 40_000;

    // ------------------------------------------------------------------ configuration

    /// @notice The output oracle withdrawals are proven against.
    L2OutputOracle public immutable oracle;
    /// @notice `oracle.finalizationPeriodSeconds()`, read once at deployment.
    uint256 public immutable finalizationPeriodSeconds;

    // ------------------------------------------------------------------ storage

    /// @notice The L2 sender of the withdrawal being executed; `DEFAULT_L2_SENDER` otherwise.
    ///         L1 contracts called by a withdrawal read it to authenticate the L2 caller.
    address public l2Sender;
    /// @notice The nonce the next deposit gets (= number of deposits so far).
    uint256 public nextDepositNonce;
    /// @notice Withdrawals whose call succeeded: each is paid exactly once.
    mapping(bytes32 withdrawalHash => bool) public finalizedWithdrawals;
    /// @notice Withdrawals whose call failed at least once (and may be tried again until it
    ///         succeeds), as OP's L1CrossDomainMessenger keeps `failedMessages`.
    mapping(bytes32 withdrawalHash => bool) public failedWithdrawals;
    /// @notice Proven withdrawals.
    mapping(bytes32 withdrawalHash => ProvenWithdrawal) public provenWithdrawals;

    // ------------------------------------------------------------------ constructor

    /// @param oracle_ the L2OutputOracle of this rollup
    constructor(L2OutputOracle oracle_) {
        oracle = oracle_;
        finalizationPeriodSeconds = oracle_.finalizationPeriodSeconds();
        l2Sender = DEFAULT_L2_SENDER;
    }

    // ------------------------------------------------------------------ deposits

    /// @notice Plain ETH sent here is deposited to the sender's address on L2
    ///         (`depositTransaction(msg.sender, msg.value, 100_000, false, "")`).
    receive() external payable {
        depositTransaction(msg.sender, msg.value, RECEIVE_DEFAULT_GAS_LIMIT, false, bytes(""));
    }

    /// @notice Sends a transaction to L2. `msg.value` is minted to the L2 sender before the
    ///         transaction runs (and stays minted if it reverts).
    /// @dev The L2 sender is `msg.sender` when it is the transaction's origin (an EOA) and
    ///      `msg.sender + 0x1111000000000000000000000000000000001111` otherwise (a contract,
    ///      including one running its constructor), so an L1 contract can not act as the same
    ///      address on L2.
    /// @param to the L2 recipient; must be zero when `isCreation`
    /// @param value the wei sent to `to` on L2 (out of the sender's L2 balance)
    /// @param gasLimit L2 gas, in [21000 + 16 * data.length, 20_000_000]
    /// @param isCreation whether the transaction creates a contract with `data` as init code
    /// @param data the calldata or init code
    function depositTransaction(
        address to,
        uint256 value,
        uint64 gasLimit,
        bool isCreation,
        bytes memory data
    ) public payable {
        if (isCreation && to != address(0)) revert CreationWithTarget(to);
        uint256 minimum = minimumGasLimit(data.length);
        if (gasLimit < minimum) revert GasLimitTooLow(gasLimit, minimum);
        if (gasLimit > MAX_DEPOSIT_GAS_LIMIT) {
            revert GasLimitTooHigh(gasLimit, MAX_DEPOSIT_GAS_LIMIT);
        }

        // Only the transaction's origin is an EOA for sure (a contract in its constructor has
        // no code yet), so every other caller is aliased.
        address from = msg.sender;
        if (msg.sender != tx.origin) from = applyL1ToL2Alias(msg.sender);

        uint256 nonce = nextDepositNonce;
        nextDepositNonce = nonce + 1;
        emit TransactionDeposited(
            from, to, nonce, abi.encodePacked(msg.value, value, gasLimit, isCreation, data)
        );
    }

    /// @notice The smallest deposit gas limit for `dataLength` bytes of data:
    ///         `21000 + 16 * dataLength`.
    function minimumGasLimit(uint256 dataLength) public pure returns (uint256) {
        return 21_000 + 16 * dataLength;
    }

    // ------------------------------------------------------------------ withdrawals

    /// @notice Proves that `withdrawal` was sent on L2, against output `l2OutputIndex`. It may
    ///         be finalized `finalizationPeriodSeconds` later.
    /// @dev Checks `keccak256(abi.encode(outputRootProof))` against the output root, then that
    ///      the message passer's storage tree holds `bytes32(uint256(1))` at key
    ///      `withdrawalStorageKey(hash)`. A withdrawal proven before can only be proven again
    ///      once the output it used has been deleted or replaced, so proving again never
    ///      resets the timer.
    /// @param withdrawal the withdrawal's fields
    /// @param l2OutputIndex the index of an output posted after the withdrawal was sent
    /// @param outputRootProof the preimage of that output root
    /// @param withdrawalProof compact SMT inclusion proof (`SmtProof::encode`) of the
    ///        withdrawal's storage key in `outputRootProof.messagePasserStorageRoot`
    function proveWithdrawalTransaction(
        WithdrawalTransaction calldata withdrawal,
        uint256 l2OutputIndex,
        OutputRootProof calldata outputRootProof,
        bytes calldata withdrawalProof
    ) external {
        // A withdrawal calling the portal could re-enter it as the portal itself.
        if (withdrawal.target == address(this)) revert BadTarget();
        if (outputRootProof.version != bytes32(0)) {
            revert UnsupportedOutputVersion(outputRootProof.version);
        }
        bytes32 outputRoot = oracle.getL2Output(l2OutputIndex).outputRoot;
        bytes32 computed = keccak256(abi.encode(outputRootProof));
        if (computed != outputRoot) revert InvalidOutputRootProof(outputRoot, computed);

        bytes32 withdrawalHash = hashWithdrawal(withdrawal);
        if (finalizedWithdrawals[withdrawalHash]) revert AlreadyFinalized(withdrawalHash);
        ProvenWithdrawal memory previous = provenWithdrawals[withdrawalHash];
        if (previous.timestamp != 0 && _outputStands(previous)) {
            revert AlreadyProven(withdrawalHash);
        }
        bool included = SparseMerkleProof.verifyInclusion(
            outputRootProof.messagePasserStorageRoot,
            withdrawalStorageKey(withdrawalHash),
            bytes32(uint256(1)),
            withdrawalProof
        );
        if (!included) revert InvalidWithdrawalProof(withdrawalHash);

        provenWithdrawals[withdrawalHash] = ProvenWithdrawal({
            outputRoot: outputRoot,
            timestamp: uint128(block.timestamp),
            // safe: l2OutputIndex < oracle.nextOutputIndex() (getL2Output succeeded)
            // forge-lint: disable-next-line(unsafe-typecast)
            l2OutputIndex: uint128(l2OutputIndex)
        });
        emit WithdrawalProven(withdrawalHash, withdrawal.sender, withdrawal.target);
    }

    /// @notice Executes a proven withdrawal: calls `target` with `value` and `data`, giving it
    ///         `gasLimit` gas, with `l2Sender()` set to `sender`.
    /// @dev Requires `finalizationPeriodSeconds` to have passed since the proof and since the
    ///      output was posted (`block.timestamp >= t + finalizationPeriodSeconds`), the output
    ///      to still be the one proven against, and the withdrawal not to be finalized yet. The
    ///      withdrawal is marked finalized before the call and unmarked if the call fails, so
    ///      a call that fails for a while (a paused token, a recipient that can not receive
    ///      yet) burns nothing: the withdrawal stays proven and anyone may try it again, and it
    ///      is paid at most once. Reverts with `InsufficientGas` rather than give the call less
    ///      than `gasLimit`, so nobody can make a withdrawal fail by finalizing it with too
    ///      little gas. Anyone may finalize. The value comes out of the ETH deposits locked
    ///      here.
    function finalizeWithdrawalTransaction(WithdrawalTransaction calldata withdrawal)
        external
        nonReentrant
    {
        bytes32 withdrawalHash = hashWithdrawal(withdrawal);
        if (finalizedWithdrawals[withdrawalHash]) revert AlreadyFinalized(withdrawalHash);
        ProvenWithdrawal memory proven = provenWithdrawals[withdrawalHash];
        if (proven.timestamp == 0) revert NotProven(withdrawalHash);
        uint256 readyAt = proven.timestamp + finalizationPeriodSeconds;
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < readyAt) revert ProofNotMatured(readyAt);

        L2OutputOracle.Output memory output = _outputAt(proven.l2OutputIndex);
        if (output.outputRoot != proven.outputRoot) revert OutputChanged(proven.l2OutputIndex);
        readyAt = output.timestamp + finalizationPeriodSeconds;
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < readyAt) revert OutputNotMatured(readyAt);

        // Effects before the interaction.
        finalizedWithdrawals[withdrawalHash] = true;
        l2Sender = withdrawal.sender;
        bool success = _callWithMinGas(
            withdrawal.target, withdrawal.gasLimit, withdrawal.value, withdrawal.data
        );
        l2Sender = DEFAULT_L2_SENDER;
        if (!success) {
            // Open again for a later try; the call's value never left the portal.
            finalizedWithdrawals[withdrawalHash] = false;
            failedWithdrawals[withdrawalHash] = true;
        }
        emit WithdrawalFinalized(withdrawalHash, success);
    }

    /// @notice `keccak256(abi.encode(nonce, sender, target, value, gasLimit, data))`.
    function hashWithdrawal(WithdrawalTransaction calldata withdrawal)
        public
        pure
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                withdrawal.nonce,
                withdrawal.sender,
                withdrawal.target,
                withdrawal.value,
                withdrawal.gasLimit,
                withdrawal.data
            )
        );
    }

    /// @notice Key of `sentMessages[withdrawalHash]` in the message passer's storage tree:
    ///         `keccak256(slot)` with `slot = keccak256(abi.encode(withdrawalHash, uint256(0)))`
    ///         (the mapping is at slot 0).
    function withdrawalStorageKey(bytes32 withdrawalHash) public pure returns (bytes32) {
        return keccak256(abi.encode(keccak256(abi.encode(withdrawalHash, uint256(0)))));
    }

    // ------------------------------------------------------------------ internals

    /// @dev The output at `index`, or a zero output if it was deleted.
    function _outputAt(uint256 index) private view returns (L2OutputOracle.Output memory output) {
        if (index < oracle.nextOutputIndex()) output = oracle.getL2Output(index);
    }

    /// @dev Whether the output `proven` was proven against is still in place.
    function _outputStands(ProvenWithdrawal memory proven) private view returns (bool) {
        return _outputAt(proven.l2OutputIndex).outputRoot == proven.outputRoot;
    }

    /// @dev Calls `target` with exactly `gasLimit` gas, reverting when less than that would be
    ///      forwarded (EIP-150 keeps 1/64 back): requires
    ///      `gasleft() * 63 >= gasLimit * 64 + WITHDRAWAL_CALL_OVERHEAD * 63`. Return data is
    ///      not copied.
    function _callWithMinGas(address target, uint256 gasLimit, uint256 value, bytes memory data)
        private
        returns (bool success)
    {
        if (gasleft() * 63 < gasLimit * 64 + WITHDRAWAL_CALL_OVERHEAD * 63) {
            revert InsufficientGas();
        }
        assembly ("memory-safe") {
            success := call(gasLimit, target, value, add(data, 0x20), mload(data), 0, 0)
        }
    }
}
