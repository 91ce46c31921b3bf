//! Running external commands: argv only (never a shell), output captured, a hard time bound.
//!
//! Every command (nsd-control, nsd-checkzone, guard witnesses, the on-change hook) runs in
//! its own process group, bounded in time and in output whatever its descendants do:
//!
//! - At the deadline the whole group is SIGKILL'd and reading stops at once.
//! - When the command itself exits, its pipes get [`EXIT_GRACE`] (200 ms) more to reach
//!   end-of-file. A background process that still holds them after that (`sleep 30 &`, an
//!   ssh `ControlPersist` master) would otherwise keep the run, and the run lock, for as
//!   long as it lives: its process group is SIGKILL'd and reading stops. 200 ms is ample
//!   for a pipe's last bytes (the writer has exited or is idle) and keeps a run within
//!   `timeout` + 0.2 s. A background process that let go of the output (redirected it)
//!   and left the group (`setsid`) is left alone.
//! - Each stream is read as it comes (so the command never blocks on a full pipe), but at
//!   most [`OUTPUT_CAP`] bytes are kept; the rest is counted ([`Output::stdout_cut`]).
//! - The group is registered with [`crate::signals`] while it runs, so a SIGTERM to zonerw
//!   kills it too.
//!
//! A bare program name is looked up on `PATH` and then in [`FALLBACK_DIRS`] (the sbin
//! directories cron's `PATH` lacks), by [`resolve`], which `zonerw check` reports too.

use std::fs::File;
use std::io::{self, PipeReader, PipeWriter, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::duration;
use crate::error::{Error, Result};
use crate::signals;

/// Bytes of each stream kept; the rest is read and discarded.
pub const OUTPUT_CAP: usize = 64 * 1024;
/// How long the pipes may stay open after the command exited (see the module docs).
pub const EXIT_GRACE: Duration = Duration::from_millis(200);
/// Lines of a command's output quoted in a message.
const QUOTE_LINES: usize = 5;
/// Characters of one quoted line.
const QUOTE_WIDTH: usize = 200;

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output (at most [`OUTPUT_CAP`] bytes, unless [`run_bounded_keeping`] said
    /// otherwise).
    pub stdout: String,
    /// Standard error (at most [`OUTPUT_CAP`] bytes).
    pub stderr: String,
    /// Bytes of standard output read beyond the cap and discarded.
    pub stdout_cut: u64,
    /// Bytes of standard error read beyond the cap and discarded.
    pub stderr_cut: u64,
}

impl Output {
    /// Stderr, then stdout, quoted for a message (see [`quote`]).
    #[must_use]
    pub fn quote(&self) -> Vec<String> {
        let mut text = self.stderr.trim().to_owned();
        if !self.stdout.trim().is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(self.stdout.trim());
        }
        quote(&text, self.stdout_cut + self.stderr_cut)
    }
}

/// At most [`QUOTE_LINES`] non-empty lines of `text`, each at most [`QUOTE_WIDTH`]
/// characters, then `(… N more lines)` and `(… N more bytes cut)` notes as needed:
/// a message never echoes a large part of what a command printed (or of a file it read).
#[must_use]
pub fn quote(text: &str, cut: u64) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut quoted: Vec<String> = lines
        .iter()
        .take(QUOTE_LINES)
        .map(|l| {
            let l = l.trim_end();
            match l.char_indices().nth(QUOTE_WIDTH) {
                Some((at, _)) => format!("{}…", &l[..at]),
                None => l.to_owned(),
            }
        })
        .collect();
    if lines.len() > QUOTE_LINES {
        quoted.push(format!("(… {} more lines)", lines.len() - QUOTE_LINES));
    }
    if cut > 0 {
        quoted.push(format!("(… {cut} more bytes cut)"));
    }
    quoted
}

/// One captured stream (the child's stdout or stderr, as a plain file descriptor).
struct Capture {
    pipe: Option<File>,
    kept: Vec<u8>,
    cut: u64,
    cap: usize,
}

