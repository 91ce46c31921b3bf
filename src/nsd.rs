//! Calling NSD's tools: argv only (never a shell), each call bounded by `nsd.timeout`.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::config::Nsd;
use crate::error::{Error, Result};
use crate::probe::fmt_duration;

/// What a finished command printed.
#[derive(Debug)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Run `argv` with no stdin, capturing its output, killing its whole process group if it
/// takes longer than `timeout`.
pub fn run_bounded(argv: &[String], timeout: Duration) -> Result<Output> {
    let (program, rest) = argv.split_first().expect("argv is validated non-empty");
    let mut child = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| Error::Spawn {
            program: program.clone(),
            source,
        })?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => thread::sleep(Duration::from_millis(2)),
            Err(e) => {
                return Err(Error::Command {
                    argv: argv.to_vec(),
                    message: format!("could not be waited for: {e}"),
                });
            }
        }
    };
    let Some(status) = status else {
        kill_group(child.id());
        let _ = child.wait();
        return Err(Error::Command {
            argv: argv.to_vec(),
            message: format!(
                "did not finish within {} and was killed",
                fmt_duration(timeout)
            ),
        });
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals the process group we created with
        // process_group(0); it has no memory-safety preconditions.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Check a rendered zone with `nsd-checkzone ZONE FILE`. On failure the message has the
/// checker's error lines with the temporary path replaced by `shown_as` (the template: the
/// rendered text keeps the template's line numbers).
pub fn checkzone(nsd: &Nsd, program: &str, zone: &str, file: &Path, shown_as: &Path) -> Result<()> {
    let argv = vec![
        program.to_owned(),
        zone.to_owned(),
        file.display().to_string(),
    ];
    let out = run_bounded(&argv, nsd.timeout)?;
    if out.status.success() {
        return Ok(());
    }
    let temp = file.display().to_string();
    let shown = shown_as.display().to_string();
    let mut lines: Vec<String> = out
        .stderr
        .lines()
        .chain(out.stdout.lines())
        .map(|l| l.find("error: ").map_or(l, |i| &l[i + 7..]))
        .map(|l| format!("  {}", l.replace(&temp, &shown)))
        .collect();
    lines.dedup();
    Err(Error::Checkzone {
        zone: zone.to_owned(),
        message: lines.join("\n"),
    })
}

/// `nsd-control ... reload ZONE` for one zone, or one plain `reload` for several: NSD
/// reloads every zone whose file changed, and back-to-back per-zone reloads can cut off a
/// secondary's transfer (see NOTES.md, "a fourth trap").
pub fn reload(nsd: &Nsd, zones: &[&str]) -> Result<()> {
    let mut argv = nsd.control.clone();
    argv.push("reload".into());
    if let [zone] = zones {
        argv.push((*zone).to_owned());
    }
    control(nsd, argv)
}

/// Run an nsd-control command and insist on success: exit 0 and no "error" line.
fn control(nsd: &Nsd, argv: Vec<String>) -> Result<()> {
    let out = run_bounded(&argv, nsd.timeout)?;
    let said_error = out.stdout.lines().any(|l| l.starts_with("error"));
    if out.status.success() && !said_error {
        return Ok(());
    }
    let printed = format!("{}\n{}", out.stdout.trim(), out.stderr.trim());
    Err(Error::Command {
        message: format!(
            "failed ({}): {}",
            out.status,
            printed.trim().replace('\n', "; ")
        ),
        argv,
    })
}
