//! The one error type of zonerw, its messages and its exit codes.

use std::fmt;
use std::path::PathBuf;

/// Everything that can make a zonerw command fail.
///
/// A dead main server is not here: that is a probe outcome, i.e. data.
#[derive(Debug)]
pub enum Error {
    /// Command-line usage error (clap already printed its message).
    Usage(String),
    /// The config file is invalid: names the file and the line or key.
    Config { path: PathBuf, message: String },
    /// A template is invalid: names the file and, where known, the line.
    Template {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// A file or directory could not be read or written.
    Io {
        path: PathBuf,
        doing: &'static str,
        source: std::io::Error,
    },
    /// `state.json` exists but cannot be parsed.
    StateCorrupt { path: PathBuf, message: String },
    /// An external command could not be started.
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// An external command failed or timed out.
    Command { argv: Vec<String>, message: String },
    /// The server's checker (`nsd-checkzone`, `kzonecheck`, `named-checkzone`) rejected a
    /// rendered zone; it was not installed. `server` names the primary (`NSD`).
    Checkzone {
        zone: String,
        checker: String,
        server: &'static str,
        message: String,
    },
    /// A rendered zone was not installed: its SOA serial is not the planned one, or its
    /// check did not finish in time. `server` names the primary (`NSD`).
    NotInstalled {
        zone: String,
        server: &'static str,
        message: String,
    },
    /// The primary did not serve a new serial after the reload.
    Verify { zone: String, message: String },
    /// The primary does not serve the zone and no `add-pattern` / `add-template` is
    /// configured: `server` names it, `how` says how to add the zone.
    UnknownZone {
        zone: String,
        server: &'static str,
        how: String,
    },
    /// Another run holds the lock.
    Locked { path: PathBuf, holder: String },
    /// Several independent failures in one run (e.g. two zones failed).
    Many(Vec<Error>),
}

impl Error {
    /// The process exit code for this error, as documented in README.md (Exit status) and zonerw(8).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Config { .. } | Error::Template { .. } => 2,
            Error::Locked { .. } => 75,
            // A failure to apply (1: the state was not advanced) outranks a skipped
            // template (2): "the next run retries" is what a caller must know first.
            Error::Many(errors) => {
                let codes = || errors.iter().map(Error::exit_code);
                if codes().any(|c| c == 1) {
                    1
                } else {
                    codes().max().unwrap_or(1)
                }
            }
            Error::Io { .. }
            | Error::StateCorrupt { .. }
            | Error::Spawn { .. }
            | Error::Command { .. }
            | Error::Checkzone { .. }
            | Error::NotInstalled { .. }
            | Error::Verify { .. }
            | Error::UnknownZone { .. } => 1,
        }
    }

    /// Shorthand for an I/O error with its path and what we were doing.
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        doing: &'static str,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            path: path.into(),
            doing,
            source,
        }
    }

    /// Shorthand for a config error.
    pub(crate) fn config(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Config {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) => write!(f, "{message}"),
            Error::Config { path, message } => write!(f, "{}: {message}", path.display()),
            Error::Template {
                path,
                line,
                message,
            } => match line {
                Some(line) => write!(f, "{}:{line}: {message}", path.display()),
                None => write!(f, "{}: {message}", path.display()),
            },
            Error::Io {
                path,
                doing,
                source,
            } => write!(f, "cannot {doing} '{}': {source}", path.display()),
            Error::StateCorrupt { path, message } => write!(
                f,
                "state file '{}' is corrupt: {message} (nothing was changed; fix or remove it)",
                path.display()
            ),
            Error::Spawn { program, source } => write!(f, "cannot run '{program}': {source}"),
            Error::Command { argv, message } => write!(f, "'{}' {message}", argv.join(" ")),
            Error::Checkzone {
                zone,
                checker,
                server,
                message,
            } => write!(
                f,
                "{zone}: {checker} rejected the rendered zone; it was not installed and {server} keeps serving the old one:\n{message}"
            ),
            Error::NotInstalled {
                zone,
                server,
                message,
            } => write!(
                f,
                "{zone}: {message}; it was not installed and {server} keeps serving the old zone"
            ),
            Error::Verify { zone, message } => write!(f, "{zone}: {message}"),
            Error::UnknownZone { zone, server, how } => write!(
                f,
                "{zone}: {server} does not serve this zone, so it was not installed. {how}"
            ),
            Error::Locked { path, holder } => {
                write!(f, "another run holds the lock {}: {holder}", path.display())
            }
            Error::Many(errors) => {
                for (i, error) in errors.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}

/// Result with zonerw's error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The errors of one run, collected: a failure of one zone or step is reported, and the run
/// goes on with the rest where it safely can.
#[derive(Debug, Default)]
pub struct Errors(Vec<Error>);

impl Errors {
    /// Collect `error` (the parts of an `Error::Many` one by one).
    pub fn push(&mut self, error: Error) {
        match error {
            Error::Many(errors) => self.0.extend(errors),
            error => self.0.push(error),
        }
    }

    /// Collect the error of `result`, if any.
    pub fn add(&mut self, result: Result<()>) {
        if let Err(e) = result {
            self.push(e);
        }
    }

    /// No error so far.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Ok, the one error, or `Error::Many`.
    pub fn into_result(mut self) -> Result<()> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(self.0.remove(0)),
            _ => Err(Error::Many(self.0)),
        }
    }
}

