//! Stopping cleanly on SIGTERM, SIGINT and SIGHUP (a run only).
//!
//! [`install`] blocks the three signals in the calling thread, before any other thread
//! exists, so every thread inherits the mask and none is ever interrupted; one dedicated
//! thread takes them with `sigwait(2)`. On a signal it SIGKILLs the process group of every
//! command still running (each external command runs in its own group, see
//! [`crate::command`]), unlinks every temporary file not yet installed, prints one line and
//! `_exit`s with 128 + the signal number. The run lock (a flock) goes with the process.
//! State is saved last and atomically, so stopping anywhere is safe: the next run redoes
//! whatever was not saved.
//!
//! Children get an empty signal mask back: std's spawn resets the mask (and SIGPIPE)
//! before exec (a unit test in `command.rs` checks it).
//!
//! The registries are plain mutexes. Registering happens *while holding* the registry
//! lock (the spawn, the creation of the temporary file), and the signal thread keeps both
//! locks until it exits: so there is no moment where a process group or a temporary file
//! exists without being registered, and nothing new starts once a signal arrived.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};

/// Process groups (= the pid of their leader) of the commands running now.
static GROUPS: Mutex<BTreeSet<libc::pid_t>> = Mutex::new(BTreeSet::new());
/// Temporary files that exist now and are not installed yet.
static TEMPORARIES: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
/// The run saved its state (a signal after this point loses nothing).
static SAVED: AtomicBool = AtomicBool::new(false);
/// This process writes nothing (`check`, `--dry-run`): a signal loses nothing either.
static READ_ONLY: AtomicBool = AtomicBool::new(false);

const SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

fn lock<T>(m: &'static Mutex<T>) -> MutexGuard<'static, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Run `spawn` (which starts a process group and returns its id) with the registry locked,
/// and register the group it returns.
pub fn spawn_registered<T>(
    spawn: impl FnOnce() -> std::io::Result<T>,
    group: impl Fn(&T) -> libc::pid_t,
) -> std::io::Result<T> {
    let mut groups = lock(&GROUPS);
    let spawned = spawn()?;
    groups.insert(group(&spawned));
    Ok(spawned)
}

/// Forget a process group. Call it before reaping its leader (while the leader is a
/// zombie its pid, and so the group id, cannot be reused).
pub fn unregister_group(pgid: libc::pid_t) {
    lock(&GROUPS).remove(&pgid);
}

/// Run `create` (which creates a temporary file, or a private temporary directory for
/// such files, and returns it) with the registry locked, and register the path it reports.
/// On a signal, registered files are removed, then registered directories (once empty).
pub fn create_registered<T, E>(
    create: impl FnOnce() -> Result<T, E>,
    path: impl Fn(&T) -> PathBuf,
) -> Result<T, E> {
    let mut temporaries = lock(&TEMPORARIES);
    let created = create()?;
    temporaries.insert(path(&created));
    Ok(created)
}

/// Run `finish` (which installs or removes the temporary file at `path`) with the registry
/// locked, then forget `path`.
pub fn finish_registered<T>(path: &Path, finish: impl FnOnce() -> T) -> T {
    let mut temporaries = lock(&TEMPORARIES);
    let result = finish();
    temporaries.remove(path);
    result
}

/// The run's state is saved: a signal from now on only stops what comes after (hooks).
pub fn note_saved() {
    SAVED.store(true, Ordering::SeqCst);
}

/// `install` for a process that writes nothing (`check`, a dry run): the line a signal
/// prints says so instead of speaking of state.
pub fn install_read_only() {
    READ_ONLY.store(true, Ordering::SeqCst);
    install();
}

/// Block SIGTERM, SIGINT and SIGHUP and start the thread that handles them. Call it before
/// any other thread is started (they inherit the mask). Only the first call does anything.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let set = signal_set();
        // SAFETY: pthread_sigmask with a valid, initialised set and a null old set.
        unsafe {
            libc::pthread_sigmask(libc::SIG_BLOCK, &raw const set, std::ptr::null_mut());
        }
        let spawned = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || wait_and_stop(&set));
        if spawned.is_err() {
            // No handler thread: better the default (die at once) than signals ignored.
            // SAFETY: as above.
            unsafe {
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &raw const set, std::ptr::null_mut());
            }
        }
    });
}