impl Capture {
    fn new(pipe: Option<impl Into<OwnedFd>>, cap: usize) -> Capture {
        Capture {
            pipe: pipe.map(|p| File::from(p.into())),
            kept: Vec::new(),
            cut: 0,
            cap,
        }
    }

    /// Read what is there (poll said so); close the pipe at end-of-file or on an error.
    fn read_some(&mut self, buf: &mut [u8]) {
        let Some(pipe) = &mut self.pipe else {
            return;
        };
        match pipe.read(buf) {
            Ok(0) => self.pipe = None,
            Ok(n) => {
                let keep = n.min(self.cap - self.kept.len());
                self.kept.extend_from_slice(&buf[..keep]);
                self.cut += (n - keep) as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.pipe = None,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.kept).into_owned()
    }
}

/// Where a bare command name is also looked up when it is not on `PATH`: cron runs jobs
/// with `PATH=/usr/bin:/bin`, but NSD's tools (`nsd-control`, `nsd-checkzone`) live in
/// `/usr/sbin`. A run and `zonerw check` resolve every command the same way, here.
pub const FALLBACK_DIRS: &str = "/usr/local/sbin:/usr/sbin:/sbin";

/// The search path when `PATH` is not set (what `execvp` uses then, glibc's default).
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Where a program was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Named with a `/`: used as it is.
    AsWritten(PathBuf),
    /// A bare name found in a directory of `PATH`.
    OnPath(PathBuf),
    /// A bare name not on `PATH`, found in one of [`FALLBACK_DIRS`].
    InFallback(PathBuf),
}

impl Found {
    /// The file to execute.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            Found::AsWritten(p) | Found::OnPath(p) | Found::InFallback(p) => p,
        }
    }
}

/// Why a program cannot be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotFound {
    /// A bare name in none of the directories searched.
    Nowhere {
        /// The `PATH` searched.
        path: String,
    },
    /// A path (with a `/`) that is not an executable file.
    NotExecutable(PathBuf),
}

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotFound::Nowhere { path } => {
                write!(f, "not found on PATH ({path}) nor in {FALLBACK_DIRS}")
            }
            NotFound::NotExecutable(p) => {
                write!(f, "{} is not an executable file", p.display())
            }
        }
    }
}

/// Find `program` as `execvp` would with `search_path` (`PATH`), then in [`FALLBACK_DIRS`].
/// Pure but for `is_executable`, which tells whether a path is an executable file.
pub fn search(
    program: &str,
    search_path: &str,
    is_executable: impl Fn(&Path) -> bool,
) -> std::result::Result<Found, NotFound> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return if is_executable(&path) {
            Ok(Found::AsWritten(path))
        } else {
            Err(NotFound::NotExecutable(path))
        };
    }
    let find = |dirs: &str| {
        dirs.split(':')
            // An empty entry means the current directory: never for zonerw's commands.
            .filter(|d| d.starts_with('/'))
            .map(|d| Path::new(d).join(program))
            .find(|p| is_executable(p))
    };
    if let Some(p) = find(search_path) {
        return Ok(Found::OnPath(p));
    }
    if let Some(p) = find(FALLBACK_DIRS) {
        return Ok(Found::InFallback(p));
    }
    Err(NotFound::Nowhere {
        path: search_path.to_owned(),
    })
}

/// This process's `PATH` (or the system default when unset).
#[must_use]
#[allow(
    clippy::disallowed_methods,
    reason = "PATH decides which program runs, as it would for execvp; nothing else is read"
)]
pub fn search_path() -> String {
    std::env::var_os("PATH").map_or_else(
        || DEFAULT_PATH.to_owned(),
        |p| p.to_string_lossy().into_owned(),
    )
}

/// Whether `path` is a regular file this process may execute.
#[must_use]
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: c_path is a valid NUL-terminated string that outlives the call.
    let may = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::X_OK,
            libc::AT_EACCESS,
        ) == 0
    };
    may && std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// Find `program` on this process's `PATH`, then in [`FALLBACK_DIRS`] (see [`search`]).
