//! The dev accounts: the well-known test mnemonic's keys, funded on every devnet (loft's
//! embedded one and anvil alike).

use alloy::signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};

use crate::client::L1Error;

/// The well-known test mnemonic (anvil's and hardhat's): its accounts are funded at genesis.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// The first `count` accounts of [`DEV_MNEMONIC`] (BIP-44 path m/44'/60'/0'/0/i).
pub fn dev_signers(count: u32) -> Result<Vec<PrivateKeySigner>, L1Error> {
    (0..count)
        .map(|i| {
            MnemonicBuilder::<English>::default()
                .phrase(DEV_MNEMONIC)
                .index(i)
                .and_then(|b| b.build())
                .map_err(|e| L1Error::Config(format!("dev account {i}: {e}")))
        })
        .collect()
}
