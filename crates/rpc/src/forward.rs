//! Transactions sent on to another node ([`loft_node::TxRoute::Forward`]: a rollup replica
//! hands them to its sequencer, as op-geth does with `--rollup.sequencerhttp`), its answer
//! passed back unchanged.

use alloy_primitives::{B256, Bytes};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{Value, json};

/// The JSON-RPC "server error" code, as geth uses it for refused transactions.
const SERVER_ERROR: i32 = -32000;

/// Sends `raw` to `url` with `eth_sendRawTransaction` and returns that node's answer as it
/// gave it.
pub async fn forward_raw(client: &reqwest::Client, url: &str, raw: &Bytes) -> Result<B256, ErrorObjectOwned> {
    let unreachable = |e: &dyn std::fmt::Display| {
        ErrorObjectOwned::owned(
            SERVER_ERROR,
            format!("this node forwards transactions to its sequencer at {url}, which did not answer: {e}"),
            None::<()>,
        )
    };
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]});
    let response = client.post(url).json(&body).send().await.map_err(|e| unreachable(&e))?;
    let answer: Value = response.json().await.map_err(|e| unreachable(&e))?;
    if let Some(error) = answer.get("error") {
        let code = error.get("code").and_then(Value::as_i64).and_then(|c| i32::try_from(c).ok());
        let message = error.get("message").and_then(Value::as_str);
        let (Some(code), Some(message)) = (code, message) else {
            return Err(unreachable(&format!("an error that is not JSON-RPC: {error}")));
        };
        return Err(ErrorObjectOwned::owned(code, message.to_string(), error.get("data").cloned()));
    }
    answer
        .get("result")
        .cloned()
        .and_then(|r| serde_json::from_value::<B256>(r).ok())
        .ok_or_else(|| unreachable(&format!("an answer with no transaction hash: {answer}")))
}