///
/// # Errors
/// Where it was looked for, in words.
pub fn resolve(program: &str) -> std::result::Result<Found, NotFound> {
    search(program, &search_path(), is_executable)
}

/// Run `argv` with no stdin, capturing its output, killing its whole process group if it
/// takes longer than `timeout` (see the module docs for what else is bounded). A bare
/// program name is looked up by [`resolve`]: on `PATH`, then in [`FALLBACK_DIRS`].
pub fn run_bounded(argv: &[String], env: &[(&str, String)], timeout: Duration) -> Result<Output> {
    run_bounded_keeping(argv, env, timeout, OUTPUT_CAP)
}

/// [`run_bounded`], keeping up to `stdout_cap` bytes of standard output (a listing that
/// grows with the number of zones; standard error keeps [`OUTPUT_CAP`]).
pub fn run_bounded_keeping(
    argv: &[String],
    env: &[(&str, String)],
    timeout: Duration,
    stdout_cap: usize,
) -> Result<Output> {
    run_with(argv, env, timeout, stdout_cap, None)
}

/// [`run_bounded`], with `input` on the command's standard input (written by a thread that
/// ends when the input is written or the pipe breaks; the run never waits for it).
pub fn run_bounded_input(argv: &[String], timeout: Duration, input: &[u8]) -> Result<Output> {
    run_with(argv, &[], timeout, OUTPUT_CAP, Some(input))
}

fn run_with(
    argv: &[String],
    env: &[(&str, String)],
    timeout: Duration,
    stdout_cap: usize,
    input: Option<&[u8]>,
) -> Result<Output> {
    let (program, rest) = argv.split_first().expect("argv is validated non-empty");
    let executable = match resolve(program) {
        Ok(found) => found.path().to_owned(),
        // Not found as a bare name: say where it was looked for. A path that is not
        // executable is left to exec, whose error says why (missing, permission denied).
        Err(e @ NotFound::Nowhere { .. }) => {
            return Err(Error::Spawn {
                program: program.clone(),
                source: io::Error::new(io::ErrorKind::NotFound, e.to_string()),
            });
        }
        Err(NotFound::NotExecutable(path)) => path,
    };
    let start = Instant::now();
    let deadline = start + timeout;
    let (reader, writer) = io::pipe().map_err(|source| Error::Spawn {
        program: program.clone(),
        source,
    })?;
    let spawned = signals::spawn_registered(
        || {
            Command::new(&executable)
                .arg0(program)
                .args(rest)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(if input.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .spawn()
        },
        group_of,
    );
    let mut child = spawned.map_err(|source| Error::Spawn {
        program: program.clone(),
        source,
    })?;
    let pgid = group_of(&child);
    // SIGPIPE is ignored (main): a command that stops reading ends the write with EPIPE.
    let feeder = child.stdin.take().zip(input).map(|(mut stdin, input)| {
        let input = input.to_vec();
        thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, &input);
        })
    });
    let mut out = Capture::new(child.stdout.take(), stdout_cap);
    let mut err = Capture::new(child.stderr.take(), OUTPUT_CAP);
    let exited = match ExitWatch::start(pgid, reader, writer) {
        Ok(exited) => exited,
        Err(e) => {
            kill_group(pgid);
            signals::unregister_group(pgid);
            let _ = child.wait();
            return Err(Error::Command {
                argv: argv.to_vec(),
                message: format!("could not be watched: {e}"),
            });
        }
    };
    let finished = pump(&mut out, &mut err, &exited, deadline);
    if !finished || out.pipe.is_some() || err.pipe.is_some() {
        // The deadline passed, or a background process still holds the pipes after the
        // grace: stop the whole group. The leader is not reaped yet, so `pgid` is still ours.
        kill_group(pgid);
    }
    drop(out.pipe.take());
    drop(err.pipe.take());
    // The leader exits (it was SIGKILL'd or had exited), then it is forgotten, then reaped.
    exited.join();
    signals::unregister_group(pgid);
    let status = reap(&mut child, argv)?;
    // Not joined: a background process that keeps the pipe open without reading would
    // hold the writer forever, and the run must not wait for it (module docs).
    drop(feeder);
    if !finished {
        return Err(Error::Command {
            argv: argv.to_vec(),
            message: format!(
                "did not finish within {} and was killed",
                duration::format(timeout)
            ),
        });
    }
    Ok(Output {
        status,
        stdout: out.text(),
        stderr: err.text(),
        stdout_cut: out.cut,
        stderr_cut: err.cut,
    })
}

