//! Printing that can never change what a run does.
//!
//! cron mails stdout and stderr, and the mailer may be gone (a closed pipe), stdout may be
//! `/dev/full`, or the descriptor may not even be open. `println!` panics on a failed write
//! and a default SIGPIPE kills the process: either would stop a failover half-way. Every
//! print in zonerw goes through [`outln!`]/[`errln!`], which drop a failed write on the
//! floor; [`prepare`] ignores SIGPIPE and makes sure descriptors 0–2 are open, so a file
//! zonerw opens can never become "stdout" and receive its messages.

use std::fmt;
use std::io::Write;

/// Write to stdout; a failure is ignored (it must not change what the run does).
pub fn stdout(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(args);
    let _ = out.flush();
}

/// Write to stderr; a failure is ignored.
pub fn stderr(args: fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Ignore SIGPIPE (a write to a closed pipe then fails with EPIPE, which the functions above
/// ignore) and open `/dev/null` on any of descriptors 0, 1 and 2 that is closed.
pub fn prepare() {
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions. Children get
    // the default back: std's spawn resets SIGPIPE to SIG_DFL before exec.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    for fd in 0..=2 {
        // SAFETY: fcntl(F_GETFD) only queries a descriptor number.
        let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1;
        if closed {
            // SAFETY: open(2) with a valid C string; the lowest free descriptor is `fd`,
            // because every lower one is open (checked in order).
            unsafe {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            }
        }
    }
}

/// `println!` that never panics and never fails the run.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` that never panics.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::stdout(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

/// How much a run prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Only errors.
    Quiet,
    /// Changes and errors.
    Normal,
    /// Also every probe result.
    Verbose,
}

/// A line a run prints: on stdout (what changed) or on stderr (warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// For stdout.
    Out(String),
    /// For stderr.
    Err(String),
}

/// Print `lines` on stdout.
pub fn print(lines: impl IntoIterator<Item = String>) {
    emit(lines.into_iter().map(Line::Out));
}

/// Print `lines`, each on its stream, in order.
pub fn emit(lines: impl IntoIterator<Item = Line>) {
    for line in lines {
        match line {
            Line::Out(text) => crate::outln!("{text}"),
            Line::Err(text) => crate::errln!("{text}"),
        }
    }
}
/// `1 file`, `2 files`: a count with its noun.
#[must_use]
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
