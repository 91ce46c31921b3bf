//! File-system effects: atomic installs that NSD will notice, state files that never follow
//! a link, bounded reads of installed files, errors that name the path.

use std::fs::{self, File, FileTimes, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use tempfile::TempPath;

use crate::error::{Error, Result};
use crate::state::TemplateStamp;

/// Mode of installed zone files: NSD usually runs as another user and must read them.
const ZONE_MODE: u32 = 0o644;
/// Mode of the files in the state directory (state.json, serials.json, history.jsonl, lock).
pub const STATE_FILE_MODE: u32 = 0o644;
/// Mode of a state directory zonerw creates.
pub const STATE_DIR_MODE: u32 = 0o755;

/// Why a state file is refused: it is a symbolic link, which root would otherwise follow
/// to write (or read) wherever it points.
fn no_links() -> io::Error {
    io::Error::other("it is a symbolic link; zonerw does not follow links in its state directory")
}

/// `e`, or the symbolic-link explanation when `e` is open(2)'s ELOOP of `O_NOFOLLOW`.
pub(crate) fn explain_link(e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        no_links()
    } else {
        e
    }
}

/// Read a file of the state directory, or None if it does not exist. A symbolic link is
/// refused, not followed, and so is anything but a regular file (a FIFO would block the
/// run with the lock held).
pub fn read_state_file(path: &Path) -> Result<Option<Vec<u8>>> {
    match read_regular(path, false, u64::MAX)? {
        Installed::Absent => Ok(None),
        Installed::File(bytes) => Ok(Some(bytes)),
        Installed::NotAFile(NotAFile::Link) => Err(Error::io(path, "read", no_links())),
        Installed::NotAFile(kind) => Err(Error::io(
            path,
            "read",
            io::Error::other(format!(
                "it is {kind}; zonerw keeps only regular files in its state directory"
            )),
        )),
    }
}

/// Create `dir` (and missing parents) if it does not exist; a directory created here gets
/// mode 0755 whatever the umask. Returns whether it was created.
pub fn create_state_dir(dir: &Path) -> Result<bool> {
    if dir.is_dir() {
        return Ok(false);
    }
    let io = |e| Error::io(dir, "create state directory", e);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(STATE_DIR_MODE)
        .create(dir)
        .map_err(io)?;
    fs::set_permissions(dir, Permissions::from_mode(STATE_DIR_MODE)).map_err(io)?;
    Ok(true)
}

/// Create `path` exclusively (never through a link) with mode 0644 whatever the umask, or
/// None if something is already there.
pub(crate) fn create_new_state_file(
    path: &Path,
    options: &mut OpenOptions,
) -> io::Result<Option<File>> {
    match options
        .create_new(true)
        .mode(STATE_FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => {
            file.set_permissions(Permissions::from_mode(STATE_FILE_MODE))?;
            Ok(Some(file))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(e),
    }
}

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

/// What is at the path of an installed zone file (or a template).
#[derive(Debug)]
pub enum Installed {
    /// Nothing.
    Absent,
    /// A regular file, with (at most `INSTALLED_READ_LIMIT` of) its bytes.
    File(Vec<u8>),
    /// Something that must never be read as a zone (a FIFO would block the run forever, a
    /// link to /dev/zero would read until memory runs out); it is replaced as usual.
    NotAFile(NotAFile),
}

/// What stands where a regular file should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAFile {
    /// A symbolic link (never followed where a link is refused).
    Link,
    /// A directory (rename(2) cannot replace it).
    Directory,
    /// A FIFO (reading would wait for a writer).
    Fifo,
    /// A socket.
    Socket,
    /// A character or block device (reading may never end).
    Device,
}

impl NotAFile {
    fn of(file_type: fs::FileType) -> NotAFile {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_symlink() {
            NotAFile::Link
        } else if file_type.is_dir() {
            NotAFile::Directory
        } else if file_type.is_fifo() {
            NotAFile::Fifo
        } else if file_type.is_socket() {
            NotAFile::Socket
        } else {
            NotAFile::Device
        }
    }
}

impl std::fmt::Display for NotAFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotAFile::Link => "a symbolic link",
            NotAFile::Directory => "a directory",
            NotAFile::Fifo => "a FIFO",
            NotAFile::Socket => "a socket",
            NotAFile::Device => "a device",
        })
    }
}

