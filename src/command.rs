//! Running external commands: argv only (never a shell), output captured, a hard time bound.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

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
pub fn run_bounded(argv: &[String], env: &[(&str, String)], timeout: Duration) -> Result<Output> {
    let (program, rest) = argv.split_first().expect("argv is validated non-empty");
    let mut child = Command::new(program)
        .args(rest)
        .envs(env.iter().map(|(k, v)| (k, v)))
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
    // Wait on a thread, so the exit is noticed at once (polling would add a millisecond
    // or two to each of a thousand nsd-checkzone calls), with the deadline on the channel.
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(timeout) {
        Ok(Ok(status)) => Some(status),
        Ok(Err(e)) => {
            return Err(Error::Command {
                argv: argv.to_vec(),
                message: format!("could not be waited for: {e}"),
            });
        }
        Err(_) => None,
    };
    let Some(status) = status else {
        kill_group(pid);
        let _ = waiter.join();
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
