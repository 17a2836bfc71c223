//! Contracts every loft EVM chain has from genesis, as OP Stack chains do: Multicall3 at its
//! canonical address, where viem, ethers and alloy look for it to batch reads into one call.

use alloy::providers::bindings::IMulticall3;
use alloy_primitives::{Address, address};
use loft_chain::GenesisAccount;

/// Multicall3's address on every chain that has it.
pub const MULTICALL3: Address = address!("0xcA11bde05977b3631167028862bE2a173976CA11");

/// Multicall3 with its canonical code: the creation code alloy ships (that of the canonical
/// deployment, solc 0.8.12), which genesis runs once for the runtime code.
pub fn multicall3() -> GenesisAccount {
    GenesisAccount::from_initcode(MULTICALL3, IMulticall3::BYTECODE.clone())
}

#[cfg(test)]
mod tests {
    use loft_chain::{Chain, ChainConfig, Store, state::StateReader};

    use super::*;

    #[test]
    fn multicall3_lands_with_the_canonical_runtime_code() {
        let chain = Chain::open(ChainConfig::dev(7, vec![multicall3()]), Store::in_memory().expect("store"))
            .expect("genesis");
        let code = chain.state().code_at(&MULTICALL3);
        // The canonical deployment's runtime code: 3,808 bytes, ending in its metadata (an
        // IPFS hash and solc 0.8.12).
        assert_eq!(code.len(), 3808);
        assert_eq!(
            alloy_primitives::hex::encode(&code[code.len() - 53..]),
            "a2646970667358221220bb2b5c71a328032f97c676ae39a1ec2148d3e5d6f73d95e9b17910152d61f16264736f6c634300080c0033"
        );
        assert_eq!(chain.state().nonce_of(&MULTICALL3), 1);
    }
}