/// Read both pipes until the command exited and both reached end-of-file, or the
/// deadline passed (false), or the grace after the exit ended (true; a pipe may still be
/// open). Returns whether the command exited.
fn pump(out: &mut Capture, err: &mut Capture, exited: &ExitWatch, deadline: Instant) -> bool {
    let mut exited_at: Option<Instant> = None;
    let mut buf = vec![0u8; OUTPUT_CAP];
    let watch = |fd: Option<BorrowedFd<'_>>| libc::pollfd {
        fd: fd.map_or(-1, |fd| fd.as_raw_fd()),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        let limit = exited_at.map_or(deadline, |at| at + EXIT_GRACE);
        let now = Instant::now();
        if out.pipe.is_none() && err.pipe.is_none() && exited_at.is_some() {
            return true;
        }
        if now >= limit {
            return exited_at.is_some();
        }
        // A negative fd is ignored by poll(2).
        let mut fds = [
            watch(out.pipe.as_ref().map(AsFd::as_fd)),
            watch(err.pipe.as_ref().map(AsFd::as_fd)),
            watch(exited_at.is_none().then(|| exited.reader.as_fd())),
        ];
        let wait = (limit - now).as_millis().saturating_add(1);
        let wait = libc::c_int::try_from(wait).unwrap_or(libc::c_int::MAX);
        // SAFETY: `fds` is a valid array of pollfd of the given length; each fd is kept
        // open by `out`, `err` or `exited` for the duration of the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait) };
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                // Our signals are blocked, but others may come: just poll again.
                continue;
            }
            // Any other error would repeat at once: stop reading (no busy loop); the
            // caller then kills the group as at the deadline.
            return exited_at.is_some();
        }
        if fds[0].revents != 0 {
            out.read_some(&mut buf);
        }
        if fds[1].revents != 0 {
            err.read_some(&mut buf);
        }
        if fds[2].revents != 0 {
            exited_at = Some(Instant::now());
        }
    }
}

fn group_of(child: &Child) -> libc::pid_t {
    libc::pid_t::try_from(child.id()).expect("a pid fits in pid_t")
}

fn reap(child: &mut Child, argv: &[String]) -> Result<ExitStatus> {
    child.wait().map_err(|e| Error::Command {
        argv: argv.to_vec(),
        message: format!("could not be waited for: {e}"),
    })
}

/// A thread that waits for the command to exit *without reaping it* (`waitid` with
/// `WNOWAIT`: the zombie keeps its pid, so the process group id cannot be reused while
/// we may still kill the group), then closes a pipe, which `poll` sees. Waiting on a
/// thread notices the exit at once; polling would add a millisecond or two to each of a
/// thousand nsd-checkzone calls.
struct ExitWatch {
    reader: PipeReader,
    thread: Option<thread::JoinHandle<()>>,
}

