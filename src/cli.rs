//! The command line, as clap-derive types and nothing else.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The default config file.
pub(crate) const DEFAULT_CONFIG: &str = "/etc/zonerw/zonerw.toml";

/// DNS failover for NSD: probe the main server, point the zones at whichever server is up.
///
/// Without a subcommand, zonerw does one run (the cron job): probe every server, decide,
/// re-render the zones that need it, install them atomically, `nsd-control reload`, save state.
/// It prints nothing when nothing changed.
#[derive(Debug, Parser)]
#[command(
    name = "zonerw",
    version,
    after_help = "Examples:\n  zonerw -c /etc/zonerw/zonerw.toml          # the cron job\n  zonerw --dry-run -v                         # what would change, and why\n  zonerw probe --connect 192.0.2.1 https://www.example.com/up.txt"
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) run: RunArgs,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// Options of a plain run.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools, reason = "they are independent flags")]
pub(crate) struct RunArgs {
    /// Config file.
    #[arg(short, long, value_name = "FILE", default_value = DEFAULT_CONFIG, global = true)]
    pub(crate) config: PathBuf,
    /// Rewrite and reload every zone with a new serial, even if nothing changed.
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) force: bool,
    /// Probe and decide, print what would change (a diff per zone), write nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Also print every probe result.
    #[arg(short, long, conflicts_with = "quiet")]
    pub(crate) verbose: bool,
    /// Print only errors.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// The preflight: will the next failover work? Checks the config, templates (rendered
    /// for every server, through nsd-checkzone), commands, NSD, directories and probes;
    /// changes nothing. Exit 0 only if every check passed.
    Check,
    /// Show what zonerw believes now: chosen servers, counters, last run, recent changes.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script, e.g. `zonerw completions bash > /etc/bash_completion.d/zonerw`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// One ad-hoc probe without a config. Exit 0 = healthy, 1 = unhealthy, 2 = usage error,
    /// 3 = could not test (no route or no DNS on this side).
    Probe(ProbeArgs),
    /// Take a server out of its pool's choice (planned maintenance), then do one run.
    ///
    /// The names leave it at once if it was chosen, and stay away while another server of
    /// the pool is healthy; it is still probed. Refused (exit 2) unless another server of
    /// the pool is healthy and not drained, or --force.
    Drain {
        /// The pool.
        pool: String,
        /// The server.
        server: String,
        /// End the drain by itself after this long, e.g. 30m, 2h, 1h30m, 7d.
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
        /// Why, shown by status and kept in the history.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Drain it even if no other server of the pool is healthy and not drained.
        #[arg(long)]
        force: bool,
    },
    /// Return a drained server to its pool's choice, then do one run.
    Undrain {
        /// The pool.
        pool: String,
        /// The server.
        server: String,
    },
    /// Point a pool at one server whatever the probes say, then do one run.
    ///
    /// Every server is still probed; a run warns (on stderr) while the pinned server fails
    /// its check.
    Pin {
        /// The pool.
        pool: String,
        /// The server.
        server: String,
        /// End the pin by itself after this long, e.g. 30m, 2h, 1h30m, 7d.
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
        /// Why, shown by status and kept in the history.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Let the probes choose a pinned pool's server again, then do one run.
    Unpin {
        /// The pool.
        pool: String,
    },
    /// Turn working zone files into templates in the templates directory.
    ///
    /// The SOA serial becomes @serial@, and every A/AAAA record holding the address of a
    /// pool's server that pool's @IP@/@IP6@ marker; every other byte is kept. Writes
    /// <templates>/<zone>.zone, never over an existing template, and prints each replacement.
    Adopt(AdoptArgs),
}

