//! loft-cli's integration tests, in one binary so that they build once and run in
//! parallel: `cargo test -p loft-cli --test it [NAME]`.

mod channels_cli;
mod clients;
mod common;
mod crash;
mod devnet_restart;
mod l1_e2e;
mod readme_help;
mod rollup_cli;
mod rollup_crash;
mod zk_cli;
