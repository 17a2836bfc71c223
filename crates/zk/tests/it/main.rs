//! loft-zk's integration tests, in one binary so that they build once and run in
//! parallel: `cargo test -p loft-zk --test it [NAME]`.

mod block_circuit;
mod exit_circuit;
mod malicious_operator;
mod rules_agree;