/// Read an installed zone file without ever blocking on it or reading without end: the
/// type is checked before opening (lstat), the open neither follows a link nor waits for a
/// FIFO's writer, the type is checked again on the open file, and the read is bounded.
pub fn read_installed(path: &Path) -> Result<Installed> {
    read_regular(path, false, INSTALLED_READ_LIMIT)
}

/// Read a template the same way, except that a symbolic link to a regular file is
/// followed (templates are often links into a checkout) and the whole file is read: a
/// template cut short would render a zone cut short.
pub fn read_template(path: &Path) -> Result<Installed> {
    read_regular(path, true, u64::MAX)
}

/// `read_template`, with the template's stamp taken before its bytes were read (so a later
/// change shows in a later stamp).
pub fn read_template_stamped(path: &Path) -> Result<(Installed, Option<TemplateStamp>)> {
    let (read, meta) = read_regular_stat(path, true, u64::MAX)?;
    Ok((read, meta.as_ref().map(template_stamp_of)))
}

/// The stamp of the template `path` (a link is followed), if it is a regular file.
#[must_use]
pub fn template_stamp(path: &Path) -> Option<TemplateStamp> {
    fs::metadata(path)
        .ok()
        .filter(fs::Metadata::is_file)
        .as_ref()
        .map(template_stamp_of)
}

fn template_stamp_of(meta: &fs::Metadata) -> TemplateStamp {
    let ns = |secs: i64, nsecs: i64| {
        u64::try_from(secs)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::try_from(nsecs).unwrap_or(0))
    };
    TemplateStamp {
        size: meta.size(),
        mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
        ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        ino: meta.ino(),
    }
}

/// Read what a child wrote into a file zonerw made for it (the signer's output) like an
/// installed zone file: never through a link it put there, never blocking, at most one
/// byte more than an installed zone file may have (`Ok(None)`: more than that).
pub fn read_output(path: &Path) -> Result<Option<Installed>> {
    let read = read_regular(path, false, INSTALLED_READ_LIMIT + 1)?;
    Ok(match read {
        Installed::File(bytes) if bytes.len() as u64 > INSTALLED_READ_LIMIT => None,
        other => Some(other),
    })
}

/// At most this much of a DNSSEC key file is read (one is a few hundred bytes).
const KEY_READ_LIMIT: u64 = 1 << 20;

/// Read a key file of `[dnssec] keys` like a template (a link is followed, a FIFO never
/// blocks), at most 1 MiB of it.
pub fn read_key_file(path: &Path) -> Result<Installed> {
    read_regular(path, true, KEY_READ_LIMIT)
}

/// Read at most `limit` bytes of the regular file `path` (following a final symbolic link
/// only if `follow`), never blocking on a FIFO nor opening a device.
fn read_regular(path: &Path, follow: bool, limit: u64) -> Result<Installed> {
    read_regular_stat(path, follow, limit).map(|(read, _)| read)
}

