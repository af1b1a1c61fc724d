//! Starting a stdio server and making sure it goes away again.
//!
//! We spawn the child ourselves rather than through rmcp's `TokioChildProcess` (feature
//! `transport-child-process`) and hand its pipes to rmcp's line transport
//! (`transport-async-rw`), because we need three things that wrapper keeps to itself:
//! the exit status (for "exited before initialize (exit status 3)"), the stderr pipe (to quote it),
//! and the process group (so `npx`, which starts `node` under a shell, goes away with everything
//! it started). The child leads its own process group; every signal goes to the whole group.
//!
//! Shutdown follows the MCP stdio rules: close the server's stdin and wait, then SIGTERM and
//! wait, then SIGKILL. Dropping without `close` skips the first wait: SIGTERM at once and
//! SIGKILL after [`DROP_KILL_GRACE`], done by a reaper thread so it happens even when the tokio
//! runtime is shutting down.

use std::{
    collections::VecDeque,
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::{
    io::AsyncReadExt,
    process::{Child, ChildStdin, ChildStdout, Command},
};

use crate::{StderrMode, UpstreamError};

/// After stdin is closed, how long a server gets to exit on its own, and after SIGTERM, how long
/// before SIGKILL.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// When an [`crate::Upstream`] is dropped without `close`: from SIGTERM to SIGKILL.
pub(crate) const DROP_KILL_GRACE: Duration = Duration::from_secs(1);
/// How much of a server's stderr is quoted in an error message (its end, where the error is).
const QUOTE_MAX_CHARS: usize = 2000;

/// A running stdio server: the process (group) and what it wrote to stderr.
pub(crate) struct ChildProcess {
    child: Option<Child>,
    pid: Option<u32>,
    exit: Option<ExitStatus>,
    stderr: StderrSink,
    command: String,
}

enum StderrSink {
    Discarded,
    Inherited,
    Captured {
        tail: Arc<Mutex<Tail>>,
        reader: Option<tokio::task::JoinHandle<()>>,
    },
}

/// The last `max` bytes a stream produced.
struct Tail {
    bytes: VecDeque<u8>,
    max: usize,
    dropped: bool,
}

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        let chunk = if chunk.len() > self.max {
            self.dropped = true;
            &chunk[chunk.len() - self.max..]
        } else {
            chunk
        };
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.max);
        if overflow > 0 {
            self.dropped = true;
            self.bytes.drain(..overflow);
        }
        self.bytes.extend(chunk);
    }

    fn text(&self) -> String {
        let (a, b) = self.bytes.as_slices();
        let mut all = Vec::with_capacity(a.len() + b.len());
        all.extend_from_slice(a);
        all.extend_from_slice(b);
        String::from_utf8_lossy(&all).into_owned()
    }
}

/// Spawn `command args…` with piped stdin/stdout, in its own process group.
pub(crate) fn spawn(
    command: &str,
    args: &[String],
    env: &std::collections::BTreeMap<String, String>,
    cwd: Option<&std::path::Path>,
    options: &crate::ConnectOptions,
    label: &str,
) -> Result<(ChildProcess, ChildStdout, ChildStdin), UpstreamError> {
    let stderr = &options.stderr;
    let copy = options.stderr_copy.clone();
    let sandbox = options.sandbox.as_deref();
    if let Some(cwd) = cwd
        && !cwd.is_dir()
    {
        return Err(UpstreamError::WorkingDirectory {
            command: command.to_owned(),
            cwd: cwd.display().to_string(),
            reason: if cwd.exists() {
                "is not a directory".into()
            } else {
                "does not exist".into()
            },
        });
    }
    let launch = match sandbox {
        Some(sandbox) => {
            Some(
                sandbox
                    .launch(command, args)
                    .map_err(|e| UpstreamError::Sandbox {
                        command: command.to_owned(),
                        reason: e.to_string(),
                    })?,
            )
        }
        None => None,
    };
    let mut cmd = match &launch {
        Some(launch) => {
            let mut cmd = Command::new(&launch.program);
            cmd.args(&launch.args);
            cmd
        }
        None => {
            let mut cmd = Command::new(command);
            cmd.args(args);
            cmd
        }
    };
    match (sandbox, launch.and_then(|l| l.pre_exec)) {
        (Some(sandbox), Some(hook)) => {
            cmd.env_clear()
                .envs(sandbox.policy.environment(std::env::vars(), env))
                .current_dir(&sandbox.policy.workdir);
            set_pre_exec(&mut cmd, hook);
        }
        // No sandbox (asked for none, or none available and the report says so).
        _ => {
            cmd.envs(env);
            if let Some(cwd) = cwd {
                cmd.current_dir(cwd);
            }
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(match stderr {
            StderrMode::Discard => Stdio::null(),
            StderrMode::Inherit => Stdio::inherit(),
            StderrMode::Capture(_) => Stdio::piped(),
        })
        // Last resort if everything below is bypassed: tokio sends SIGKILL to the leader.
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);

    let mut child = cmd.spawn().map_err(|e| spawn_error(command, e))?;
    let pid = child.id();
    tracing::debug!(command = label, pid, "started upstream server");
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        // Cannot happen: both were asked for as pipes.
        return Err(UpstreamError::Spawn {
            command: command.to_owned(),
            source: std::io::Error::other("the child's stdin or stdout was not piped"),
        });
    };
    let stderr = match (stderr, child.stderr.take()) {
        (StderrMode::Capture(max), Some(pipe)) => {
            let tail = Arc::new(Mutex::new(Tail {
                bytes: VecDeque::new(),
                max: *max,
                dropped: false,
            }));
            let reader = tokio::spawn(read_stderr(pipe, tail.clone(), copy, label.to_owned()));
            StderrSink::Captured {
                tail,
                reader: Some(reader),
            }
        }
        (StderrMode::Inherit, _) => StderrSink::Inherited,
        _ => StderrSink::Discarded,
    };
    Ok((
        ChildProcess {
            child: Some(child),
            pid,
            exit: None,
            stderr,
            command: label.to_owned(),
        },
        stdout,
        stdin,
    ))
}