/// Options of `zonerw adopt`.
#[derive(Debug, Args)]
pub(crate) struct AdoptArgs {
    /// Replace only the addresses of this pool's servers (default: every pool's; an
    /// address of servers of two pools is then an error).
    #[arg(long, value_name = "POOL")]
    pub(crate) pool: Option<String>,
    /// The zone's name, for a file that does not say it (SOA owner @, no $ORIGIN) and is not
    /// named <zone>.zone. Only with one ZONEFILE.
    #[arg(long, value_name = "ZONE")]
    pub(crate) zone: Option<String>,
    /// The zone files.
    #[arg(value_name = "ZONEFILE", required = true)]
    pub(crate) files: Vec<PathBuf>,
}

/// Options of `zonerw probe`.
#[derive(Debug, Args)]
pub(crate) struct ProbeArgs {
    /// Connect to this address instead of resolving the URL's host (like curl --resolve).
    #[arg(long, value_name = "ADDR")]
    pub(crate) connect: Option<IpAddr>,
    /// Hard bound on the whole attempt: connect, TLS, headers and body.
    #[arg(long, value_name = "DUR", default_value = "5s")]
    pub(crate) timeout: String,
    /// Acceptable HTTP status, a code or a range such as 200-399.
    #[arg(long, value_name = "R", default_value = "200-399")]
    pub(crate) expect_status: String,
    /// Substring that must appear in the first 64 KiB of the body.
    #[arg(long, value_name = "S", default_value = "")]
    pub(crate) expect_body: String,
    /// Do not verify the TLS certificate.
    #[arg(long)]
    pub(crate) insecure: bool,
    /// The URL to fetch (http or https).
    pub(crate) url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("zonerw").chain(args.iter().copied()))
    }

    /// A run's flags before a subcommand are refused by `dispatch`, not by clap: clap's
    /// `args_conflicts_with_subcommands` counts every argument before the subcommand,
    /// the global `-c FILE` too, so it would refuse `zonerw -c FILE status` as well.
    #[test]
    fn run_flags_before_a_subcommand_are_a_usage_error() {
        for args in [
            &["--force", "status"][..],
            &["--dry-run", "check"],
            &["-v", "status", "--json"],
            &["-c", "f", "--quiet", "completions", "bash"],
            &["--verbose", "probe", "http://www.example.com/"],
            &["--force", "drain", "web", "main"],
            &["-q", "unpin", "web"],
        ] {
            let cli = parse(args).unwrap();
            let e = crate::dispatch(cli, jiff::Timestamp::UNIX_EPOCH).unwrap_err();
            assert_eq!(
                (e.exit_code(), e.to_string().as_str()),
                (
                    2,
                    "--force, --dry-run, --verbose and --quiet apply to a run, not to a subcommand"
                ),
                "{args:?}"
            );
        }
    }

    #[test]
    fn the_config_file_goes_before_or_after_a_subcommand() {
        for args in [
            &["-c", "f", "status"][..],
            &["status", "-c", "f"],
            &["--config", "f", "status"],
        ] {
            let cli = parse(args).unwrap();
            assert_eq!(cli.run.config, PathBuf::from("f"), "{args:?}");
            assert!(
                matches!(cli.command, Some(Command::Status { json: false })),
                "{args:?}"
            );
        }
        assert_eq!(
            parse(&[]).unwrap().run.config,
            PathBuf::from(DEFAULT_CONFIG)
        );
    }

    /// `drain --force` is drain's own flag, not a run's.
    #[test]
    fn drain_has_its_own_force() {
        let cli = parse(&["drain", "web", "main", "--force", "--for", "2h"]).unwrap();
        assert!(!cli.run.force);
        assert!(matches!(
            cli.command,
            Some(Command::Drain { force: true, duration: Some(ref d), .. }) if d == "2h"
        ));
        for args in [&["pin", "web", "main", "--force"][..], &["undrain", "web"]] {
            assert_eq!(parse(args).unwrap_err().exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn run_flags_after_a_subcommand_are_unknown_to_it() {
        for args in [&["status", "--force"][..], &["check", "-v"]] {
            let e = parse(args).unwrap_err();
            assert_eq!(
                (e.kind(), e.exit_code()),
                (clap::error::ErrorKind::UnknownArgument, 2),
                "{args:?}"
            );
        }
    }
}
