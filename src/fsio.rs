//! File-system effects: atomic installs that NSD will notice, the run lock, reads with paths.

use std::fs::{self, File, FileTimes, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// Mode of installed zone files: NSD usually runs as another user and must read them.
const ZONE_MODE: u32 = 0o644;

/// Read a file, or None if it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, "read", e)),
    }
}

/// At most this much of an installed zone file is read (its SOA is near the top; a file
/// this large is not one zonerw wrote, so it is replaced either way).
const INSTALLED_READ_LIMIT: u64 = 64 << 20;

/// What is at the path of an installed zone file.
#[derive(Debug)]
pub enum Installed {
    /// Nothing.
    Absent,
    /// A regular file, with (at most `INSTALLED_READ_LIMIT` of) its bytes.
    File(Vec<u8>),
    /// Something that must never be read as a zone (a FIFO would block the run forever, a
    /// link to /dev/zero would read until memory runs out); it is replaced as usual.
    NotAFile(&'static str),
}

fn kind_of(file_type: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// Read an installed zone file without ever blocking on it or reading without end: the
/// type is checked before opening (lstat), the open neither follows a link nor waits for a
/// FIFO's writer, the type is checked again on the open file, and the read is bounded.
pub fn read_installed(path: &Path) -> Result<Installed> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Installed::Absent),
        Err(e) => return Err(Error::io(path, "read", e)),
    };
    if !meta.file_type().is_file() {
        return Ok(Installed::NotAFile(kind_of(meta.file_type())));
    }
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Installed::Absent),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok(Installed::NotAFile("a symbolic link"));
        }
        Err(e) => return Err(Error::io(path, "read", e)),
    };
    let meta = file.metadata().map_err(|e| Error::io(path, "read", e))?;
    if !meta.file_type().is_file() {
        return Ok(Installed::NotAFile(kind_of(meta.file_type())));
    }
    let mut bytes = Vec::new();
    file.take(INSTALLED_READ_LIMIT)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "read", e))?;
    Ok(Installed::File(bytes))
}

/// The size and mtime of the regular file `path` (not following a link), or None.
#[must_use]
pub fn stamp(path: &Path) -> Option<crate::state::FileStamp> {
    let meta = fs::symlink_metadata(path)
        .ok()
        .filter(fs::Metadata::is_file)?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?;
    Some(crate::state::FileStamp {
        size: meta.len(),
        mtime_ns: u64::try_from(mtime.as_nanos()).ok()?,
    })
}

/// A rendered zone written, synced and chmodded in the target directory, not yet installed.
/// Its path is registered with [`crate::signals`] from creation to install or drop, so a
/// SIGTERM to the run removes it.
#[derive(Debug)]
pub struct Staged {
    file: Option<NamedTempFile>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let path = file.path().to_owned();
            crate::signals::finish_registered(&path, || drop(file));
        }
    }
}

impl Staged {
    /// Write `contents` to a dot-prefixed temporary file in `dir` (so a leftover after a
    /// crash never looks like a zone), with mode 0644, and fsync it.
    pub fn new(dir: &Path, name: &str, contents: &[u8]) -> Result<Staged> {
        let staged = Staged::write(dir, name, contents)?;
        staged.sync()?;
        Ok(staged)
    }

    /// Like `new`, but without the fsync: call `sync` (or `sync_filesystem` for a batch)
    /// before `install`.
    pub fn write(dir: &Path, name: &str, contents: &[u8]) -> Result<Staged> {
        let file = crate::signals::create_registered(
            || {
                tempfile::Builder::new()
                    .prefix(&format!(".{name}."))
                    .suffix(".tmp")
                    .tempfile_in(dir)
            },
            |f| f.path().to_owned(),
        )
        .map_err(|e| Error::io(dir, "create a temporary file in", e))?;
        let staged = Staged { file: Some(file) };
        let file = staged.file();
        // Name the zone file in errors: the temporary file is gone by the time one is shown.
        let target = dir.join(name);
        let io = |e| Error::io(&target, "write (a temporary copy of)", e);
        // NamedTempFile creates 0600 files; fchmod explicitly (not subject to the umask).
        file.as_file()
            .set_permissions(Permissions::from_mode(ZONE_MODE))
            .map_err(io)?;
        file.as_file().write_all(contents).map_err(io)?;
        Ok(staged)
    }