#[cfg(unix)]
fn set_pre_exec(cmd: &mut Command, mut hook: bulwark_sandbox::PreExec) {
    // SAFETY: the sandbox's hooks make only system calls (setrlimit, prctl, landlock, seccomp)
    // on state built before the fork, and allocate only to describe a failure.
    unsafe {
        cmd.pre_exec(move || (hook.0)());
    }
}

#[cfg(not(unix))]
fn set_pre_exec(_cmd: &mut Command, _hook: bulwark_sandbox::PreExec) {}

fn spawn_error(command: &str, e: std::io::Error) -> UpstreamError {
    let has_path = command.contains('/');
    match e.kind() {
        std::io::ErrorKind::NotFound if has_path => UpstreamError::CommandNotFound {
            command: command.to_owned(),
            reason: "no such file; check the path".into(),
        },
        std::io::ErrorKind::NotFound => UpstreamError::CommandNotFound {
            command: command.to_owned(),
            reason: "not found on PATH; install it or give its full path".into(),
        },
        std::io::ErrorKind::PermissionDenied => UpstreamError::CommandNotFound {
            command: command.to_owned(),
            reason: "permission denied; is it an executable file?".into(),
        },
        _ => UpstreamError::Spawn {
            command: command.to_owned(),
            source: e,
        },
    }
}

async fn read_stderr(
    mut pipe: tokio::process::ChildStderr,
    tail: Arc<Mutex<Tail>>,
    copy: Option<crate::StderrCopy>,
    label: String,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let chunk = &buf[..n];
                tracing::debug!(
                    target: "bulwark_upstream::stderr",
                    server = %label,
                    "{}",
                    String::from_utf8_lossy(chunk).trim_end()
                );
                if let Some(copy) = &copy {
                    (copy.0)(chunk);
                }
                tail.lock().unwrap_or_else(|p| p.into_inner()).push(chunk);
            }
        }
    }
}

