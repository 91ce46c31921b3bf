//! The run lock: one run at a time, and who holds it when another is running.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Error, Result};
use crate::fsio::{create_new_state_file, explain_link};

/// The exclusive run lock; released when dropped (or when the process dies, even by SIGKILL).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Take the run lock at `path` without waiting. Nothing is written to the file (a run that
/// changes nothing writes no file at all); another run finds the holder's pid in
/// /proc/locks. The file is never deleted, since its inode is the lock.
pub fn lock_exclusive(path: &Path) -> Result<Lock> {
    // flock needs no write access: once the file exists, open it read-only, so that a run
    // that changes nothing opens no file for writing at all. Never through a link: root
    // would create (or lock) whatever it points to.
    let open_existing = || {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
    };
    let file = open_existing()
        .or_else(|e| {
            if e.kind() != io::ErrorKind::NotFound {
                return Err(e);
            }
            match create_new_state_file(path, OpenOptions::new().write(true))? {
                Some(file) => Ok(file),
                // Another run created it in between.
                None => open_existing(),
            }
        })
        .map_err(|e| Error::io(path, "open lock file", explain_link(e)))?;
    match file.try_lock() {
        Ok(()) => Ok(Lock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => Err(Error::Locked {
            path: path.to_owned(),
            holder: lock_holder(&file).unwrap_or_else(|| "holder unknown".into()),
        }),
        Err(fs::TryLockError::Error(e)) => Err(Error::io(path, "lock", e)),
    }
}

/// "pid N since TIME" for the process holding a flock on `file`, from /proc/locks
/// (`1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF`) and the holder's start time.
fn lock_holder(file: &File) -> Option<String> {
    let meta = file.metadata().ok()?;
    let (major, minor) = (libc::major(meta.dev()), libc::minor(meta.dev()));
    let want = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let pid = flock_holder(&read_proc_locks()?, &want)?;
    let since = process_start(pid).map_or_else(|| "an unknown time".into(), crate::state::rfc3339);
    Some(format!("pid {pid} since {since}"))
}

/// /proc/locks in one read(2): the kernel keeps the list stable only within one call, and a
/// lock released between two calls (`read_to_string` starts with a small probe) would shift
/// the list and skip the holder's line.
fn read_proc_locks() -> Option<String> {
    let mut buf = vec![0; 1 << 20];
    let n = File::open("/proc/locks").ok()?.read(&mut buf).ok()?;
    buf.truncate(n);
    String::from_utf8(buf).ok()
}

/// The pid holding a flock on the inode `want` (`MAJ:MIN:INODE`, as /proc/locks writes it).
fn flock_holder(locks: &str, want: &str) -> Option<u32> {
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = fields.iter().position(|f| *f == "FLOCK")?;
        (fields.get(at + 4) == Some(&want)).then(|| fields.get(at + 3)?.parse().ok())?
    })
}

