//! Ethereum JSON-RPC over loft's chain engine, on HTTP and WebSocket (one port), so that
//! unmodified clients (cast, ethers, viem, web3.py) work against any loft EVM chain.
//!
//! Errors follow geth: code -32000 with geth's messages for refused transactions, 3 with the
//! revert data for `execution reverted`, -32602 for bad parameters, -32700 for bodies that
//! are not JSON. Batches are limited to [`MAX_BATCH`] calls and bodies to
//! [`MAX_REQUEST_BYTES`]. `eth_getProof` returns loft's sparse-Merkle proofs (see
//! `docs/rpc.md`).

pub mod batch;
pub mod convert;
pub mod eth;
pub mod forward;

use std::{net::SocketAddr, sync::Arc};

use jsonrpsee::{
    core::middleware::RpcServiceBuilder,
    server::{BatchRequestConfig, Server, ServerConfig, ServerHandle},
};

// The node runtime this server serves, where the servers' users find it.
pub use loft_node::{MiningMode, Node, NodeEvent, TxRoute};

/// Largest request body accepted (a blob transaction with 9 blobs, hex-encoded, fits).
pub const MAX_REQUEST_BYTES: u32 = 8 * 1024 * 1024;
/// Largest response body.
pub const MAX_RESPONSE_BYTES: u32 = 64 * 1024 * 1024;
/// Most calls in one batch.
pub const MAX_BATCH: u32 = 1000;

/// A running server.
pub struct RpcServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Stops it when dropped or stopped.
    pub handle: ServerHandle,
}

/// Subscription ids as geth and anvil give them: `0x` and 32 hex digits, unpredictable (viem
/// registers a subscription only when its id is a string). Each id hashes a counter with a
/// per-server random SipHash key.
#[derive(Debug, Default)]
struct HexIdProvider {
    keys: std::collections::hash_map::RandomState,
    next: std::sync::atomic::AtomicU64,
}

impl jsonrpsee::core::traits::IdProvider for HexIdProvider {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        use std::hash::BuildHasher;
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (high, low) = (self.keys.hash_one((n, 0u8)), self.keys.hash_one((n, 1u8)));
        jsonrpsee::types::SubscriptionId::Str(format!("0x{high:016x}{low:016x}").into())
    }
}

/// Which methods a server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Methods {
    /// Ethereum's, and anvil's devnet controls (`evm_mine`, `evm_revert`, `anvil_setBalance`,
    /// ...): a development L1, as anvil serves it.
    WithDevControls,
    /// Ethereum's only, as geth serves them: a chain whose blocks its own rules make (a
    /// rollup's sequencer and replicas), which mining on demand, rewinding or setting balances
    /// would fork from what L1 says.
    Public,
}

/// Serves `node` on `addr` (HTTP and WebSocket on the same port).
pub async fn serve(node: Arc<Node>, addr: SocketAddr, methods: Methods) -> std::io::Result<RpcServer> {
    let config = ServerConfig::builder()
        .max_request_body_size(MAX_REQUEST_BYTES)
        .max_response_body_size(MAX_RESPONSE_BYTES)
        .max_connections(1000)
        .set_batch_request_config(BatchRequestConfig::Limit(MAX_BATCH))
        .set_id_provider(HexIdProvider::default())
        .build();
    let middleware = RpcServiceBuilder::new()
        .layer_fn(|service| batch::ConcurrentBatch::new(service, MAX_RESPONSE_BYTES as usize));
    let server = Server::builder().set_config(config).set_rpc_middleware(middleware).build(addr).await?;
    let addr = server.local_addr()?;
    let handle = server.start(eth::module(node, methods));
    Ok(RpcServer { addr, handle })
}
