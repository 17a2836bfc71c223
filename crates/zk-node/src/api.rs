//! The operator's JSON-RPC API (HTTP, on loopback by default):
//!
//! | method | params | result |
//! | --- | --- | --- |
//! | `zk_submit` | `[op]` (a [`WireOp`]: transfer, withdraw, changeKey) | `{"seq": n}` once the operation is on disk, or an error saying why it is refused |
//! | `zk_account` | `[address]` | the account after every accepted operation, or null |
//! | `zk_status` | `[]` | blocks sealed and executed, roots, queued priority requests |
//! | `zk_deployment` | `[]` | the rollup's contracts and parameters |

use std::{net::SocketAddr, sync::Arc};

use alloy_primitives::Address;
use jsonrpsee::{RpcModule, server::Server, types::ErrorObjectOwned};
use serde::{Deserialize, Serialize};

use crate::{
    operator::{Operator, SubmitError},
    wire::WireOp,
};

pub use jsonrpsee::server::ServerHandle;

/// The error code of a refused operation.
pub const REFUSED: i32 = -32000;
/// The error code of an operator failure (nothing was accepted).
pub const FAILED: i32 = -32603;

/// What `zk_submit` answers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Accepted {
    /// The operation's sequence number.
    pub seq: u64,
}

fn refused(e: SubmitError) -> ErrorObjectOwned {
    let code = match e {
        SubmitError::Store(_) | SubmitError::L1(_) | SubmitError::Internal(_) => FAILED,
        _ => REFUSED,
    };
    ErrorObjectOwned::owned(code, e.to_string(), None::<()>)
}

fn module(op: Arc<Operator>) -> Result<RpcModule<Arc<Operator>>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(op);
    m.register_async_method("zk_submit", |p, op, _| async move {
        let (wire,): (WireOp,) = p.parse()?;
        op.submit(wire).await.map(|seq| Accepted { seq }).map_err(refused)
    })?;
    m.register_method("zk_account", |p, op, _| -> Result<_, ErrorObjectOwned> {
        let (address,): (Address,) = p.parse()?;
        Ok(op.account(address))
    })?;
    m.register_method("zk_status", |_, op, _| -> Result<_, ErrorObjectOwned> { Ok(op.status()) })?;
    m.register_method("zk_deployment", |_, op, _| -> Result<_, ErrorObjectOwned> {
        Ok(op.deployment().clone())
    })?;
    Ok(m)
}

/// Serves the API on `addr`; returns the address it listens on and the server's handle.
pub async fn serve(op: Arc<Operator>, addr: SocketAddr) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let server = Server::builder().build(addr).await?;
    let bound = server.local_addr()?;
    let module = module(op).map_err(std::io::Error::other)?;
    Ok((bound, server.start(module)))
}

/// A client of the API.
#[derive(Clone, Debug)]
pub struct OperatorClient {
    url: String,
    http: reqwest::Client,
}

/// A client failure, or the operator's refusal.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request did not get an answer.
    #[error("operator at {0}: {1}")]
    Http(String, String),
    /// The operator refused (its message).
    #[error("{message}")]
    Refused {
        /// The JSON-RPC error code.
        code: i64,
        /// Why.
        message: String,
    },
}

impl OperatorClient {
    /// A client of the operator at `url`.
    pub fn new(url: &str) -> Self {
        // no idle connections kept: an operator that stops is let go of at once
        let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap_or_default();
        Self { url: url.to_string(), http }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<T, ClientError> {
        let http = |e: &dyn std::fmt::Display| ClientError::Http(self.url.clone(), e.to_string());
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let reply: serde_json::Value = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| http(&e))?
            .json()
            .await
            .map_err(|e| http(&e))?;
        if let Some(e) = reply.get("error") {
            return Err(ClientError::Refused {
                code: e["code"].as_i64().unwrap_or_default(),
                message: e["message"].as_str().unwrap_or_default().to_string(),
            });
        }
        serde_json::from_value(reply["result"].clone()).map_err(|e| http(&e))
    }

    /// Submits an operation.
    pub async fn submit(&self, op: &WireOp) -> Result<Accepted, ClientError> {
        self.call("zk_submit", serde_json::json!([op])).await
    }

    /// An account.
    pub async fn account(
        &self,
        address: Address,
    ) -> Result<Option<crate::operator::AccountInfo>, ClientError> {
        self.call("zk_account", serde_json::json!([address])).await
    }

    /// The status.
    pub async fn status(&self) -> Result<crate::operator::Status, ClientError> {
        self.call("zk_status", serde_json::json!([])).await
    }

    /// The deployment.
    pub async fn deployment(&self) -> Result<crate::contracts::Deployment, ClientError> {
        self.call("zk_deployment", serde_json::json!([])).await
    }
}
