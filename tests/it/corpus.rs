//! NSD's own test zones, passed through the `zonerw` binary end to end.
//!
//! Every file of `tests/fixtures/nsd-tpkg` (121 zone files from NSD's `tpkg/` tests, which
//! `nsd-checkzone` accepts under the origin `INDEX` gives) becomes the only template of a
//! fresh setup: `templates/<ORIGIN>.zone`, with its SOA serial field replaced by `@serial@`,
//! an empty `zones/`, a config with no pools, a stub `nsd-control` and the real
//! `nsd-checkzone`. One run must check each of them, install it byte for byte apart from the
//! serial and reload it, and a second run must do nothing.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::{NAME_MAX, STUB_NSD_CONTROL, check_corpus, corpus_dir, corpus_index};

/// Bound on one `zonerw` run, so a hang fails the test instead of stalling it.
const RUN_TIMEOUT: Duration = Duration::from_mins(1);

/// The template (and installed zone) file name for `origin`: `<origin>.zone`, `..zone` for
/// the root zone.
fn zone_file_name(origin: &str) -> String {
    format!("{origin}.zone")
}

/// A TOML basic string holding `path`.
fn toml_string(path: &Path) -> String {
    let text = path.to_str().expect("temporary paths are UTF-8");
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One setup: a temporary directory laid out as the module docs say.
struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn new(template_name: &str, template: &[u8]) -> Setup {
        let dir = tempfile::tempdir().expect("create temporary directory");
        let root = dir.path();
        for sub in ["templates", "zones", "state"] {
            fs::create_dir(root.join(sub)).expect("create setup directory");
        }
        fs::write(root.join("templates").join(template_name), template).expect("write template");
        let stub = root.join("nsd-control-stub");
        fs::write(&stub, STUB_NSD_CONTROL).expect("write nsd-control stub");
        fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).expect("chmod stub");
        let config = root.join("zonerw.toml");
        let text = format!(
            "templates = {}\nzones = {}\nstate = {}\n\n[serial]\nscheme = \"counter\"\n\n\
             [nsd]\ncontrol = [{}]\ncheckzone = \"nsd-checkzone\"\ntimeout = \"10s\"\n",
            toml_string(&root.join("templates")),
            toml_string(&root.join("zones")),
            toml_string(&root.join("state")),
            toml_string(&stub),
        );
        fs::write(&config, text).expect("write config");
        Setup { dir, config }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Runs `zonerw -c <config>`; returns its exit status (None: killed after the timeout),
    /// stdout and stderr.
    fn run(&self, name: &str) -> (Option<ExitStatus>, String, String) {
        let (out, err) = (
            self.path(&format!("{name}.out")),
            self.path(&format!("{name}.err")),
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_zonerw"))
            .arg("-c")
            .arg(&self.config)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).expect("create stdout file"))
            .stderr(fs::File::create(&err).expect("create stderr file"))
            .spawn()
            .expect("spawn zonerw");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for zonerw") {
                break Some(status);
            }
            if started.elapsed() > RUN_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let read = |path: &Path| fs::read_to_string(path).unwrap_or_default();
        (status, read(&out), read(&err))
    }

    fn nsd_control_log(&self) -> String {
        fs::read_to_string(self.path("nsd-control.log")).unwrap_or_default()
    }
}

/// The corpus file with its SOA serial field replaced by `@serial@`.
fn as_template(text: &str) -> Result<String, String> {
    let span = zonerw::zonefile::soa_serial_span(text)
        .ok_or("no SOA serial field in ordinary (non-generic) form")?;
    Ok(format!(
        "{}@serial@{}",
        &text[..span.start],
        &text[span.end..]
    ))
}

/// The serial of the `<zone>: serial none -> N, reloaded` line.
fn new_serial(stdout: &str) -> Option<u32> {
    let rest = stdout
        .lines()
        .find_map(|l| l.split_once(": serial none -> "))?
        .1;
    rest.strip_suffix(", reloaded")?.parse().ok()
}

/// Checks one corpus file end to end; returns what went wrong, if anything.
fn check(file: &str, origin: &str) -> Result<(), String> {
    let bytes = fs::read(corpus_dir().join(file)).map_err(|e| format!("cannot read: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let template = as_template(&text)?;
    let name = zone_file_name(origin);
    let setup = Setup::new(&name, template.as_bytes());
    let (status, stdout, stderr) = setup.run("first");
    if !status.is_some_and(|s| s.success()) {
        return Err(format!(
            "first run: {status:?}, stdout {stdout:?}, stderr {stderr:?}"
        ));
    }
    let serial = new_serial(&stdout).ok_or_else(|| format!("no zone line in {stdout:?}"))?;
    // Exactly one line, naming the zone (the root zone is ".").
    let zone = if origin.is_empty() { "." } else { origin };
    let want = format!("{zone}: serial none -> {serial}, reloaded\n");
    if stdout != want || !stderr.is_empty() {
        return Err(format!(
            "first run printed stdout {stdout:?}, stderr {stderr:?}; want stdout {want:?}"
        ));
    }
    let bytes = template
        .replacen("@serial@", &serial.to_string(), 1)
        .into_bytes();
    check_installed(&setup, &name, &bytes)?;
    let log = setup.nsd_control_log();
    if !log
        .lines()
        .any(|line| line.split_whitespace().next() == Some("reload"))
    {
        return Err(format!(
            "nsd-control was never asked to reload; its argv log: {log:?}"
        ));
    }
    // README.md: nothing changed, so no file is written, NSD is not called, nothing printed.
    let (status, stdout, stderr) = setup.run("second");
    if !status.is_some_and(|s| s.success()) || !stdout.is_empty() || !stderr.is_empty() {
        return Err(format!(
            "second run not quiet: {status:?}, stdout {stdout:?}, stderr {stderr:?}"
        ));
    }
    if setup.nsd_control_log() != log {
        return Err(format!(
            "second run called nsd-control: {:?}",
            setup.nsd_control_log()
        ));
    }
    check_installed(&setup, &name, &bytes)
}

/// Checks that `zones/<name>` holds exactly `bytes`, with mode 0644.
fn check_installed(setup: &Setup, name: &str, bytes: &[u8]) -> Result<(), String> {
    let path = setup.path("zones").join(name);
    let installed = fs::read(&path).map_err(|e| format!("zones/{name} not installed: {e}"))?;
    if installed != bytes {
        let (got, want) = (installed.len(), bytes.len());
        return Err(format!(
            "zones/{name} differs from the template ({got} vs {want} bytes)"
        ));
    }
    let mode = fs::metadata(&path).map_or(0, |m| m.permissions().mode()) & 0o777;
    if mode != 0o644 {
        return Err(format!("zones/{name} has mode {mode:o}, not 644"));
    }
    Ok(())
}

#[test]
fn nsd_corpus_is_installed_byte_for_byte() {
    let all = corpus_index();
    assert_eq!(all.len(), 121, "INDEX lists the 121 corpus files");
    // A zone name of 251 characters (ixfr_superlong) makes a template name that no file
    // system takes, so that zone cannot be given to zonerw at all.
    let (unnamable, cases): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|(_, origin)| zone_file_name(origin).len() > NAME_MAX);
    assert_eq!(
        unnamable
            .iter()
            .map(|(file, _)| file.as_str())
            .collect::<Vec<_>>(),
        ["ixfr_superlong.tdir_ixfr_superlong.zone"]
    );
    check_corpus(&cases, check);
}
