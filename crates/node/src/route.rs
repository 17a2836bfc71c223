//! Where transactions sent to a node go: into its own pool, on to another node (a rollup
//! replica hands them to its sequencer, as op-geth does with `--rollup.sequencerhttp`), or
//! nowhere, with a clear refusal. A replica must never accept a transaction it will not
//! include: the user would wait for it forever.

/// What a node does with `eth_sendRawTransaction` (and the transactions `eth_sendTransaction`
/// signs).
#[derive(Clone, Debug, Default)]
pub enum TxRoute {
    /// Into this node's own pool (the L1 devnet, a rollup sequencer).
    #[default]
    Local,
    /// Sent on to the node at this JSON-RPC URL; its answer (the hash, or its error with code,
    /// message and data unchanged) is the answer.
    Forward(String),
    /// Refused with this message (a replica that knows no sequencer).
    Refuse(String),
}
