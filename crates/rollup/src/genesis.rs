//! The L2 genesis: the funded accounts plus the predeployed contracts at their fixed
//! addresses (runtime code from the committed artifacts, configuration in storage, since a
//! predeploy runs no constructor).

use alloy::sol_types::SolCall;
use alloy_primitives::{Address, Bytes, U256};
use loft_chain::{ChainConfig, Finality, GenesisAccount, l1_fee::L1Prices};

use crate::deposits::setL1BlockValuesCall;

use crate::config::{
    L1_BLOCK, L2_STANDARD_BRIDGE, L2_TO_L1_MESSAGE_PASSER, MINTABLE_ERC20_FACTORY, RollupConfig,
    SEQUENCER_FEE_VAULT,
};

/// Runtime code of a committed artifact (`contracts/artifacts/<name>.json`).
fn runtime_code(artifact: &str) -> Bytes {
    let json: serde_json::Value = serde_json::from_str(artifact).unwrap_or_default();
    let hex = json["deployedBytecode"].as_str().unwrap_or_default();
    alloy_primitives::hex::decode(hex).map(Bytes::from).unwrap_or_default()
}

/// The predeploys, `otherBridge` of the L2 bridge set to the L1 bridge.
pub fn predeploys(l1_standard_bridge: Address) -> Vec<GenesisAccount> {
    let code = |address, artifact: &str, storage: Vec<(U256, U256)>| GenesisAccount {
        address,
        code: runtime_code(artifact),
        storage,
        nonce: 1,
        ..Default::default()
    };
    vec![
        code(
            L2_TO_L1_MESSAGE_PASSER,
            include_str!("../../../contracts/artifacts/L2ToL1MessagePasser.json"),
            vec![],
        ),
        code(L1_BLOCK, include_str!("../../../contracts/artifacts/L1Block.json"), vec![]),
        code(
            L2_STANDARD_BRIDGE,
            include_str!("../../../contracts/artifacts/L2StandardBridge.json"),
            vec![(U256::ZERO, U256::from_be_slice(l1_standard_bridge.as_slice()))],
        ),
        code(
            MINTABLE_ERC20_FACTORY,
            include_str!("../../../contracts/artifacts/MintableERC20Factory.json"),
            vec![],
        ),
        loft_devnet::predeploys::multicall3(),
    ]
}

/// The L2 chain's engine configuration: `funded` accounts, the predeploys, the L1 data fee
/// rule, priority fees to the sequencer fee vault, blocks every `block_time` seconds from
/// `l2_genesis_time`.
pub fn l2_chain_config(
    rollup: &RollupConfig,
    funded: Vec<GenesisAccount>,
    l1_standard_bridge: Address,
) -> ChainConfig {
    let mut alloc = funded;
    alloc.extend(predeploys(l1_standard_bridge));
    let mut config = ChainConfig::dev(rollup.l2_chain_id, alloc);
    config.genesis_timestamp = rollup.l2_genesis_time;
    config.coinbase = SEQUENCER_FEE_VAULT;
    config.extra_data = Bytes::new();
    config.l1_fee = Some(rollup.l1_fee());
    config.blob_txs = false;
    // Safe and finalized come from derivation (the replica), not from depth.
    config.finality = Finality::External;
    config.l1_prices_reader = Some(l1_prices_of_info_deposit);
    config
}

/// The L1 prices recorded by an L1-info deposit's `setL1BlockValues` input.
fn l1_prices_of_info_deposit(input: &[u8]) -> Option<L1Prices> {
    let call = setL1BlockValuesCall::abi_decode(input).ok()?;
    Some(L1Prices {
        base_fee: u128::try_from(call.basefee_).ok()?,
        blob_base_fee: u128::try_from(call.blobBaseFee_).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;

    use super::*;
    use crate::config::L1Anchor;

    fn test_rollup() -> RollupConfig {
        let anchor = L1Anchor { number: 0, hash: B256::repeat_byte(1), timestamp: 1000 };
        RollupConfig {
            sequencing_window: 10,
            channel_timeout: 10,
            ..RollupConfig::devnet(anchor, Address::repeat_byte(0xba), Address::repeat_byte(0xaa))
        }
    }

    #[test]
    fn a_reopened_chain_charges_its_heads_l1_prices() {
        use loft_chain::{BlockSpec, Chain, Store};

        use crate::deposits::L1BlockInfo;
        let rollup = test_rollup();
        let info = L1BlockInfo {
            number: 0,
            timestamp: 1000,
            hash: B256::repeat_byte(1),
            base_fee: 7_000_000_000,
            blob_base_fee: 1,
            batcher_hash: B256::ZERO,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let tx = [0x5au8; 120];
        let fee = {
            let config = l2_chain_config(&rollup, vec![], Address::ZERO);
            let mut chain = Chain::open(config, Store::open(dir.path()).expect("store")).expect("open");
            assert!(chain.l1_fee_of(&tx).is_zero(), "no L1 prices before the first block");
            let spec = BlockSpec {
                timestamp: Some(1001),
                deposits: vec![info.deposit(0)],
                l1_prices: Some(info.prices()),
                ..Default::default()
            };
            chain.build_block_with(spec).expect("block");
            chain.l1_fee_of(&tx)
        };
        assert!(!fee.is_zero());
        let config = l2_chain_config(&rollup, vec![], Address::ZERO);
        let chain = Chain::open(config, Store::open(dir.path()).expect("store")).expect("reopen");
        assert_eq!(chain.l1_fee_of(&tx), fee, "quotes and admission after a restart use the head's prices");
    }

    #[test]
    fn predeploys_have_code() {
        use loft_chain::{Chain, Store, state::StateReader};
        let rollup = test_rollup();
        let chain = Chain::open(
            l2_chain_config(&rollup, vec![], Address::repeat_byte(1)),
            Store::in_memory().expect("s"),
        )
        .expect("genesis");
        for account in predeploys(Address::repeat_byte(1)) {
            assert!(chain.state().code_at(&account.address).len() > 100, "{} has no code", account.address);
        }
    }
}
