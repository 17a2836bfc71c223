// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title L2OutputOracle
/// @notice Holds the L2 output roots posted by the proposer, one every `submissionInterval` L2
///         blocks (docs/rollup.md, "Withdrawals"). `RollupPortal` proves withdrawals against
///         them; the challenger may delete outputs that are still inside the finalization
///         period (a fault proof).
/// @dev Modelled on OP Stack Bedrock's L2OutputOracle. An output root is
///      `keccak256(abi.encode(bytes32(0), stateRoot, messagePasserStorageRoot, blockHash))`.
///      Output `i` commits to L2 block `startingBlockNumber + (i + 1) * submissionInterval`
///      (while no output has been deleted out of order: deletion removes an output and every
///      later one, so the sequence stays dense).
contract L2OutputOracle {
    // ------------------------------------------------------------------ types

    /// @notice A posted output.
    /// @param outputRoot the L2 output root
    /// @param timestamp the L1 timestamp at which it was posted
    /// @param l2BlockNumber the L2 block it commits to
    struct Output {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2BlockNumber;
    }

    // ------------------------------------------------------------------ events

    /// @notice An output was posted.
    /// @param outputRoot the output root
    /// @param l2OutputIndex its index
    /// @param l2BlockNumber the L2 block it commits to
    /// @param l1Timestamp the L1 timestamp of the posting
    event OutputProposed(
        bytes32 indexed outputRoot,
        uint256 indexed l2OutputIndex,
        uint256 indexed l2BlockNumber,
        uint256 l1Timestamp
    );

    /// @notice Outputs `newNextOutputIndex .. prevNextOutputIndex - 1` were deleted.
    event OutputsDeleted(uint256 indexed prevNextOutputIndex, uint256 indexed newNextOutputIndex);

    // ------------------------------------------------------------------ errors

    /// @notice The caller is not the account allowed to do this.
    error Unauthorized(address caller);
    /// @notice A constructor argument is invalid (a zero address, interval or block time, a
    ///         starting timestamp in the future or a starting block above 2^64 - 1).
    error InvalidConfig();
    /// @notice The proposed L2 block is not `nextBlockNumber()`.
    error UnexpectedBlockNumber(uint256 expected, uint256 actual);
    /// @notice The proposed L2 block's timestamp is not in the past.
    error BlockInFuture(uint256 l2Timestamp, uint256 l1Timestamp);
    /// @notice The output root is zero.
    error EmptyOutputRoot();
    /// @notice `blockhash(l1BlockNumber)` is not the given L1 block hash (an L1 reorg, or a
    ///         block older than 256 blocks).
    error L1BlockHashMismatch(bytes32 expected, bytes32 actual);
    /// @notice No output has index `index`.
    error OutputNotFound(uint256 index);
    /// @notice No output commits to `l2BlockNumber` or a later block.
    error NoOutputAfter(uint256 l2BlockNumber);
    /// @notice The output at `index` is past its finalization period and can not be deleted.
    error OutputFinalized(uint256 index);
    /// @notice An L2 block before the starting block was given.
    error BlockBeforeStart(uint256 l2BlockNumber);

    // ------------------------------------------------------------------ configuration

    /// @notice The account allowed to post outputs.
    address public immutable proposer;
    /// @notice The account allowed to delete outputs that are not finalized yet.
    address public immutable challenger;
    /// @notice Number of L2 blocks between two outputs.
    uint256 public immutable submissionInterval;
    /// @notice Seconds between two L2 blocks.
    uint256 public immutable l2BlockTime;
    /// @notice L2 block number the first interval counts from (usually the L2 genesis).
    uint256 public immutable startingBlockNumber;
    /// @notice Timestamp of L2 block `startingBlockNumber`.
    uint256 public immutable startingTimestamp;
    /// @notice Seconds an output (and a withdrawal proven against it) waits before the portal
    ///         finalizes withdrawals against it; until then the challenger may delete it.
    uint256 public immutable finalizationPeriodSeconds;

    // ------------------------------------------------------------------ storage

    /// @dev The outputs, oldest first (slot 0).
    Output[] private _outputs;

    // ------------------------------------------------------------------ constructor

    /// @param proposer_ the account allowed to post outputs
    /// @param challenger_ the account allowed to delete unfinalized outputs
    /// @param submissionInterval_ L2 blocks between two outputs (> 0)
    /// @param l2BlockTime_ seconds between two L2 blocks (> 0)
    /// @param startingBlockNumber_ the L2 block intervals count from
    /// @param startingTimestamp_ its timestamp (not in the future)
    /// @param finalizationPeriodSeconds_ the challenge window
    constructor(
        address proposer_,
        address challenger_,
        uint256 submissionInterval_,
        uint256 l2BlockTime_,
        uint256 startingBlockNumber_,
        uint256 startingTimestamp_,
        uint256 finalizationPeriodSeconds_
    ) {
        if (proposer_ == address(0) || challenger_ == address(0)) revert InvalidConfig();
        if (submissionInterval_ == 0 || l2BlockTime_ == 0) revert InvalidConfig();
        if (startingBlockNumber_ > type(uint64).max) revert InvalidConfig();
        // forge-lint: disable-next-line(block-timestamp)
        if (startingTimestamp_ > block.timestamp) revert InvalidConfig();
        proposer = proposer_;
        challenger = challenger_;
        submissionInterval = submissionInterval_;
        l2BlockTime = l2BlockTime_;
        startingBlockNumber = startingBlockNumber_;
        startingTimestamp = startingTimestamp_;
        finalizationPeriodSeconds = finalizationPeriodSeconds_;
    }

    // ------------------------------------------------------------------ proposer

    /// @notice Posts the output root of L2 block `l2BlockNumber`.
    /// @dev Requirements: the caller is the proposer; `l2BlockNumber == nextBlockNumber()`;
    ///      the block's timestamp `computeL2Timestamp(l2BlockNumber)` is before this L1
    ///      block's; `outputRoot != 0`. When `l1BlockHash` is non-zero it must be
    ///      `blockhash(l1BlockNumber)`: the proposer commits to the L1 chain it derived from,
    ///      so the proposal fails if that chain was reorganised away.
    /// @param outputRoot the output root
    /// @param l2BlockNumber the L2 block it commits to
    /// @param l1BlockHash an L1 block hash to check, or zero to skip the check
    /// @param l1BlockNumber the number of that L1 block
    function proposeL2Output(
        bytes32 outputRoot,
        uint256 l2BlockNumber,
        bytes32 l1BlockHash,
        uint256 l1BlockNumber
    ) external {
        if (msg.sender != proposer) revert Unauthorized(msg.sender);
        uint256 expected = nextBlockNumber();
        if (l2BlockNumber != expected) revert UnexpectedBlockNumber(expected, l2BlockNumber);
        uint256 l2Timestamp = computeL2Timestamp(l2BlockNumber);
        // forge-lint: disable-next-line(block-timestamp)
        if (l2Timestamp >= block.timestamp) revert BlockInFuture(l2Timestamp, block.timestamp);
        if (outputRoot == bytes32(0)) revert EmptyOutputRoot();
        if (l1BlockHash != bytes32(0)) {
            bytes32 actual = blockhash(l1BlockNumber);
            if (actual != l1BlockHash) revert L1BlockHashMismatch(l1BlockHash, actual);
        }

        uint256 index = _outputs.length;
        _outputs.push(
            Output({
                outputRoot: outputRoot,
                timestamp: uint128(block.timestamp),
                // safe: l2BlockNumber < startingBlockNumber + block.timestamp < 2^128 (constructor bounds)
                // forge-lint: disable-next-line(unsafe-typecast)
                l2BlockNumber: uint128(l2BlockNumber)
            })
        );
        emit OutputProposed(outputRoot, index, l2BlockNumber, block.timestamp);
    }

    // ------------------------------------------------------------------ challenger

    /// @notice Deletes the output at `l2OutputIndex` and every later one.
    /// @dev Only the challenger, and only while the output at `l2OutputIndex` is inside its
    ///      finalization period (`block.timestamp < timestamp + finalizationPeriodSeconds`):
    ///      once the period is over the portal may have paid out withdrawals against it.
    ///      Withdrawals proven against a deleted output can not be finalized and may be proven
    ///      again against the replacement.
    function deleteL2Outputs(uint256 l2OutputIndex) external {
        if (msg.sender != challenger) revert Unauthorized(msg.sender);
        uint256 prevNext = _outputs.length;
        if (l2OutputIndex >= prevNext) revert OutputNotFound(l2OutputIndex);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp >= _outputs[l2OutputIndex].timestamp + finalizationPeriodSeconds) {
            revert OutputFinalized(l2OutputIndex);
        }
        // Shorten the array in one write (as OP does): the stale entries beyond the new length
        // are unreachable (every read checks the length) and `push` overwrites them.
        assembly ("memory-safe") {
            sstore(_outputs.slot, l2OutputIndex)
        }
        emit OutputsDeleted(prevNext, l2OutputIndex);
    }

    // ------------------------------------------------------------------ views

    /// @notice The output at `l2OutputIndex`; reverts with `OutputNotFound` if there is none.
    function getL2Output(uint256 l2OutputIndex) external view returns (Output memory) {
        if (l2OutputIndex >= _outputs.length) revert OutputNotFound(l2OutputIndex);
        return _outputs[l2OutputIndex];
    }

    /// @notice Index of the first output that commits to `l2BlockNumber` or a later block:
    ///         the output a withdrawal sent in block `l2BlockNumber` is proven against.
    /// @dev Binary search; reverts with `NoOutputAfter` when no output is that recent.
    function getL2OutputIndexAfter(uint256 l2BlockNumber) public view returns (uint256) {
        uint256 lo = 0;
        uint256 hi = _outputs.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (_outputs[mid].l2BlockNumber < l2BlockNumber) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (lo == _outputs.length) revert NoOutputAfter(l2BlockNumber);
        return lo;
    }

    /// @notice The first output that commits to `l2BlockNumber` or a later block.
    function getL2OutputAfter(uint256 l2BlockNumber) external view returns (Output memory) {
        return _outputs[getL2OutputIndexAfter(l2BlockNumber)];
    }

    /// @notice Index of the latest output; reverts with `OutputNotFound(0)` if there is none.
    function latestOutputIndex() external view returns (uint256) {
        uint256 n = _outputs.length;
        if (n == 0) revert OutputNotFound(0);
        return n - 1;
    }

    /// @notice Index the next output gets (= the number of outputs).
    function nextOutputIndex() external view returns (uint256) {
        return _outputs.length;
    }

    /// @notice The L2 block of the latest output (`startingBlockNumber` before the first).
    function latestBlockNumber() public view returns (uint256) {
        uint256 n = _outputs.length;
        return n == 0 ? startingBlockNumber : _outputs[n - 1].l2BlockNumber;
    }

    /// @notice The L2 block the next output must commit to.
    function nextBlockNumber() public view returns (uint256) {
        return latestBlockNumber() + submissionInterval;
    }

    /// @notice Timestamp of L2 block `l2BlockNumber`:
    ///         `startingTimestamp + (l2BlockNumber - startingBlockNumber) * l2BlockTime`.
    function computeL2Timestamp(uint256 l2BlockNumber) public view returns (uint256) {
        if (l2BlockNumber < startingBlockNumber) revert BlockBeforeStart(l2BlockNumber);
        return startingTimestamp + (l2BlockNumber - startingBlockNumber) * l2BlockTime;
    }
}
