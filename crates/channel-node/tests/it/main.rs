//! loft-channel-node's integration tests, in one binary so that they build once and run in
//! parallel: `cargo test -p loft-channel-node --test it [NAME]`.

mod bad_input;
mod close;
mod common;
mod direct_payments;
mod l1_channels;
mod mediated;
mod onchain_claims;
mod reorg;
mod routing;
mod watchtower;
mod withheld_secret;