    fn file(&self) -> &NamedTempFile {
        self.file.as_ref().expect("present until install or drop")
    }

    /// fsync the temporary file.
    pub fn sync(&self) -> Result<()> {
        self.file()
            .as_file()
            .sync_all()
            .map_err(|e| Error::io(self.file().path(), "write", e))
    }

    /// Path of the temporary file (for `nsd-checkzone`).
    #[must_use]
    pub fn path(&self) -> &Path {
        self.file().path()
    }

    /// Rename over `target` (the caller then fsyncs the directory, once for a batch). The
    /// new file's mtime is made to differ from the replaced file's, because NSD ignores
    /// `reload` when the mtime is unchanged (and timestamps here may be only 4 ms apart).
    pub fn install(mut self, target: &Path) -> Result<()> {
        let previous = fs::symlink_metadata(target).and_then(|m| m.modified()).ok();
        let temp = self.file.take().expect("present until install or drop");
        let path = temp.path().to_owned();
        // Renamed (or, on failure, removed by the drop) with the registry locked: a signal
        // never finds the path registered but gone, nor present but forgotten.
        let file = crate::signals::finish_registered(&path, || {
            temp.persist(target).map_err(|e| {
                let error = e.error;
                drop(e.file);
                error
            })
        })
        .map_err(|e| Error::io(target, "install", e))?;
        if let Some(previous) = previous {
            ensure_mtime_differs(&file, previous)
                .map_err(|e| Error::io(target, "set the mtime of", e))?;
        }
        Ok(())
    }
}

fn ensure_mtime_differs(file: &File, previous: SystemTime) -> io::Result<()> {
    // Try a millisecond later first; on a file system with coarse timestamps, a second.
    for step in [Duration::from_millis(1), Duration::from_secs(1)] {
        if file.metadata()?.modified()? != previous {
            return Ok(());
        }
        file.set_times(FileTimes::new().set_modified(previous + step))?;
    }
    Ok(())
}

/// Remove temporary files a killed run left in `dir` (`.<name>.<random>.tmp`, as `Staged`
/// names them). Call only while holding the run lock: then no other run is writing them.
pub fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours =
            name.starts_with('.') && name.ends_with(".tmp") && name.matches('.').count() >= 3;
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Make many written files durable at once: one `syncfs(2)` of the file system holding
/// `dir` costs about what a single fsync does, where a thousand fsyncs cost a thousand.
pub fn sync_filesystem(dir: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let handle = File::open(dir).map_err(|e| Error::io(dir, "open", e))?;
    // SAFETY: syncfs only takes an open file descriptor, which `handle` keeps open.
    if unsafe { libc::syncfs(handle.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(Error::io(
            dir,
            "sync the file system of",
            io::Error::last_os_error(),
        ))
    }
}

/// fsync a directory so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "sync directory", e))
}

/// Atomically replace `path` with `contents` (temp file, fsync, rename, fsync dir).
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    Staged::new(dir, &name, contents)?.install(path)?;
    sync_dir(dir)
}

/// Append lines to `path` in one write and fsync it once.
pub fn append_lines(path: &Path, lines: &[String]) -> Result<()> {
    let mut text = lines.join("\n");
    text.push('\n');
    let io = |e| Error::io(path, "append to", e);
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_data().map_err(io)
}

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
    // that changes nothing opens no file for writing at all.
    let file = File::open(path)
        .or_else(|e| {
            if e.kind() != io::ErrorKind::NotFound {
                return Err(e);
            }
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
        })
        .map_err(|e| Error::io(path, "open lock file", e))?;
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
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().ok()?;
    let (major, minor) = (libc::major(meta.dev()), libc::minor(meta.dev()));
    let want = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let locks = fs::read_to_string("/proc/locks").ok()?;
    let pid: u32 = locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let at = fields.iter().position(|f| *f == "FLOCK")?;
        (fields.get(at + 4) == Some(&want.as_str())).then(|| fields.get(at + 3)?.parse().ok())?
    })?;
    let since = process_start(pid).map_or_else(|| "an unknown time".into(), crate::run::rfc3339);
    Some(format!("pid {pid} since {since}"))
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
