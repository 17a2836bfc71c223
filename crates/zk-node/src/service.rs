//! The operator's start-up, one path for `loft zk operator`, `loft devnet` and the tests: the
//! deployment resumed from its record or made now, the store bound to that deployment, the
//! API served and the operator's loop started.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Weak},
};

use loft_l1::{L1Client, L1Error};

use crate::{
    api::{ServerHandle, serve},
    contracts::{DeployError, Deployment, RollupConfig, deploy},
    keys::RollupKeys,
    operator::{Operator, OperatorConfig, OperatorError},
    store::{Store, StoreError},
};

/// Why the operator could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// L1 could not be read.
    #[error(transparent)]
    L1(#[from] L1Error),
    /// The rollup could not be deployed.
    #[error("deploying the ZK rollup: {0}")]
    Deploy(#[from] DeployError),
    /// The deployment record could not be written.
    #[error("writing the record {0}: {1}")]
    Record(String, std::io::Error),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The operator could not open.
    #[error(transparent)]
    Operator(#[from] OperatorError),
    /// The API could not listen.
    #[error("the operator's API on {0}: {1}")]
    Api(SocketAddr, std::io::Error),
}

/// What the ZK rollup's deployment record says about the L1 it is read against.
pub type Recorded = loft_l1::binding::Recorded<Deployment>;

/// Reads the deployment record at `path` against `l1`.
pub async fn recorded(l1: &L1Client, path: &Path) -> Result<Recorded, L1Error> {
    loft_l1::binding::recorded(l1, path).await
}

/// The recorded deployment when it is `l1`'s, else a new one of `config` with `keys`, whose
/// record replaces the old at `path` (written atomically, once the deployment is on L1).
/// `true` when it was deployed now.
pub async fn deploy_or_resume(
    l1: &L1Client,
    path: &Path,
    recorded: Recorded,
    config: &RollupConfig,
    keys: &RollupKeys,
) -> Result<(Deployment, bool), ServiceError> {
    loft_l1::binding::deploy_or_resume(
        path,
        recorded,
        async || Ok(deploy(l1, config, keys).await?),
        |e| ServiceError::Record(path.display().to_string(), e),
    )
    .await
}

/// The operator's store for `deployment` in `data_dir`, bound to it: a store made for another
/// deployment is set aside (its new path returned), never replayed.
pub fn open_store(
    data_dir: &Path,
    deployment: &Deployment,
) -> Result<(Store, PathBuf, Option<PathBuf>), ServiceError> {
    let path = data_dir.join(format!("operator-{}.redb", deployment.rollup));
    let (store, set_aside) = Store::open_for(&path, &deployment.binding_text())?;
    Ok((store, path, set_aside))
}

/// A running operator: its API and its loop.
pub struct RunningOperator {
    /// Where its API listens.
    pub api: SocketAddr,
    /// The deployment it serves.
    pub deployment: Deployment,
    /// The operator while it runs (gone once the loop and the API have let go of it).
    pub operator: Weak<Operator>,
    /// The operator's loop.
    pub task: tokio::task::JoinHandle<Result<(), OperatorError>>,
    /// The API server.
    pub server: ServerHandle,
}

impl RunningOperator {
    /// Stops the loop and the API, and waits until both have let go of the operator (and so
    /// of its store).
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.server.stop();
        self.server.stopped().await;
        let _ = self.task.await;
    }
}

/// Opens the operator over `store` (resuming what it holds), serves its API on `listen` and
/// starts its loop.
pub async fn run(
    config: OperatorConfig,
    l1: L1Client,
    keys: Arc<RollupKeys>,
    store: Store,
    listen: SocketAddr,
) -> Result<RunningOperator, ServiceError> {
    let deployment = config.deployment.clone();
    let operator = Operator::open(config, l1, keys, store).await?;
    let (api, server) = serve(operator.clone(), listen).await.map_err(|e| ServiceError::Api(listen, e))?;
    let weak = Arc::downgrade(&operator);
    let task = tokio::spawn(async move { operator.run().await });
    Ok(RunningOperator { api, deployment, operator: weak, task, server })
}
