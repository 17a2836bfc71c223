//! loft-zk-node's integration tests, in one binary so that they build once and run in
//! parallel: `cargo test -p loft-zk-node --test it [NAME]`.

mod operator_e2e;
mod priority_flood;
mod rules_on_l1;
mod verifier_evm;
