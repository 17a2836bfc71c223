//! WebSocket subscriptions: `newHeads`, `logs`, `newPendingTransactions`.

use super::*;

pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |p, pending, c, _| async move {
            subscribe(p, pending, c).await;
            Ok(())
        },
    )?;
    Ok(())
}

async fn subscribe(p: Params<'static>, pending: PendingSubscriptionSink, c: Arc<Ctx>) {
    let mut seq = p.sequence();
    let kind: String = match seq.next() {
        Ok(k) => k,
        Err(e) => {
            pending.reject(invalid(e.message())).await;
            return;
        }
    };
    let filter: Option<Filter> = match seq.optional_next() {
        Ok(f) => f,
        Err(e) => {
            pending.reject(invalid(e.message())).await;
            return;
        }
    };
    if !matches!(kind.as_str(), "newHeads" | "logs" | "newPendingTransactions") {
        pending.reject(invalid(format!("unsupported subscription {kind}"))).await;
        return;
    }
    let mut rx = c.node.subscribe();
    let Ok(sink) = pending.accept().await else {
        return;
    };
    loop {
        tokio::select! {
            _ = sink.closed() => return,
            ev = rx.recv() => {
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                };
                let messages: Vec<Value> = match (&ev, kind.as_str()) {
                    (NodeEvent::Block(h), "newHeads") => vec![serde_json::to_value(convert::header(h, 0)).unwrap_or_default()],
                    (NodeEvent::Block(h), "logs") => {
                        let f = filter.clone().unwrap_or_default();
                        c.node.with_chain(|ch| {
                            let mut out = Vec::new();
                            let q = LogQuery {
                                from: h.header.number,
                                to: h.header.number,
                                addresses: f.address.iter().copied().collect(),
                                topics: f.topics.iter().map(|t| t.iter().copied().collect()).collect(),
                            };
                            let _ = ch.block_logs(h, &q, &mut out);
                            out.iter().map(|l| serde_json::to_value(convert::log(l)).unwrap_or_default()).collect()
                        })
                    }
                    (NodeEvent::PendingTx(hash), "newPendingTransactions") => vec![json!(hash)],
                    _ => vec![],
                };
                for msg in messages {
                    let Ok(raw) = serde_json::value::to_raw_value(&msg) else { continue };
                    let msg = SubscriptionMessage::from(raw);
                    if sink.send(msg).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
