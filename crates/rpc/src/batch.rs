//! A middleware that runs the calls of one JSON-RPC batch concurrently.
//!
//! jsonrpsee answers a batch one call after the other, so a batch of 500
//! `eth_sendRawTransaction` calls pays 500 durable writes in a row. Run side by side (at most
//! [`BATCH_CONCURRENCY`] at once), their signature recovery uses every core and their writes
//! share the pool journal's group commit. Responses keep the order of the requests.

use std::future::Future;

use futures::{FutureExt, StreamExt, future::BoxFuture, stream};
use jsonrpsee::{
    MethodResponse,
    core::middleware::{Batch, BatchEntry, BatchEntryErr, RpcServiceT},
    server::BatchResponseBuilder,
};

/// Most calls of one batch in flight at once.
pub const BATCH_CONCURRENCY: usize = 256;

/// Wraps the RPC service so that batches run concurrently.
#[derive(Clone)]
pub struct ConcurrentBatch<S> {
    service: S,
    max_response_bytes: usize,
}

impl<S> ConcurrentBatch<S> {
    /// Wraps `service`; a batch's whole response is limited to `max_response_bytes`.
    pub fn new(service: S, max_response_bytes: usize) -> Self {
        Self { service, max_response_bytes }
    }
}

impl<S> RpcServiceT for ConcurrentBatch<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse, NotificationResponse = MethodResponse>
        + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(
        &self,
        request: jsonrpsee::types::Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        self.service.call(request)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        let service = self.service.clone();
        let limit = self.max_response_bytes;
        async move {
            let mut got_notification = false;
            let mut entries = Vec::with_capacity(batch.len());
            for entry in batch {
                match entry {
                    Ok(BatchEntry::Notification(n)) => {
                        got_notification = true;
                        service.notification(n).await;
                    }
                    other => entries.push(other),
                }
            }
            let calls: Vec<BoxFuture<'a, MethodResponse>> =
                entries.into_iter().map(|entry| answer(service.clone(), entry).boxed()).collect();
            let mut responses = stream::iter(calls).buffered(BATCH_CONCURRENCY);
            let mut builder = BatchResponseBuilder::new_with_limit(limit);
            while let Some(response) = responses.next().await {
                if let Err(too_big) = builder.append(response) {
                    return too_big;
                }
            }
            if builder.is_empty() && got_notification {
                MethodResponse::notification()
            } else {
                MethodResponse::from_batch(builder.finish())
            }
        }
    }

    fn notification<'a>(
        &self,
        n: jsonrpsee::core::middleware::Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.service.notification(n)
    }
}

/// The response to one entry of a batch.
async fn answer<'a, S>(service: S, entry: Result<BatchEntry<'a>, BatchEntryErr<'a>>) -> MethodResponse
where
    S: RpcServiceT<MethodResponse = MethodResponse>,
{
    match entry {
        Ok(BatchEntry::Call(req)) => service.call(req).await,
        Ok(BatchEntry::Notification(_)) => MethodResponse::notification(),
        Err(err) => {
            let (err, id) = err.into_parts();
            MethodResponse::error(id, err)
        }
    }
}
