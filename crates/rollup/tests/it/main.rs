//! loft-rollup's integration tests, in one binary so that they build once and run in
//! parallel: `cargo test -p loft-rollup --test it [NAME]`.

mod backing;
mod batch_compression;
mod batcher;
mod bridge_e2e;
mod common;
mod derive;
mod l1_e2e;
mod l2_errors;
mod pipeline;
