//! zonerw: DNS failover for NSD.
//!
//! One run (the cron job) is a straight pipeline:
//! lock → load config and state → probe every server ([`probe`]) → decide per pool
//! ([`decide`]) → plan each zone ([`plan`]) → render, sign a zone with keys ([`dnssec`]),
//! `nsd-checkzone`, install atomically ([`fsio`]) → `nsd-control reload` ([`nsd`]) → save
//! state ([`state`]). [`run`] reads
//! exactly like that. The core modules (config parsing, [`serial`], [`template`],
//! [`decide`], [`plan`], [`state`], [`zonefile`]) do no I/O and never read the clock: `now`
//! is read once in `main` and passed down.

pub mod adopt;
pub mod check;
pub mod cli;
pub mod command;
pub mod config;
pub mod decide;
pub mod dns;
pub mod dnssec;
pub mod duration;
pub mod error;
pub mod fsio;
pub mod guard;
pub mod lock;
pub mod maintenance;
pub mod metrics;
pub mod nsd;
pub mod outcome;
pub mod output;
pub mod parallel;
pub mod plan;
pub mod primary;
pub mod probe;
pub mod report;
pub mod run;
pub mod serial;
pub mod sigcheck;
pub mod signals;
pub mod state;
pub mod status;
pub mod store;
pub mod table;
pub mod template;
pub mod templates;
#[cfg(test)]
mod testing;
pub mod verify;
pub mod zone;
pub mod zonefile;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, ProbeArgs};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::run::{RunOptions, Verbosity};

/// Parse `args`, run the command, print any error and return the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>, now: jiff::Timestamp) -> ExitCode {
    // A closed or full stdout must never stop a failover: see `output`.
    output::prepare();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            if e.use_stderr() {
                // A usage error reads like every other error: `zonerw: error: ...`.
                let text = e.render().to_string();
                crate::output::stderr(format_args!("zonerw: {}", text.trim_start()));
            } else {
                // --help and --version go to stdout as clap formats them.
                let _ = e.print();
            }
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match dispatch(cli, now) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            for (i, line) in e.to_string().lines().enumerate() {
                let label = if i == 0 { "error: " } else { "" };
                crate::errln!("zonerw: {label}{line}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

fn dispatch(cli: Cli, now: jiff::Timestamp) -> Result<u8> {
    // Checked here, not with clap's `args_conflicts_with_subcommands`: that one counts every
    // argument before the subcommand, the global `-c FILE` too (`zonerw -c FILE status`).
    let run_flags = cli.run.force || cli.run.dry_run || cli.run.verbose || cli.run.quiet;
    if cli.command.is_some() && run_flags {
        return Err(Error::Usage(
            "--force, --dry-run, --verbose and --quiet apply to a run, not to a subcommand".into(),
        ));
    }
    match cli.command {
        None => {
            // Before any thread starts: SIGTERM/SIGINT/SIGHUP stop a run cleanly.
            let args = cli.run;
            if args.dry_run {
                signals::install_read_only();
            } else {
                signals::install();
            }
            let config = Config::load(&args.config)?;
            let verbosity = if args.quiet {
                Verbosity::Quiet
            } else if args.verbose {
                Verbosity::Verbose
            } else {
                Verbosity::Normal
            };
            let options = RunOptions {
                force: args.force,
                dry_run: args.dry_run,
                verbosity,
            };
            run::run(&config, options, now).map(|()| 0)
        }
        Some(Command::Check) => check::check(&Config::load(&cli.run.config)?, now),
        Some(Command::Status { json }) => status::status(&Config::load(&cli.run.config)?, json),
        Some(Command::Probe(args)) => probe_command(&args),
        Some(
            command @ (Command::Drain { .. }
            | Command::Undrain { .. }
            | Command::Pin { .. }
            | Command::Unpin { .. }),
        ) => {
            let change = maintenance::Change::from_command(&command, now)?.expect("maintenance");
            maintenance_command(&Config::load(&cli.run.config)?, &change, now)
        }
        Some(Command::Adopt(args)) => adopt::adopt(
            &Config::load(&cli.run.config)?,
            &args.files,
            args.pool.as_deref(),
            args.zone.as_deref(),
        ),
        Some(Command::Completions { shell }) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            // clap_complete panics on a failed write: render first, then write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "zonerw", &mut script);
            crate::out!("{}", String::from_utf8_lossy(&script));
            Ok(0)
        }
    }
}

/// `zonerw pin|unpin|drain|undrain`: check the request, then one run that records it first
/// (under the lock, with this run's probes) and goes on as a normal run. Exit 0 as a run.
fn maintenance_command(
    config: &Config,
    change: &maintenance::Change,
    now: jiff::Timestamp,
) -> Result<u8> {
    change.check(config)?;
    // Before any thread starts: SIGTERM/SIGINT/SIGHUP stop the run cleanly.
    crate::signals::install();
    let options = RunOptions {
        force: false,
        dry_run: false,
        verbosity: Verbosity::Normal,
    };
    run::run_recording(config, options, now, Some(change))
        .map(|()| 0)
        .map_err(|e| match e {
            // Say what became of the request: nothing; the operator retries.
            Error::Locked { path, holder } => Error::Locked {
                path,
                holder: format!("{holder}; nothing was recorded: try again when it is done"),
            },
            e => e,
        })
}

/// `zonerw probe`: exit 0 if healthy, 1 if not, 2 for a usage error.
fn probe_command(args: &ProbeArgs) -> Result<u8> {
    let usage = Error::Usage;
    let timeout = duration::parse(&args.timeout).map_err(|m| usage(format!("--timeout: {m}")))?;
    let expect_status = config::StatusRange::try_from(args.expect_status.clone())
        .map_err(|m| usage(format!("--expect-status: {m}")))?;
    let url = config::CheckUrl::try_from(args.url.clone()).map_err(usage)?;
    let check = probe::Check {
        url: url.text,
        connect: args.connect,
        timeout,
        attempts: 1,
        expect_status,
        expect_body: args.expect_body.clone(),
        tls_verify: !args.insecure,
    };
    let (line, code) = report::probe_answer(&probe::probe_once(&check));
    crate::outln!("{line}");
    Ok(code)
}