/// The signals to handle: those of `SIGNALS` the caller did not choose to ignore (`nohup`
/// ignores SIGHUP, a shell's `trap '' TERM` SIGTERM): a blocked signal is still queued
/// for `sigwait` even when ignored, so an ignored one must stay out of the set.
fn signal_set() -> libc::sigset_t {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset takes valid signal numbers;
    // sigaction with a null new action only reads the current one into `old`.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for sig in SIGNALS {
            let mut old = std::mem::zeroed::<libc::sigaction>();
            let ignored = libc::sigaction(sig, std::ptr::null(), &raw mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN;
            if !ignored {
                libc::sigaddset(set.as_mut_ptr(), sig);
            }
        }
        set.assume_init()
    }
}

fn wait_and_stop(set: &libc::sigset_t) {
    let mut sig: libc::c_int = 0;
    loop {
        // SAFETY: sigwait with a valid set and a valid out pointer.
        // SAFETY (sigismember): `set` is an initialised signal set.
        if unsafe { libc::sigwait(set, &raw mut sig) } == 0
            && unsafe { libc::sigismember(set, sig) } == 1
        {
            break;
        }
    }
    // Keep both locks until _exit: nothing is spawned or created any more.
    let groups = lock(&GROUPS);
    for &pgid in groups.iter() {
        // SAFETY: kill(2) on a process group we created and whose leader is not reaped.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    let temporaries = lock(&TEMPORARIES);
    let removed = temporaries
        .iter()
        .filter(|p| std::fs::remove_file(p).is_ok())
        .count();
    // A registered directory (a dry run's private one) goes once its files are gone.
    for p in temporaries.iter() {
        let _ = std::fs::remove_dir(p);
    }
    let state = if READ_ONLY.load(Ordering::SeqCst) {
        State::NothingWritten
    } else if SAVED.load(Ordering::SeqCst) {
        State::Saved
    } else {
        State::NotSaved
    };
    let mut line = message(sig, groups.len(), removed, state);
    line.push('\n');
    write_stderr_without_blocking(line.as_bytes());
    // SAFETY: _exit ends the process at once (no atexit handlers, no destructors racing the
    // other threads); the kernel releases the lock and closes every descriptor.
    unsafe { libc::_exit(128 + sig) }
}

/// One write(2) to stderr, only if it can take the line now (a full pipe whose reader is
/// gone must not keep the run, and its lock, alive), and without std's stderr lock, which
/// another thread may hold while blocked.
fn write_stderr_without_blocking(bytes: &[u8]) {
    let mut fd = libc::pollfd {
        fd: libc::STDERR_FILENO,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: poll on one valid pollfd; write(2) from a valid buffer of the given length.
    unsafe {
        if libc::poll(&raw mut fd, 1, 100) == 1 && fd.revents & libc::POLLOUT != 0 {
            libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len());
        }
    }
}

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// What a signal leaves behind, for its line.
#[derive(Debug, Clone, Copy)]
enum State {
    Saved,
    NotSaved,
    NothingWritten,
}

/// The one line printed when a signal stops the run.
fn message(sig: libc::c_int, killed: usize, removed: usize, state: State) -> String {
    let saved = match state {
        State::Saved => "the state was already saved",
        State::NotSaved => "the state was not saved, so the next run redoes this one's work",
        State::NothingWritten => "nothing was written",
    };
    format!(
        "zonerw: error: stopped by {}: killed {}, removed {}; {saved}",
        signal_name(sig),
        crate::output::plural(
            killed,
            "running command (and its process group)",
            "running commands (and their process groups)"
        ),
        crate::output::plural(removed, "temporary file", "temporary files"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_says_what_was_done() {
        assert_eq!(
            super::message(libc::SIGTERM, 1, 0, State::NotSaved),
            "zonerw: error: stopped by SIGTERM: killed 1 running command (and its process \
             group), removed 0 temporary files; the state was not saved, so the next run \
             redoes this one's work"
        );
        assert!(super::message(libc::SIGHUP, 2, 1, State::Saved).ends_with(
            "killed 2 running commands (and their process groups), removed 1 temporary file; \
             the state was already saved"
        ));
        assert!(
            super::message(libc::SIGINT, 1, 1, State::NothingWritten)
                .ends_with("removed 1 temporary file; nothing was written")
        );
    }

    #[test]
    fn message_names_each_signal_and_counts() {
        let cases = [
            (
                libc::SIGINT,
                0,
                2,
                State::Saved,
                "stopped by SIGINT: killed 0 running commands (and their process groups), removed 2 temporary files; the state was already saved",
            ),
            (
                libc::SIGHUP,
                1,
                1,
                State::NotSaved,
                "stopped by SIGHUP: killed 1 running command (and its process group), removed 1 temporary file; the state was not saved, so the next run redoes this one's work",
            ),
            (
                libc::SIGUSR1,
                3,
                0,
                State::Saved,
                "stopped by a signal: killed 3 running commands (and their process groups), removed 0 temporary files; the state was already saved",
            ),
        ];
        for (sig, killed, removed, saved, want) in cases {
            assert_eq!(
                message(sig, killed, removed, saved),
                format!("zonerw: error: {want}")
            );
        }
    }

    #[test]
    fn plural_only_for_exactly_one() {
        let cases = [
            (0, "0 files"),
            (1, "1 file"),
            (2, "2 files"),
            (11, "11 files"),
        ];
        for (n, want) in cases {
            assert_eq!(crate::output::plural(n, "file", "files"), want);
        }
    }

    #[test]
    fn temporaries_are_registered_from_creation_to_finish() {
        let path = PathBuf::from(format!(
            "/nonexistent/zonerw-test-{}.tmp",
            std::process::id()
        ));
        let registered = || lock(&TEMPORARIES).contains(&path);
        let failed: Result<(), &str> = create_registered(|| Err("disk full"), |()| path.clone());
        assert_eq!(failed, Err("disk full"));
        assert!(!registered(), "a failed creation registers nothing");
        let created: Result<u8, ()> = create_registered(|| Ok(7), |_| path.clone());
        assert_eq!(created, Ok(7));
        assert!(registered());
        let finished = finish_registered(&path, || {
            // The registry stays locked while the file is installed or removed.
            assert!(TEMPORARIES.try_lock().is_err());
            "renamed"
        });
        assert_eq!(finished, "renamed");
        assert!(!registered());
    }

    #[test]
    fn process_groups_are_registered_until_forgotten() {
        // A group id no process of this test has: nothing is ever signalled here.
        let pgid: libc::pid_t = libc::pid_t::MAX - 7;
        let spawned = spawn_registered(|| Ok(pgid), |&g| g).unwrap();
        assert_eq!(spawned, pgid);
        assert!(lock(&GROUPS).contains(&pgid));
        unregister_group(pgid);
        assert!(!lock(&GROUPS).contains(&pgid));
        let failed = spawn_registered(
            || Err::<libc::pid_t, _>(std::io::Error::other("no such program")),
            |&g| g,
        );
        assert_eq!(failed.unwrap_err().to_string(), "no such program");
        assert!(!lock(&GROUPS).contains(&pgid));
    }

    #[test]
    fn an_ignored_signal_stays_out_of_the_set() {
        // As under nohup. SIGHUP's disposition is restored before the test ends.
        let member = |set: &libc::sigset_t, sig| {
            // SAFETY: `set` is an initialised signal set.
            unsafe { libc::sigismember(set, sig) == 1 }
        };
        // SAFETY: sigaction with valid pointers; the old action is put back below.
        let old = unsafe {
            let mut old = std::mem::zeroed::<libc::sigaction>();
            let mut ignore = std::mem::zeroed::<libc::sigaction>();
            ignore.sa_sigaction = libc::SIG_IGN;
            assert_eq!(
                libc::sigaction(libc::SIGHUP, &raw const ignore, &raw mut old),
                0
            );
            old
        };
        let set = signal_set();
        let mut default = old;
        default.sa_sigaction = libc::SIG_DFL;
        // SAFETY: as above.
        unsafe {
            libc::sigaction(libc::SIGHUP, &raw const default, std::ptr::null_mut());
        }
        let set_default = signal_set();
        // SAFETY: as above.
        unsafe {
            libc::sigaction(libc::SIGHUP, &raw const old, std::ptr::null_mut());
        }
        assert!(!member(&set, libc::SIGHUP));
        assert!(member(&set_default, libc::SIGHUP));
        for sig in [libc::SIGUSR1, libc::SIGKILL, libc::SIGPIPE] {
            assert!(!member(&set_default, sig), "{sig}");
        }
    }
}