impl From<Vec<Error>> for Errors {
    fn from(errors: Vec<Error>) -> Self {
        let mut all = Errors::default();
        all.extend(errors);
        all
    }
}

impl Extend<Error> for Errors {
    fn extend<I: IntoIterator<Item = Error>>(&mut self, errors: I) {
        for e in errors {
            self.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(message: &str) -> Error {
        Error::Template {
            path: "t/x.zone".into(),
            line: Some(3),
            message: message.into(),
        }
    }

    fn verify(zone: &str) -> Error {
        Error::Verify {
            zone: zone.into(),
            message: "the primary 127.0.0.1:53 serves serial 1, not 2, 2s after the reload".into(),
        }
    }

    #[test]
    fn exit_codes() {
        let lock = Error::Locked {
            path: "/var/lib/zonerw/lock".into(),
            holder: "pid 7 since 2026-11-29T10:00:00Z".into(),
        };
        let cases: [(Error, u8); 6] = [
            (Error::Usage("x".into()), 2),
            (template("x"), 2),
            (verify("a."), 1),
            (lock, 75),
            (Error::Many(vec![template("x"), verify("a.")]), 1),
            (Error::Many(vec![template("x"), template("y")]), 2),
        ];
        for (error, code) in cases {
            assert_eq!(error.exit_code(), code, "{error}");
        }
    }

    #[test]
    fn many_errors_print_one_per_line() {
        let e = Error::Many(vec![
            template("unknown marker @IPX@"),
            verify("example.com"),
        ]);
        assert_eq!(
            e.to_string(),
            "t/x.zone:3: unknown marker @IPX@\n\
             example.com: the primary 127.0.0.1:53 serves serial 1, not 2, 2s after the reload"
        );
    }

    #[test]
    fn the_accumulator_flattens_and_keeps_order() {
        let mut all = Errors::from(vec![template("one")]);
        assert!(!all.is_empty());
        all.add(Ok(()));
        all.add(Err(Error::Many(vec![verify("a."), verify("b.")])));
        all.push(template("two"));
        let Err(Error::Many(errors)) = all.into_result() else {
            panic!("several errors are Many");
        };
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 4);
        assert!(shown[0].ends_with("one") && shown[3].ends_with("two"));
        assert!(shown[1].starts_with("a.:") && shown[2].starts_with("b.:"));

        assert!(Errors::default().into_result().is_ok());
        let Err(Error::Usage(one)) = Errors::from(vec![Error::Usage("u".into())]).into_result()
        else {
            panic!("a single error stands alone");
        };
        assert_eq!(one, "u");
    }
}