impl ChildProcess {
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// The exit status, if the server has exited (it is reaped then).
    pub(crate) fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none()
            && let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            self.exited(status);
        }
        self.exit
    }

    /// Record the leader's exit and, at that moment, SIGTERM whatever is left of its group
    /// (later the group id could in principle belong to someone else).
    fn exited(&mut self, status: ExitStatus) {
        self.exit = Some(status);
        self.signal_group(Signal::Term);
    }

    /// Wait up to `limit` for the server to exit.
    pub(crate) async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.try_exit() {
            return Some(status);
        }
        let child = self.child.as_mut()?;
        if let Ok(Ok(status)) = tokio::time::timeout(limit, child.wait()).await {
            self.exited(status);
        }
        self.exit
    }

    /// Let the stderr reader catch up with a server that has exited (bounded: a grandchild can
    /// hold the pipe open).
    pub(crate) async fn drain_stderr(&mut self, limit: Duration) {
        if let StderrSink::Captured { reader, .. } = &mut self.stderr
            && let Some(handle) = reader.as_mut()
            && tokio::time::timeout(limit, handle).await.is_ok()
        {
            *reader = None;
        }
    }

    /// What the server wrote to stderr so far, as a phrase for an error message:
    /// "its stderr said: …", "it wrote nothing to stderr", ….
    pub(crate) fn stderr_phrase(&self) -> String {
        match &self.stderr {
            StderrSink::Discarded => "its stderr was discarded".into(),
            StderrSink::Inherited => "see its stderr above".into(),
            StderrSink::Captured { tail, .. } => {
                let tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                let text = tail.text();
                let text = text.trim();
                if text.is_empty() {
                    return "it wrote nothing to stderr".into();
                }
                let count = text.chars().count();
                if count > QUOTE_MAX_CHARS || tail.dropped {
                    let start = text
                        .char_indices()
                        .nth(count.saturating_sub(QUOTE_MAX_CHARS))
                        .map_or(0, |(i, _)| i);
                    format!("its stderr ended with: …{}", &text[start..])
                } else {
                    format!("its stderr said: {text}")
                }
            }
        }
    }

    /// Everything captured from stderr so far (empty unless [`StderrMode::Capture`]).
    pub(crate) fn stderr_text(&self) -> String {
        match &self.stderr {
            StderrSink::Captured { tail, .. } => {
                tail.lock().unwrap_or_else(|p| p.into_inner()).text()
            }
            _ => String::new(),
        }
    }

    /// Graceful end, once the caller has closed the server's stdin: wait, SIGTERM, wait, SIGKILL.
    /// Returns how the leader exited.
    pub(crate) async fn shutdown(&mut self) -> Option<ExitStatus> {
        if self.wait_exit(CLOSE_GRACE).await.is_none() {
            tracing::debug!(server = %self.command, "did not exit when its stdin closed; SIGTERM");
            self.signal_group(Signal::Term);
            if self.wait_exit(CLOSE_GRACE).await.is_none() {
                tracing::warn!(server = %self.command, "ignored SIGTERM; SIGKILL");
                self.signal_group(Signal::Kill);
                self.wait_exit(CLOSE_GRACE).await;
            }
        }
        self.child = None;
        self.exit
    }

    fn signal_group(&self, signal: Signal) {
        if let Some(pid) = self.pid {
            signal_group(pid, signal);
        }
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

#[cfg(unix)]
fn signal_group(pid: u32, signal: Signal) {
    let sig = match signal {
        Signal::Term => libc::SIGTERM,
        Signal::Kill => libc::SIGKILL,
    };
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
    // ESRCH (the group is already empty) is the common, harmless failure.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

#[cfg(not(unix))]
fn signal_group(_pid: u32, _signal: Signal) {}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = self.pid;
        if self.exit.is_some() {
            // Reaped earlier, and its group signalled then.
            return;
        }
        if matches!(child.try_wait(), Ok(Some(_))) {
            if let Some(pid) = pid {
                signal_group(pid, Signal::Term);
            }
            return;
        }
        match pid {
            Some(pid) => signal_group(pid, Signal::Term),
            None => {
                let _ = child.start_kill();
            }
        }
        // Reap on a plain thread: it needs no runtime, so it also runs while one shuts down.
        let command = self.command.clone();
        let spawned = std::thread::Builder::new()
            .name("bulwark-upstream-reaper".into())
            .spawn(move || reap(child, pid, &command));
        if let Err(e) = spawned {
            tracing::warn!("could not start a reaper thread ({e}); the server gets SIGKILL now");
        }
    }
}

/// Wait for a SIGTERMed server; SIGKILL it (and its group) after [`DROP_KILL_GRACE`].
fn reap(mut child: Child, pid: Option<u32>, command: &str) {
    let poll = Duration::from_millis(10);
    let deadline = Instant::now() + DROP_KILL_GRACE;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
            if let Some(pid) = pid {
                signal_group(pid, Signal::Term);
            }
            return;
        }
        std::thread::sleep(poll);
    }
    tracing::warn!(server = %command, "ignored SIGTERM; SIGKILL");
    match pid {
        Some(pid) => signal_group(pid, Signal::Kill),
        None => {
            let _ = child.start_kill();
        }
    }
    let deadline = Instant::now() + DROP_KILL_GRACE;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
            return;
        }
        std::thread::sleep(poll);
    }
    // Dropping `child` now hands it to tokio's orphan reaper.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end() {
        let mut t = Tail {
            bytes: VecDeque::new(),
            max: 5,
            dropped: false,
        };
        t.push(b"abc");
        assert_eq!(t.text(), "abc");
        assert!(!t.dropped);
        t.push(b"defg");
        assert_eq!(t.text(), "cdefg");
        assert!(t.dropped);
        t.push(b"0123456789");
        assert_eq!(t.text(), "56789");
    }
}