/// When process `pid` started: boot time (/proc/stat `btime`) plus its start time in clock
/// ticks (/proc/PID/stat field 22).
fn process_start(pid: u32) -> Option<jiff::Timestamp> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it follow the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let ticks: i64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let btime: i64 = fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())?;
    // SAFETY: sysconf has no preconditions.
    let hz = i64::from(i32::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok()?);
    jiff::Timestamp::from_second(btime + ticks / hz.max(1)).ok()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn the_holder_is_read_from_proc_locks() {
        let locks = "1: POSIX  ADVISORY  WRITE 812 00:1b:77 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 4242 fd:01:5678 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 5000 fd:01:5678 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 99 fd:01:5679 0 EOF\n";
        assert_eq!(
            flock_holder(locks, "fd:01:5678"),
            Some(4242),
            "the holder, not its waiter"
        );
        assert_eq!(flock_holder(locks, "fd:01:5679"), Some(99));
        assert_eq!(
            flock_holder(locks, "00:1b:77"),
            None,
            "a POSIX lock is not ours"
        );
        assert_eq!(flock_holder(locks, "fd:01:0"), None);
    }

    #[test]
    fn a_second_lock_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = lock_exclusive(&path).unwrap();
        // flock conflicts between two opens even within one process. A lookup may miss
        // the holder while other locks come and go (see the ignored test below): ask
        // a few times.
        let errors: Vec<Error> = (0..5).map(|_| lock_exclusive(&path).unwrap_err()).collect();
        let prefix = format!("pid {} since ", std::process::id());
        let e = errors
            .iter()
            .find(|e| matches!(e, Error::Locked { holder, .. } if holder != "holder unknown"))
            .unwrap_or(&errors[0]);
        let Error::Locked { path: at, holder } = e else {
            panic!("{e:?}");
        };
        assert_eq!(at, &path);
        let since = holder
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{holder}"));
        assert!(since.parse::<jiff::Timestamp>().is_ok(), "{since}");
        assert!(errors.iter().all(|e| e.exit_code() == 75));
        assert_eq!(
            e.to_string(),
            format!("another run holds the lock {}: {holder}", path.display())
        );
        drop(first);
        let again = lock_exclusive(&path).unwrap();
        drop(again);
    }

    /// Pin the calling thread to its `n`th allowed CPU (the last one if there are fewer).
    fn pin_to_cpu(n: usize) {
        // SAFETY: a zeroed cpu_set_t is a valid set; sched_{get,set}affinity(0, ...) read
        // and set the calling thread's mask from/into a set of the given size.
        unsafe {
            let size = std::mem::size_of::<libc::cpu_set_t>();
            let mut allowed: libc::cpu_set_t = std::mem::zeroed();
            assert_eq!(libc::sched_getaffinity(0, size, &raw mut allowed), 0);
            let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &allowed))
                .collect();
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpus[n.min(cpus.len() - 1)], &mut set);
            assert_eq!(libc::sched_setaffinity(0, size, &raw const set), 0);
        }
    }

    #[test]
    fn the_holder_is_found_while_other_locks_come_and_go() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let stop = AtomicBool::new(false);
        let misses = std::thread::scope(|s| {
            // The lock and the churn on one CPU: the kernel lists locks per CPU, newest
            // first, so the churning locks stand before ours in /proc/locks.
            let held = s
                .spawn(|| {
                    pin_to_cpu(0);
                    lock_exclusive(&path).unwrap()
                })
                .join()
                .unwrap();
            s.spawn(|| {
                pin_to_cpu(0);
                let others: Vec<File> = (0..20)
                    .map(|i| {
                        let other = dir.path().join(format!("other{i}"));
                        fs::write(&other, "").unwrap();
                        File::open(other).unwrap()
                    })
                    .collect();
                while !stop.load(Ordering::Relaxed) {
                    for f in &others {
                        f.try_lock().unwrap();
                    }
                    for f in &others {
                        f.unlock().unwrap();
                    }
                }
            });
            let file = File::open(&path).unwrap();
            let misses = s
                .spawn(move || {
                    pin_to_cpu(1);
                    (0..1000).filter(|_| lock_holder(&file).is_none()).count()
                })
                .join()
                .unwrap();
            stop.store(true, Ordering::Relaxed);
            drop(held);
            misses
        });
        assert_eq!(misses, 0, "the holder was missed {misses} times in 1000");
    }

    #[test]
    fn the_lock_file_is_created_empty_and_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        drop(lock_exclusive(&path).unwrap());
        let meta = fs::metadata(&path).unwrap();
        assert_eq!((meta.len(), meta.mode() & 0o777), (0, 0o644));
        // An existing lock file is only opened for reading: its bytes and mode stay.
        fs::write(&path, "left by hand\n").unwrap();
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o444)).unwrap();
        drop(lock_exclusive(&path).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), "left by hand\n");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o444);
    }

    #[test]
    fn a_link_at_the_lock_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let target = dir.path().join("target");
        symlink(&target, &path).unwrap();
        for target_exists in [false, true] {
            let e = lock_exclusive(&path).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "cannot open lock file '{}': it is a symbolic link; zonerw does not follow links in its state directory",
                    path.display()
                ),
                "target exists: {target_exists}"
            );
            assert_eq!(e.exit_code(), 1);
            assert_eq!(
                target.exists(),
                target_exists,
                "the target is never created"
            );
            fs::write(&target, "").unwrap();
        }
    }

    #[test]
    fn an_unlocked_file_has_no_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        fs::write(&path, "").unwrap();
        assert_eq!(lock_holder(&File::open(&path).unwrap()), None);
    }

    #[test]
    #[allow(clippy::disallowed_methods, reason = "compares with the clock")]
    fn process_start_is_when_this_process_started() {
        let started = process_start(std::process::id()).unwrap();
        let now = jiff::Timestamp::now();
        // btime is whole seconds and may drift a little from the wall clock.
        let slack = jiff::SignedDuration::from_secs(5);
        assert!(started <= now + slack, "{started} after {now}");
        assert!(
            now.duration_since(started) < jiff::SignedDuration::from_hours(1),
            "{started} is long before {now}"
        );
        assert_eq!(process_start(u32::MAX), None);
    }
}