/// `read_regular`, with the status of the file read, taken before its bytes were.
fn read_regular_stat(
    path: &Path,
    follow: bool,
    limit: u64,
) -> Result<(Installed, Option<fs::Metadata>)> {
    let meta = if follow {
        fs::metadata(path)
    } else {
        fs::symlink_metadata(path)
    };
    let meta = match meta {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Installed::Absent, None)),
        Err(e) => return Err(Error::io(path, "read", e)),
    };
    if !meta.file_type().is_file() {
        return Ok((Installed::NotAFile(NotAFile::of(meta.file_type())), None));
    }
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | if follow { 0 } else { libc::O_NOFOLLOW })
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Installed::Absent, None)),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok((Installed::NotAFile(NotAFile::Link), None));
        }
        Err(e) => return Err(Error::io(path, "read", e)),
    };
    let meta = file.metadata().map_err(|e| Error::io(path, "read", e))?;
    if !meta.file_type().is_file() {
        return Ok((Installed::NotAFile(NotAFile::of(meta.file_type())), None));
    }
    // Sized from the fstat above (one byte more, to see the end at once): without it a
    // bounded read grows its buffer from 32 bytes, six reads for a small template.
    // At most 16 MiB up front: a file can claim any size (a sparse one), and a bigger one
    // grows as it is read.
    let expected = usize::try_from(meta.len().min(limit).min(1 << 24) + 1).unwrap_or(0);
    let mut bytes = Vec::with_capacity(expected);
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "read", e))?;
    Ok((Installed::File(bytes), Some(meta)))
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
    /// The file's path; no descriptor is held, so a run can stage more zones than it may
    /// have files open (a first run or `--force` over tens of thousands of zones).
    path: Option<TempPath>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let name = path.to_path_buf();
            crate::signals::finish_registered(&name, || drop(path));
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
    /// before `install`. The file is closed once written.
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
        // Name the zone file in errors: the temporary file is gone by the time one is shown.
        let target = dir.join(name);
        let io = |e| Error::io(&target, "write (a temporary copy of)", e);
        // NamedTempFile creates 0600 files; fchmod explicitly (not subject to the umask).
        let written = file
            .as_file()
            .set_permissions(Permissions::from_mode(ZONE_MODE))
            .and_then(|()| file.as_file().write_all(contents));
        let path = file.into_temp_path();
        let staged = Staged { path: Some(path) };
        written.map_err(io)?;
        Ok(staged)
    }

    /// fsync the temporary file.
    pub fn sync(&self) -> Result<()> {
        File::open(self.path())
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(self.path(), "write", e))
    }

    /// Path of the temporary file (for `nsd-checkzone`).
    #[must_use]
    pub fn path(&self) -> &Path {
        self.path.as_ref().expect("present until install or drop")
    }

    /// Rename over `target` (the caller then fsyncs the directory, once for a batch). The
    /// new file's mtime is made to differ from the replaced file's, because NSD ignores
    /// `reload` when the mtime is unchanged (and timestamps here may be only 4 ms apart).
    /// Two `stat`s tell; only a file whose mtime is the same is opened, to move it, before
    /// the rename (reopening every installed file took a tenth of a 10,000-zone `--force`).
    pub fn install(mut self, target: &Path) -> Result<()> {
        if let Ok(previous) = fs::symlink_metadata(target).and_then(|m| m.modified()) {
            let staged = fs::symlink_metadata(self.path()).and_then(|m| m.modified());
            if staged.is_ok_and(|mtime| mtime == previous) {
                File::options()
                    .write(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(self.path())
                    .and_then(|file| ensure_mtime_differs(&file, previous))
                    .map_err(|e| Error::io(target, "set the mtime of", e))?;
            }
        }
        let temp = self.path.take().expect("present until install or drop");
        let path = temp.to_path_buf();
        // Renamed (or, on failure, removed by the drop) with the registry locked: a signal
        // never finds the path registered but gone, nor present but forgotten.
        crate::signals::finish_registered(&path, || {
            temp.persist(target).map_err(|e| {
                let error = e.error;
                drop(e.path);
                error
            })
        })
        .map_err(|e| Error::io(target, "install", e))
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
    // A bare file name's parent is "", which names no directory to sync.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    Staged::new(dir, &name, contents)?.install(path)?;
    sync_dir(dir)
}

/// Append lines to `path` in one write and fsync it once. The file is created with mode
/// 0644 and never opened through a symbolic link. If it does not end with a newline (a
/// line cut short by a full disk), the batch starts with one, so that the fragment stays a
/// line of its own (readers skip it) instead of swallowing the first new line. A failed
/// write is cut back off, so that it leaves no fragment where it can help it.
pub fn append_lines(path: &Path, lines: &[String]) -> Result<()> {
    let io = |e| Error::io(path, "append to", explain_link(e));
    // Read access too: to look at the last byte.
    let mut options = OpenOptions::new();
    options.read(true).append(true);
    let file = match create_new_state_file(path, &mut options).map_err(io)? {
        Some(file) => file,
        None => OpenOptions::new()
            .read(true)
            .append(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(io)?,
    };
    let length = file.metadata().map_err(io)?.len();
    let mut text = String::new();
    if length > 0 {
        let mut last = [0u8];
        file.read_exact_at(&mut last, length - 1).map_err(io)?;
        if last[0] != b'\n' {
            text.push('\n');
        }
    }
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    if let Err(e) = (&file).write_all(text.as_bytes()) {
        let _ = file.set_len(length);
        return Err(io(e));
    }
    file.sync_data().map_err(io)
}

/// The name of user `uid` (from the passwd database), or the number if it has none.
#[must_use]
pub fn user_name(uid: u32) -> String {
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain data; getpwuid_r writes only into `pwd` and `buffer` (whose
    // length it is told) and sets `found` to null or to `pwd`.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            uid,
            &raw mut pwd,
            buffer.as_mut_ptr(),
            buffer.len(),
            &raw mut found,
        );
        if rc == 0
            && !found.is_null()
            && !pwd.pw_name.is_null()
            && let Ok(name) = std::ffi::CStr::from_ptr(pwd.pw_name).to_str()
        {
            return name.to_owned();
        }
    }
    uid.to_string()
}

/// The effective user id of this process.
#[must_use]
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether this process (by its effective ids) may write `path`.
#[must_use]
pub fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: c_path is a valid NUL-terminated string that outlives the call.
    unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::W_OK,
            libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW,
        ) == 0
    }
}