impl ExitWatch {
    fn start(pid: libc::pid_t, reader: PipeReader, writer: PipeWriter) -> io::Result<ExitWatch> {
        let thread = thread::Builder::new().spawn(move || {
            let _writer = writer;
            let Ok(id) = libc::id_t::try_from(pid) else {
                return;
            };
            loop {
                // SAFETY: an all-zero siginfo_t is a valid out buffer for waitid.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                // SAFETY: waitid on our own child with a valid siginfo_t pointer.
                let r = unsafe {
                    libc::waitid(
                        libc::P_PID,
                        id,
                        &raw mut info,
                        libc::WEXITED | libc::WNOWAIT,
                    )
                };
                if r == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    return;
                }
            }
        })?;
        Ok(ExitWatch {
            reader,
            thread: Some(thread),
        })
    }

    /// Wait until the command has exited (not reaped).
    fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn kill_group(pgid: libc::pid_t) {
    // SAFETY: kill(2) with a negative pid signals the process group we created with
    // process_group(0); it has no memory-safety preconditions.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// A program that could not start, with the fix for the usual reasons: not found (`install`
/// says how to get it, `key` is the config key naming it), or not executable.
#[must_use]
pub fn spawn_error(program: String, source: std::io::Error, key: &str, install: &str) -> Error {
    let fix = match source.kind() {
        std::io::ErrorKind::NotFound if program.contains('/') => {
            format!("correct the path in {key}, or {install}")
        }
        std::io::ErrorKind::NotFound => format!("{install}, or give the absolute path in {key}"),
        std::io::ErrorKind::PermissionDenied => {
            format!("make it executable, or correct the path in {key}")
        }
        _ => return Error::Spawn { program, source },
    };
    Error::Spawn {
        program,
        source: std::io::Error::new(source.kind(), format!("{source}\nfix: {fix}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods, reason = "tests may read the clock")]

    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    /// Alive and not a zombie.
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            let state = s
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next());
            !matches!(state, Some("Z" | "X") | None)
        })
    }

    #[test]
    fn output_is_capped_and_the_rest_counted() {
        let out = run_bounded(
            &sh("head -c 10485760 /dev/zero | tr '\\0' x; echo done >&2"),
            &[],
            Duration::from_secs(20),
        )
        .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), OUTPUT_CAP);
        assert_eq!(out.stdout_cut, 10_485_760 - OUTPUT_CAP as u64);
        assert_eq!((out.stderr.as_str(), out.stderr_cut), ("done\n", 0));
        let quoted = out.quote();
        assert_eq!(quoted[0], "done");
        assert_eq!(quoted[1].chars().count(), QUOTE_WIDTH + 1, "{quoted:?}");
        assert_eq!(quoted.last().unwrap(), "(… 10420224 more bytes cut)");
    }

    #[test]
    fn input_reaches_the_command_and_one_that_never_reads_it_does_not_hold_the_run() {
        let out = run_bounded_input(&sh("wc -l"), Duration::from_secs(5), b"a\nb\nc\n").unwrap();
        assert_eq!(out.stdout.trim(), "3");
        // 4 MiB the command never reads (far more than a pipe holds), and a background
        // process that keeps standard input (and output) open: the run still ends at the
        // deadline, and the writer is not waited for.
        let start = Instant::now();
        let e = run_bounded_input(
            &sh("sleep 30 & exec sleep 30"),
            Duration::from_millis(300),
            &vec![b'x'; 4 << 20],
        )
        .unwrap_err();
        assert!(e.to_string().contains("did not finish within 300ms"), "{e}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        let e = run_bounded_input(&sh("exit 0"), Duration::from_secs(5), &vec![b'x'; 4 << 20]);
        assert!(
            e.unwrap().status.success(),
            "a command that exits unread: no broken pipe"
        );
    }

    #[test]
    fn endless_output_is_killed_at_the_deadline() {
        let start = Instant::now();
        let e = run_bounded(&sh("exec yes"), &[], Duration::from_millis(500)).unwrap_err();
        assert!(e.to_string().contains("did not finish within"), "{e}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_background_grandchild_holding_the_pipes_does_not_hold_the_run() {
        let start = Instant::now();
        let out = run_bounded(&sh("sleep 30 & echo $!"), &[], Duration::from_secs(10)).unwrap();
        let elapsed = start.elapsed();
        assert!(out.status.success());
        // Not 30 s (the grandchild) nor 10 s (the timeout): 200 ms of grace, with room for a
        // loaded machine.
        assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
        let pid: i32 = out.stdout.trim().parse().unwrap();
        let gone = (0..100).any(|_| {
            thread::sleep(Duration::from_millis(10));
            !alive(pid)
        });
        if !gone {
            // SAFETY: the sleep our own test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        assert!(gone, "the grandchild {pid} was not killed");
    }

    #[test]
    fn a_detached_background_process_is_left_alone() {
        // What the README tells a hook to do to keep something running: redirect its
        // output and leave the process group.
        let start = Instant::now();
        let out = run_bounded(
            &sh("setsid sleep 30 >/dev/null 2>&1 </dev/null & echo $!"),
            &[],
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        let pid: i32 = out.stdout.trim().parse().unwrap();
        thread::sleep(EXIT_GRACE * 2);
        let survived = alive(pid);
        // SAFETY: the sleep our own test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        assert!(survived, "the detached process {pid} was killed");
    }

    #[test]
    fn a_hung_grandchild_is_killed_at_the_deadline() {
        let start = Instant::now();
        let e = run_bounded(&sh("sleep 30; true"), &[], Duration::from_millis(300)).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(2), "{e}");
    }

    #[test]
    fn last_output_after_exit_is_kept() {
        // A background writer that finishes within the grace is read to the end.
        let out = run_bounded(
            &sh("(sleep 0.05; echo late) & echo early"),
            &[],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(out.stdout, "early\nlate\n");
    }

    #[test]
    fn children_get_an_empty_signal_mask() {
        // zonerw blocks SIGTERM/SIGINT/SIGHUP in every thread; std's spawn must reset it.
        let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: initialising a sigset and blocking SIGTERM in this test thread only.
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            libc::sigaddset(set.as_mut_ptr(), libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), std::ptr::null_mut());
        }
        let out = run_bounded(
            &sh("grep SigBlk /proc/self/status"),
            &[],
            Duration::from_secs(5),
        );
        // SAFETY: as above.
        unsafe {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, set.as_ptr(), std::ptr::null_mut());
        }
        let out = out.unwrap();
        assert_eq!(out.stdout.trim(), "SigBlk:\t0000000000000000");
    }

    #[test]
    fn quote_bounds_lines_and_width() {
        let text = (1..=8).fold(String::new(), |t, i| t + &format!("line {i}\n"));
        assert_eq!(
            quote(&text, 0),
            [
                "line 1",
                "line 2",
                "line 3",
                "line 4",
                "line 5",
                "(… 3 more lines)"
            ]
        );
        let wide = "é".repeat(300);
        let q = quote(&wide, 7);
        assert_eq!(q[0], format!("{}…", "é".repeat(QUOTE_WIDTH)));
        assert_eq!(q[1], "(… 7 more bytes cut)");
        assert!(quote("\n \n", 0).is_empty());
    }

    #[test]
    fn environment_and_exit_status_are_passed_through() {
        use std::os::unix::process::ExitStatusExt;
        let out = run_bounded(
            &sh("echo \"$ZONERW_POOL $ZONERW_TO\"; exit 3"),
            &[
                ("ZONERW_POOL", "web".into()),
                ("ZONERW_TO", "backup".into()),
            ],
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(out.stdout, "web backup\n");
        assert_eq!(out.status.code(), Some(3));
        let out = run_bounded(&sh("kill -9 $$"), &[], Duration::from_secs(5)).unwrap();
        assert_eq!((out.status.code(), out.status.signal()), (None, Some(9)));
        let out = run_bounded(&sh("echo oops >&2"), &[], Duration::from_secs(5)).unwrap();
        assert!(out.status.success());
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", "oops\n"));
    }

    #[test]
    fn stdin_is_empty_so_a_reader_never_waits() {
        // An inherited stdin (a terminal, a pipe) would keep cat until the deadline.
        let out = run_bounded(&sh("cat; echo end"), &[], Duration::from_secs(5)).unwrap();
        assert_eq!(out.stdout, "end\n");
    }

    #[test]
    fn bare_names_are_searched_on_path_then_in_the_sbin_directories() {
        let exists = |files: &'static [&'static str]| {
            move |p: &Path| files.iter().any(|f| p == Path::new(f))
        };
        let sbin = exists(&["/usr/sbin/nsd-control", "/usr/bin/ssh", "/opt/x/tool"]);
        assert_eq!(
            search("ssh", "/usr/bin:/bin", sbin),
            Ok(Found::OnPath("/usr/bin/ssh".into()))
        );
        // cron's PATH: nsd-control is found in /usr/sbin all the same.
        assert_eq!(
            search("nsd-control", "/usr/bin:/bin", sbin),
            Ok(Found::InFallback("/usr/sbin/nsd-control".into()))
        );
        assert_eq!(
            search("nsd-control", "/usr/local/bin:/usr/sbin", sbin),
            Ok(Found::OnPath("/usr/sbin/nsd-control".into()))
        );
        // Relative and empty PATH entries (the current directory) are never searched.
        let here = exists(&["x/tool", "tool"]);
        assert!(search("tool", ":.:x", here).is_err());
        let missing = search("nsd-checkzone", "/usr/bin:/bin", sbin).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "not found on PATH (/usr/bin:/bin) nor in /usr/local/sbin:/usr/sbin:/sbin"
        );
        // A path is used as written, never searched.
        assert_eq!(
            search("/opt/x/tool", "/usr/bin", sbin),
            Ok(Found::AsWritten("/opt/x/tool".into()))
        );
        assert_eq!(
            search("/opt/y/tool", "/usr/bin", sbin)
                .unwrap_err()
                .to_string(),
            "/opt/y/tool is not an executable file"
        );
    }

    #[test]
    fn executables_are_files_with_an_x_bit() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(!is_executable(&file));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(is_executable(&file));
        assert!(!is_executable(dir.path()), "a directory is no program");
        assert!(!is_executable(&dir.path().join("missing")));
    }

    #[test]
    fn a_bare_name_found_nowhere_says_where_it_was_looked_for() {
        let e = run_bounded(
            &["zonerw-no-such-program".to_owned()],
            &[],
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot run 'zonerw-no-such-program': not found on PATH ({}) nor in /usr/local/sbin:/usr/sbin:/sbin",
                search_path()
            )
        );
    }

    #[test]
    fn a_program_that_cannot_start_is_a_spawn_error() {
        let e = run_bounded(
            &["/nonexistent/nsd-control".to_owned(), "reload".to_owned()],
            &[],
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot run '/nonexistent/nsd-control': No such file or directory (os error 2)"
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn the_deadline_kills_the_whole_group_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 31 & echo $! > {}; wait", pid_file.display());
        let e = run_bounded(&sh(&script), &[], Duration::from_millis(150)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("'sh -c {script}' did not finish within 150ms and was killed")
        );
        // On a badly loaded machine the group may be killed before it wrote the pid.
        let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        else {
            return;
        };
        // Alive, and still our sleep (not a reused pid).
        let ours = || {
            alive(pid)
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c == b"sleep\x0031\x00")
        };
        let gone = (0..100).any(|_| {
            if ours() {
                thread::sleep(Duration::from_millis(5));
                false
            } else {
                true
            }
        });
        if !gone {
            // SAFETY: the sleep our own test started (checked just above).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        assert!(gone, "the grandchild {pid} outlived the deadline");
    }

    #[test]
    fn output_quote_puts_stderr_first_and_counts_both_cuts() {
        use std::os::unix::process::ExitStatusExt;
        let output = |stdout: &str, stderr: &str, cuts: (u64, u64)| Output {
            status: ExitStatus::from_raw(0),
            stdout: stdout.into(),
            stderr: stderr.into(),
            stdout_cut: cuts.0,
            stderr_cut: cuts.1,
        };
        let cases: [(Output, &[&str]); 5] = [
            (output("", "", (0, 0)), &[]),
            (output("out\n", "", (0, 0)), &["out"]),
            (output("", "err\n", (0, 0)), &["err"]),
            (output("out\n\n", "\nerr\n", (0, 0)), &["err", "out"]),
            (
                output("o", "e", (2, 3)),
                &["e", "o", "(… 5 more bytes cut)"],
            ),
        ];
        for (out, want) in cases {
            assert_eq!(out.quote(), want, "{out:?}");
        }
    }
}
