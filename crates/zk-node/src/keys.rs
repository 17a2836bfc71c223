//! The circuits' proving keys. For a devnet they come from a deterministic setup (anyone who
//! knows the seed can forge proofs: never on a real network), cached on disk because the
//! setup of a depth-24 block circuit takes a while. For a real network, load the proving keys
//! an MPC ceremony produced, in arkworks' uncompressed canonical encoding
//! (`loft_zk::groth16::Keys::load`).

use std::path::{Path, PathBuf};

use loft_zk::{
    circuit::BlockCircuit,
    exit::ExitCircuit,
    groth16::{self, KeyFileError, Keys},
};

use crate::contracts::RollupConfig;

/// The seeds of the devnet setup.
const BLOCK_SEED: [u8; 32] = *b"loft-zk devnet block circuit 001";
const EXIT_SEED: [u8; 32] = *b"loft-zk devnet exit circuit 0001";

/// The block circuit's and the exit circuit's keys.
pub struct RollupKeys {
    /// The block circuit's.
    pub block: Keys,
    /// The exit circuit's.
    pub exit: Keys,
}

/// Why keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// A key file.
    #[error(transparent)]
    File(#[from] KeyFileError),
    /// The setup failed.
    #[error("setup: {0}")]
    Setup(String),
    /// The directory.
    #[error("{0}: {1}")]
    Dir(String, std::io::Error),
}

fn file_name(config: &RollupConfig, circuit: &str) -> String {
    format!(
        "{circuit}-v{}-d{}-b{}-w{}-t{}-f{}.pk",
        loft_zk::CIRCUIT_VERSION,
        config.account_depth,
        config.balance_depth,
        config.wide_slots,
        config.transfer_slots,
        config.fee_account
    )
}

/// Where the devnet keys of `config` are cached under `dir`.
pub fn cache_paths(dir: &Path, config: &RollupConfig) -> (PathBuf, PathBuf) {
    (dir.join(file_name(config, "block")), dir.join(file_name(config, "exit")))
}

fn setup<E: std::fmt::Display>(e: E) -> KeysError {
    KeysError::Setup(e.to_string())
}

impl RollupKeys {
    /// The devnet keys of `config`: read from `dir` when cached, else set up (deterministic,
    /// so every machine gets the same keys) and written there.
    pub fn devnet(dir: &Path, config: &RollupConfig) -> Result<Self, KeysError> {
        std::fs::create_dir_all(dir).map_err(|e| KeysError::Dir(dir.display().to_string(), e))?;
        let (block_path, _) = cache_paths(dir, config);
        let block = if block_path.exists() {
            Keys::load_own(&block_path)?
        } else {
            let blank =
                BlockCircuit::blank(config.params(), config.shape(), config.fee_account).map_err(setup)?;
            let keys = groth16::deterministic_setup(blank, BLOCK_SEED).map_err(setup)?;
            keys.save(&block_path)?;
            keys
        };
        let exit = Self::devnet_exit(dir, config)?;
        Ok(Self { block, exit })
    }

    /// The exit circuit's devnet keys alone (what a user needs in exodus mode), cached in
    /// `dir` like [`RollupKeys::devnet`]'s.
    pub fn devnet_exit(dir: &Path, config: &RollupConfig) -> Result<Keys, KeysError> {
        std::fs::create_dir_all(dir).map_err(|e| KeysError::Dir(dir.display().to_string(), e))?;
        let (_, exit_path) = cache_paths(dir, config);
        if exit_path.exists() {
            return Ok(Keys::load_own(&exit_path)?);
        }
        let blank = ExitCircuit::blank(config.params()).map_err(setup)?;
        let keys = groth16::deterministic_setup(blank, EXIT_SEED).map_err(setup)?;
        keys.save(&exit_path)?;
        Ok(keys)
    }

    /// Keys from files (an MPC ceremony's output).
    pub fn from_files(block: &Path, exit: &Path) -> Result<Self, KeysError> {
        Ok(Self { block: Keys::load(block)?, exit: Keys::load(exit)? })
    }
}
