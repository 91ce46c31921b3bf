//! The `zonerw` binary: read argv and the clock once, hand them to the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place that reads the clock"
    )]
    let now = jiff::Timestamp::now();
    zonerw::main(std::env::args_os(), now)
}
