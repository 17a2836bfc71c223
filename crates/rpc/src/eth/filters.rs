//! Logs and the polling filters (`eth_newFilter` and the like).

use super::*;

pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_method("eth_getLogs", |p, c, _| -> RpcResult<Value> {
        let filter: Filter = one(&p)?;
        c.node.with_chain(|ch| {
            let q = log_query(ch, &filter)?;
            let logs = ch.logs(&q).map_err(chain_err)?;
            to_json(logs.iter().map(convert::log).collect::<Vec<_>>())
        })
    })?;
    m.register_method("eth_newFilter", |p, c, _| -> RpcResult<U256> {
        let filter: Filter = one(&p)?;
        // As geth: without a fromBlock (or with "latest"), a filter reports the logs of the
        // blocks mined after it was installed, not those of the current head.
        let from_latest = match &filter.block_option {
            FilterBlockOption::Range { from_block, .. } => {
                matches!(from_block, None | Some(BlockNumberOrTag::Latest | BlockNumberOrTag::Pending))
            }
            FilterBlockOption::AtBlockHash(_) => false,
        };
        let mut filter = filter;
        let next_block = c.node.with_chain(|ch| -> RpcResult<u64> {
            let q = log_query(ch, &filter)?;
            let head = ch.head().header.number;
            Ok(if from_latest { head + 1 } else { q.from.min(head + 1) })
        })?;
        if from_latest {
            // Pin the start, so that later polls do not read "latest" as the head of that time.
            filter = filter.from_block(next_block);
        }
        Ok(c.add_filter(FilterState::Logs { filter: Box::new(filter), next_block }))
    })?;
    m.register_method("eth_newBlockFilter", |_, c, _| -> RpcResult<U256> {
        let next_block = c.node.with_chain(|ch| ch.head().header.number + 1);
        Ok(c.add_filter(FilterState::Blocks { next_block }))
    })?;
    m.register_method("eth_newPendingTransactionFilter", |_, c, _| -> RpcResult<U256> {
        let rx = c.node.subscribe();
        Ok(c.add_filter(FilterState::PendingTxs { rx }))
    })?;
    m.register_method("eth_uninstallFilter", |p, c, _| -> RpcResult<bool> {
        let id: U256 = one(&p)?;
        Ok(c.filters.lock().remove(&id).is_some())
    })?;
    m.register_method("eth_getFilterChanges", |p, c, _| -> RpcResult<Value> {
        let id: U256 = one(&p)?;
        let mut filters = c.filters.lock();
        let state = filters.get_mut(&id).ok_or_else(|| err(codes::SERVER, "filter not found"))?;
        c.node.with_chain(|ch| {
            let head = ch.head().header.number;
            match state {
                FilterState::Logs { filter, next_block } => {
                    // Only the blocks since the last poll: the range stays small however long
                    // the filter lives.
                    let mut since_last = (**filter).clone();
                    if let FilterBlockOption::Range {
                        from_block: Some(BlockNumberOrTag::Number(from)), ..
                    } = since_last.block_option
                    {
                        since_last = since_last.from_block(from.max(*next_block));
                    }
                    let mut q = log_query(ch, &since_last)?;
                    q.from = q.from.max(*next_block);
                    q.to = q.to.min(head);
                    let logs = if q.from <= q.to { ch.logs(&q).map_err(chain_err)? } else { vec![] };
                    *next_block = head + 1;
                    to_json(logs.iter().map(convert::log).collect::<Vec<_>>())
                }
                FilterState::Blocks { next_block } => {
                    let mut hashes = Vec::new();
                    for n in *next_block..=head {
                        if let Some(h) = ch.header_by_number(n).map_err(chain_err)? {
                            hashes.push(h.hash);
                        }
                    }
                    *next_block = head + 1;
                    to_json(hashes)
                }
                FilterState::PendingTxs { rx } => {
                    let mut hashes = Vec::new();
                    while let Ok(ev) = rx.try_recv() {
                        if let NodeEvent::PendingTx(h) = ev {
                            hashes.push(h);
                        }
                    }
                    to_json(hashes)
                }
            }
        })
    })?;
    m.register_method("eth_getFilterLogs", |p, c, _| -> RpcResult<Value> {
        let id: U256 = one(&p)?;
        let filters = c.filters.lock();
        let Some(FilterState::Logs { filter, .. }) = filters.get(&id) else {
            return Err(err(codes::SERVER, "filter not found"));
        };
        c.node.with_chain(|ch| {
            let q = log_query(ch, filter)?;
            to_json(ch.logs(&q).map_err(chain_err)?.iter().map(convert::log).collect::<Vec<_>>())
        })
    })?;
    Ok(())
}

/// A log filter converted to a query over known blocks.
fn log_query(chain: &Chain, filter: &Filter) -> RpcResult<LogQuery> {
    let (from, to) = match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let n = chain
                .header_by_hash(&hash)
                .map_err(chain_err)?
                .ok_or_else(|| err(codes::SERVER, "unknown block"))?
                .header
                .number;
            (n, n)
        }
        FilterBlockOption::Range { from_block, to_block } => {
            let head = chain.head().header.number;
            let from = from_block.map(|t| resolve_number(chain, t).unwrap_or(head + 1)).unwrap_or(head);
            let to = to_block.map(|t| resolve_number(chain, t).unwrap_or(head)).unwrap_or(head);
            (from, to)
        }
    };
    if to >= from && to - from > MAX_LOG_RANGE {
        return Err(err(codes::SERVER, format!("query exceeds max block range {MAX_LOG_RANGE}")));
    }
    Ok(LogQuery {
        from,
        to,
        addresses: filter.address.iter().copied().collect(),
        topics: filter.topics.iter().map(|t| t.iter().copied().collect()).collect(),
    })
}

/// State of one `eth_newFilter` / `eth_newBlockFilter` / `eth_newPendingTransactionFilter`.
pub(super) enum FilterState {
    Logs { filter: Box<Filter>, next_block: u64 },
    Blocks { next_block: u64 },
    PendingTxs { rx: tokio::sync::broadcast::Receiver<NodeEvent> },
}

impl Ctx {
    fn add_filter(&self, state: FilterState) -> U256 {
        let mut next = self.next_filter.lock();
        let id = *next;
        *next += U256::from(1);
        let mut filters = self.filters.lock();
        // Bound memory: forget the oldest filters past a generous limit.
        if filters.len() >= 10_000
            && let Some(oldest) = filters.keys().min().copied()
        {
            filters.remove(&oldest);
        }
        filters.insert(id, state);
        id
    }
}
