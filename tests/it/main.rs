//! The integration tests, in one test binary (`cargo test --test it`): one build of the
//! shared harness in `support.rs`, one link, and one libtest run whose threads are kept
//! busy by every test at once. One module's tests: `cargo test --test it e2e::`.
//!
//! Most modules drive the `zonerw` binary against a real NSD primary and secondary on
//! loopback (see `support`); `cli`, `corpus` and `state_files` use a stub `nsd-control`;
//! `man` and `properties` need no processes at all.

#![allow(
    clippy::disallowed_methods,
    reason = "tests may read the clock and the environment; the ban protects the product code"
)]

mod support;

mod adopt;
mod check;
mod children;
mod cli;
mod corpus;
mod dnsdo;
mod dnssec;
mod e2e;
mod failsafe;
mod guard_verify;
mod hardening;
mod maintenance;
mod man;
mod nsd_zones;
mod primaries;
mod properties;
mod state_files;