/// The owner (uid) and permission bits of `path` itself (a link is not followed).
#[must_use]
pub fn owner_and_mode(path: &Path) -> Option<(u32, u32)> {
    let meta = fs::symlink_metadata(path).ok()?;
    Some((meta.uid(), meta.mode() & 0o7777))
}

/// Run `f` with a private temporary directory (named `prefix` and a random part, in the
/// system's temporary directory) that is registered with [`crate::signals`], so that a
/// signal removes it too (after the files in it), and removed when `f` returns.
///
/// # Errors
/// The directory could not be made.
pub fn with_private_dir<R>(prefix: &str, f: impl FnOnce(&Path) -> R) -> Result<R> {
    let created = crate::signals::create_registered(
        || tempfile::Builder::new().prefix(prefix).tempdir(),
        |dir| dir.path().to_owned(),
    )
    .map_err(|e| Error::io(std::env::temp_dir(), "create a directory in", e))?;
    let dir = created.path().to_owned();
    let result = f(&dir);
    crate::signals::finish_registered(&dir, || drop(created));
    Ok(result)
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    use super::*;

    fn mkfifo(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    }

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    fn mtime(path: &Path) -> SystemTime {
        fs::symlink_metadata(path).unwrap().modified().unwrap()
    }

    fn set_mtime(path: &Path, time: SystemTime) {
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_times(FileTimes::new().set_modified(time))
            .unwrap();
    }

    /// What `read` made of `path`, in words (`Installed` is not `PartialEq`).
    fn kind(read: Result<Installed>) -> String {
        match read.unwrap() {
            Installed::Absent => "absent".into(),
            Installed::File(bytes) => format!("file {}", String::from_utf8_lossy(&bytes)),
            Installed::NotAFile(kind) => kind.to_string(),
        }
    }

    /// A directory with one of each kind of thing a zone path may hold.
    fn zoo() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_owned();
        fs::write(d.join("file"), "zone text").unwrap();
        symlink(d.join("file"), d.join("link")).unwrap();
        symlink(d.join("nothing"), d.join("dangling")).unwrap();
        fs::create_dir(d.join("dir")).unwrap();
        symlink(d.join("dir"), d.join("link-to-dir")).unwrap();
        mkfifo(&d.join("fifo"));
        symlink(d.join("fifo"), d.join("link-to-fifo")).unwrap();
        std::os::unix::net::UnixListener::bind(d.join("socket")).unwrap();
        symlink("/dev/zero", d.join("link-to-zero")).unwrap();
        (dir, d)
    }

    #[test]
    fn read_installed_reads_only_regular_files_and_never_follows_a_link() {
        let (_dir, d) = zoo();
        let cases = [
            ("file", "file zone text"),
            ("absent", "absent"),
            ("link", "a symbolic link"),
            ("dangling", "a symbolic link"),
            ("dir", "a directory"),
            // Must not block waiting for a writer.
            ("fifo", "a FIFO"),
            ("socket", "a socket"),
            ("link-to-zero", "a symbolic link"),
        ];
        for (name, want) in cases {
            assert_eq!(kind(read_installed(&d.join(name))), want, "{name}");
            // What a child wrote (the signer's output) is read the same way.
            let output = read_output(&d.join(name)).map(|o| o.expect("within the cap"));
            assert_eq!(kind(output), want, "{name}");
        }
        assert_eq!(kind(read_installed(Path::new("/dev/zero"))), "a device");
        assert_eq!(kind(read_installed(Path::new("/dev/null"))), "a device");
    }

    #[test]
    fn read_template_follows_a_link_to_a_regular_file_only() {
        let (_dir, d) = zoo();
        let cases = [
            ("file", "file zone text"),
            ("link", "file zone text"),
            ("absent", "absent"),
            ("dangling", "absent"),
            ("link-to-dir", "a directory"),
            ("link-to-fifo", "a FIFO"),
            ("link-to-zero", "a device"),
        ];
        for (name, want) in cases {
            assert_eq!(kind(read_template(&d.join(name))), want, "{name}");
        }
    }

    #[test]
    fn a_read_is_bounded_by_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.zone");
        fs::write(&path, "0123456789abcdef").unwrap();
        let Installed::File(bytes) = read_regular(&path, false, 10).unwrap() else {
            panic!("a regular file");
        };
        assert_eq!(bytes, b"0123456789");
        // An installed zone is read up to 64 MiB (a sparse file costs no disk).
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(INSTALLED_READ_LIMIT + 100)
            .unwrap();
        let Installed::File(bytes) = read_installed(&path).unwrap() else {
            panic!("a regular file");
        };
        assert_eq!(bytes.len() as u64, INSTALLED_READ_LIMIT);
        assert_eq!(&bytes[..16], b"0123456789abcdef");
    }

    #[test]
    fn read_state_file_refuses_links_and_non_files_by_name() {
        let (_dir, d) = zoo();
        assert_eq!(
            read_state_file(&d.join("file")).unwrap().as_deref(),
            Some(&b"zone text"[..])
        );
        assert!(read_state_file(&d.join("absent")).unwrap().is_none());
        let cases = [
            (
                "link",
                "it is a symbolic link; zonerw does not follow links in its state directory",
            ),
            (
                "fifo",
                "it is a FIFO; zonerw keeps only regular files in its state directory",
            ),
            (
                "dir",
                "it is a directory; zonerw keeps only regular files in its state directory",
            ),
        ];
        for (name, why) in cases {
            let e = read_state_file(&d.join(name)).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("cannot read '{}': {why}", d.join(name).display())
            );
            assert_eq!(e.exit_code(), 1);
        }
    }

    #[test]
    fn read_optional_is_none_only_for_a_missing_file() {
        let (_dir, d) = zoo();
        assert_eq!(
            read_optional(&d.join("link")).unwrap().as_deref(),
            Some(&b"zone text"[..])
        );
        assert!(read_optional(&d.join("absent")).unwrap().is_none());
        let e = read_optional(&d.join("dir")).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot read '{}': Is a directory (os error 21)",
                d.join("dir").display()
            )
        );
    }

    #[test]
    fn staged_file_is_a_hidden_0644_temporary_until_installed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("example.com.zone");
        let staged = Staged::new(dir.path(), "example.com.zone", b"new zone\n").unwrap();
        let temp = staged.path().to_owned();
        let name = temp.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".example.com.zone.")
                && Path::new(&name).extension().is_some_and(|e| e == "tmp"),
            "{name}"
        );
        assert_eq!(temp.parent(), Some(dir.path()));
        // NamedTempFile makes 0600; NSD runs as another user and must read the zone.
        assert_eq!(mode(&temp), 0o644);
        assert_eq!(fs::read(&temp).unwrap(), b"new zone\n");
        assert!(!target.exists());
        staged.install(&target).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new zone\n");
        assert_eq!(mode(&target), 0o644);
        assert!(!temp.exists());
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }

    #[test]
    fn a_staged_file_dropped_without_install_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let staged = Staged::write(dir.path(), "a.zone", b"x").unwrap();
        let temp = staged.path().to_owned();
        assert!(temp.is_file());
        drop(staged);
        assert!(!temp.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_failed_install_names_the_target_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.zone");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), "x").unwrap();
        let staged = Staged::new(dir.path(), "a.zone", b"zone").unwrap();
        let temp = staged.path().to_owned();
        let e = staged.install(&target).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot install '{}': Is a directory (os error 21)",
                target.display()
            )
        );
        assert!(!temp.exists());
        assert!(target.join("inside").is_file());
    }

    #[test]
    fn an_install_changes_the_mtime_even_within_one_timestamp_tick() {
        // NSD ignores a reload when the zone file's mtime is unchanged.
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.zone");
        fs::write(&target, "old").unwrap();
        let tick = SystemTime::UNIX_EPOCH + Duration::new(1_795_000_000, 123_456_789);
        set_mtime(&target, tick);
        let staged = Staged::new(dir.path(), "a.zone", b"new").unwrap();
        set_mtime(staged.path(), tick);
        staged.install(&target).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(mtime(&target), tick + Duration::from_millis(1));

        // A new mtime that already differs is left as it is.
        let later = tick + Duration::from_mins(1);
        let staged = Staged::new(dir.path(), "a.zone", b"newer").unwrap();
        set_mtime(staged.path(), later);
        staged.install(&target).unwrap();
        assert_eq!(mtime(&target), later);

        // Nothing replaced: nothing to differ from.
        let fresh = dir.path().join("b.zone");
        let staged = Staged::new(dir.path(), "b.zone", b"b").unwrap();
        set_mtime(staged.path(), tick);
        staged.install(&fresh).unwrap();
        assert_eq!(mtime(&fresh), tick);
    }

    #[test]
    fn ensure_mtime_differs_steps_a_millisecond() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, "x").unwrap();
        let tick = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        set_mtime(&path, tick);
        let file = File::open(&path).unwrap();
        ensure_mtime_differs(&file, tick).unwrap();
        assert_eq!(mtime(&path), tick + Duration::from_millis(1));
        ensure_mtime_differs(&file, tick).unwrap();
        assert_eq!(
            mtime(&path),
            tick + Duration::from_millis(1),
            "differs already"
        );
    }

    #[test]
    fn write_atomically_replaces_a_link_instead_of_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, "precious").unwrap();
        let path = dir.path().join("state.json");
        symlink(&elsewhere, &path).unwrap();
        write_atomically(&path, b"{}\n").unwrap();
        assert!(fs::symlink_metadata(&path).unwrap().file_type().is_file());
        assert_eq!(fs::read(&path).unwrap(), b"{}\n");
        assert_eq!(mode(&path), 0o644);
        assert_eq!(fs::read(&elsewhere).unwrap(), b"precious");
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "no temporary left: {names:?}");
    }

    #[test]
    fn append_lines_keeps_a_torn_last_line_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let lines = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        append_lines(&path, &lines(&["one", "two"])).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        assert_eq!(mode(&path), 0o644);
        append_lines(&path, &lines(&["three"])).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "one\ntwo\nthree\n");
        // A line cut short by a full disk stays a line of its own.
        fs::write(&path, "one\n{\"tor").unwrap();
        append_lines(&path, &lines(&["four"])).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "one\n{\"tor\nfour\n");
        // Nothing to append to an empty file writes nothing.
        let empty = dir.path().join("empty");
        append_lines(&empty, &[]).unwrap();
        assert_eq!(fs::read(&empty).unwrap(), b"");
    }

    #[test]
    fn append_lines_refuses_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let path = dir.path().join("history.jsonl");
        for existing in [false, true] {
            if existing {
                fs::write(&target, "kept\n").unwrap();
            }
            let _ = fs::remove_file(&path);
            symlink(&target, &path).unwrap();
            let e = append_lines(&path, &["x".to_owned()]).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "cannot append to '{}': it is a symbolic link; zonerw does not follow links in its state directory",
                    path.display()
                ),
                "target exists: {existing}"
            );
        }
        assert_eq!(fs::read_to_string(&target).unwrap(), "kept\n");
    }

    #[test]
    fn remove_stale_temporaries_removes_only_zonerw_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let files = [
            (".example.com.zone.Ab12Cd.tmp", false),
            ("..zone.x1y2z3.tmp", false),
            ("example.com.zone", true),
            (".example.com.zone.swp", true),
            (".hidden.tmp", true),
            ("a.b.c.tmp", true),
            (".a.b.c.tmp.bak", true),
        ];
        for (name, _) in files {
            fs::write(d.join(name), "x").unwrap();
        }
        fs::create_dir(d.join(".dir.abc.tmp")).unwrap();
        symlink(d.join("example.com.zone"), d.join(".link.abc.tmp")).unwrap();
        remove_stale_temporaries(d);
        for (name, kept) in files {
            assert_eq!(d.join(name).exists(), kept, "{name}");
        }
        assert!(d.join(".dir.abc.tmp").is_dir());
        assert!(fs::symlink_metadata(d.join(".link.abc.tmp")).is_ok());
        assert!(d.join("example.com.zone").is_file());
        // A leftover named exactly as Staged names them is removed.
        let staged = Staged::write(d, "x.zone", b"x").unwrap();
        let temp = staged.path().to_owned();
        drop(staged);
        fs::write(&temp, "left by a killed run").unwrap();
        remove_stale_temporaries(d);
        assert!(!temp.exists());
        // A missing directory is no error.
        remove_stale_temporaries(&d.join("missing"));
    }

    #[test]
    fn create_state_dir_creates_0755_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("var/lib/zonerw");
        assert!(create_state_dir(&state).unwrap());
        assert!(state.is_dir());
        assert_eq!(mode(&state), STATE_DIR_MODE);
        assert!(!create_state_dir(&state).unwrap());
        // An existing directory's mode is the admin's choice.
        let own = dir.path().join("own");
        fs::DirBuilder::new().mode(0o700).create(&own).unwrap();
        fs::set_permissions(&own, Permissions::from_mode(0o700)).unwrap();
        assert!(!create_state_dir(&own).unwrap());
        assert_eq!(mode(&own), 0o700);
        // A file in the way is an error naming the path.
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        let e = create_state_dir(&file).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot create state directory '{}': File exists (os error 17)",
                file.display()
            )
        );
    }

    #[test]
    fn create_new_state_file_is_exclusive_and_0644() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let file = create_new_state_file(&path, OpenOptions::new().write(true)).unwrap();
        assert!(file.is_some());
        assert_eq!(mode(&path), STATE_FILE_MODE);
        assert!(
            create_new_state_file(&path, OpenOptions::new().write(true))
                .unwrap()
                .is_none()
        );
        // A link, even a dangling one, is "already there", and its target is not created.
        let link = dir.path().join("link");
        symlink(dir.path().join("nowhere"), &link).unwrap();
        assert!(
            create_new_state_file(&link, OpenOptions::new().write(true))
                .unwrap()
                .is_none()
        );
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn explain_link_rewrites_only_eloop() {
        let eloop = explain_link(io::Error::from_raw_os_error(libc::ELOOP));
        assert_eq!(
            eloop.to_string(),
            "it is a symbolic link; zonerw does not follow links in its state directory"
        );
        let other = explain_link(io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(other.raw_os_error(), Some(libc::EACCES));
    }

    #[test]
    fn stamp_is_size_and_mtime_of_a_regular_file_only() {
        let (_dir, d) = zoo();
        let tick = SystemTime::UNIX_EPOCH + Duration::new(1_795_000_000, 5);
        set_mtime(&d.join("file"), tick);
        assert_eq!(
            stamp(&d.join("file")),
            Some(crate::state::FileStamp {
                size: 9,
                mtime_ns: 1_795_000_000_000_000_005,
            })
        );
        for name in ["absent", "link", "dir", "fifo"] {
            assert_eq!(stamp(&d.join(name)), None, "{name}");
        }
    }

    #[test]
    fn owner_mode_and_writability() {
        let (_dir, d) = zoo();
        fs::set_permissions(d.join("file"), Permissions::from_mode(0o640)).unwrap();
        assert_eq!(
            owner_and_mode(&d.join("file")),
            Some((effective_uid(), 0o640))
        );
        // The link itself, not what it points to.
        assert_eq!(
            owner_and_mode(&d.join("link")),
            Some((effective_uid(), 0o777))
        );
        assert_eq!(owner_and_mode(&d.join("absent")), None);
        assert!(writable(&d.join("file")));
        assert!(writable(&d));
        assert!(!writable(&d.join("absent")));
        assert!(!writable(Path::new("bad\0path")));
    }

    #[test]
    fn user_names_from_passwd_or_the_number() {
        assert_eq!(user_name(0), "root");
        // No passwd entry has this uid.
        assert_eq!(user_name(3_999_999_999), "3999999999");
        let status = fs::read_to_string("/proc/self/status").unwrap();
        let euid: u32 = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(effective_uid(), euid);
    }

    #[test]
    fn syncs_name_the_directory_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        sync_dir(dir.path()).unwrap();
        sync_filesystem(dir.path()).unwrap();
        let missing = dir.path().join("missing");
        assert_eq!(
            sync_dir(&missing).unwrap_err().to_string(),
            format!(
                "cannot sync directory '{}': No such file or directory (os error 2)",
                missing.display()
            )
        );
        assert_eq!(
            sync_filesystem(&missing).unwrap_err().to_string(),
            format!(
                "cannot open '{}': No such file or directory (os error 2)",
                missing.display()
            )
        );
    }
}
