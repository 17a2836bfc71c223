//! The node's side of its watchtower: a task that keeps the partner's newest proof of every
//! open channel and hands it to the watchtower with a fresh `UpdateAuthorization`
//! signature. Updates are coalesced (a burst of payments costs one request per channel), and
//! after a reconnect every channel's newest proof is sent again.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    sync::Arc,
    time::Duration,
};

use alloy_primitives::Address;
use loft_channels::{
    ChannelDomain, SignedBalanceProof, SigningKey,
    wire::{Message, MonitorRequest},
};
use tokio::{net::TcpStream, sync::mpsc};

use crate::transport::{self, Connection, NoiseIdentity};

/// What the core tells the watchtower client (a few per commit: not worth boxing).
#[allow(clippy::large_enum_variant)]
pub(super) enum TowerUpdate {
    /// The partner's newest proof of a channel.
    Proof { channel: u64, partner: Address, proof: SignedBalanceProof },
    /// The channel is settled: nothing more to watch.
    Forget(u64),
}

/// How long to wait before dialling the watchtower again.
const REDIAL: Duration = Duration::from_secs(1);

pub(super) async fn client(
    key: SigningKey,
    domain: ChannelDomain,
    identity: Arc<NoiseIdentity>,
    tower: Address,
    addr: SocketAddr,
    mut updates: mpsc::UnboundedReceiver<TowerUpdate>,
    core: mpsc::UnboundedSender<super::Event>,
) {
    let mut latest: BTreeMap<u64, (Address, SignedBalanceProof)> = BTreeMap::new();
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new();
    loop {
        let connected = match TcpStream::connect(addr).await {
            Ok(stream) => transport::connect(stream, &identity, Some(tower)).await,
            Err(e) => Err(e.into()),
        };
        let Connection { mut reader, mut writer, .. } = match connected {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(%tower, %addr, error = %e, "watchtower not reached");
                // Keep taking updates while it is away.
                let wait = tokio::time::sleep(REDIAL);
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        _ = &mut wait => break,
                        u = updates.recv() => match u {
                            Some(u) => apply(&mut latest, &mut BTreeSet::new(), u),
                            None => return,
                        },
                    }
                }
                continue;
            }
        };
        tracing::debug!(%tower, "watchtower connected");
        let (incoming_tx, mut incoming) = mpsc::unbounded_channel();
        // The reader runs on its own: a frame half read must never be dropped by a select.
        let reader_task = tokio::spawn(async move {
            while let Ok(m) = reader.recv().await {
                if incoming_tx.send(m).is_err() {
                    return;
                }
            }
        });
        let mut dirty: BTreeSet<u64> = latest.keys().copied().collect();
        'session: loop {
            for id in std::mem::take(&mut dirty) {
                let Some((closer, proof)) = latest.get(&id).copied() else { continue };
                if acked.get(&id).is_some_and(|n| *n >= proof.proof.nonce) {
                    continue;
                }
                let delegation = key.sign_digest(&proof.update_authorization_digest(&domain, key.address()));
                let request = MonitorRequest { channel_id: id, closer, proof, delegation };
                if writer.send(&Message::MonitorRequest(request)).await.is_err() {
                    break 'session;
                }
            }
            if writer.flush().await.is_err() {
                break;
            }
            tokio::select! {
                u = updates.recv() => {
                    let Some(u) = u else {
                        reader_task.abort();
                        return;
                    };
                    apply(&mut latest, &mut dirty, u);
                    while let Ok(u) = updates.try_recv() {
                        apply(&mut latest, &mut dirty, u);
                    }
                }
                m = incoming.recv() => match m {
                    Some(Message::MonitorAck { channel_id, nonce }) => {
                        tracing::trace!(channel = channel_id, nonce, "watchtower has it");
                        acked.insert(channel_id, nonce);
                        let _ = core.send(super::Event::TowerAcked { channel: channel_id, nonce });
                    }
                    Some(Message::Error { code, text }) => {
                        tracing::warn!(%tower, code, %text, "watchtower refused a request");
                        break;
                    }
                    Some(_) => {}
                    None => break,
                },
            }
        }
        reader_task.abort();
        acked.clear();
        tokio::time::sleep(REDIAL).await;
    }
}

fn apply(
    latest: &mut BTreeMap<u64, (Address, SignedBalanceProof)>,
    dirty: &mut BTreeSet<u64>,
    update: TowerUpdate,
) {
    match update {
        TowerUpdate::Proof { channel, partner, proof } => {
            if latest.get(&channel).is_none_or(|(_, p)| p.proof.nonce < proof.proof.nonce) {
                latest.insert(channel, (partner, proof));
                dirty.insert(channel);
            }
        }
        TowerUpdate::Forget(channel) => {
            latest.remove(&channel);
            dirty.remove(&channel);
        }
    }
}
