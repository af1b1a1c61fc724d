use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bulwark_core::Severity;
use tokio::sync::oneshot;

use crate::canonical::{GENESIS, parse_line, sha256_hex};
use crate::error::AuditError;
use crate::event::{AuditEvent, Encoded, args_digest};

/// When the writer fsyncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// Before acknowledging any record. Concurrent records share one fsync.
    Always,
    /// Acknowledge once the line is written (it survives a crash of this
    /// process, not of the machine) and fsync at most this often.
    Interval(Duration),
}

/// How to open an [`AuditLog`].
#[derive(Clone)]
pub struct AuditOptions {
    pub path: PathBuf,
    pub fsync: Fsync,
    /// Events below this severity are dropped without being written.
    pub min_severity: Severity,
    /// Also print each record to stderr as `AUDIT: {json}` (LimaCharlie style).
    pub stderr_lines: bool,
    /// Keep `args` in the log. When false only `args_sha256` is kept, since
    /// arguments may carry secrets or personal data.
    pub include_params: bool,
    /// Also hand every written line to this sink (a queryable copy, such as
    /// the store's). The file stays the record of truth.
    pub sink: Option<Arc<dyn AuditSink>>,
    /// With [`Fsync::Interval`], how long a record below HIGH severity may wait
    /// in memory before it is written, so that a burst of calls shares one
    /// write(2). HIGH and CRITICAL records are always written before they are
    /// acknowledged (and carry any waiting records with them, in order). The
    /// price: a `kill -9` can lose up to this much of the lower records.
    /// Zero writes every record before acknowledging it.
    pub buffer: Duration,
}

impl fmt::Debug for AuditOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditOptions")
            .field("path", &self.path)
            .field("fsync", &self.fsync)
            .field("min_severity", &self.min_severity)
            .field("stderr_lines", &self.stderr_lines)
            .field("include_params", &self.include_params)
            .field("sink", &self.sink.is_some())
            .field("buffer", &self.buffer)
            .finish()
    }
}

/// A second destination for sealed records. `accept` runs under the
/// writer's lock, once per written batch, so it must only queue the lines
/// (for another thread to store); it cannot fail the records, which are
/// already in the file.
pub trait AuditSink: Send + Sync + 'static {
    fn accept(&self, lines: &[&str]);
}

impl AuditOptions {
    /// Safe defaults: fsync every record, keep every severity, no stderr copy,
    /// arguments digested but not stored, nothing held back in memory.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        AuditOptions {
            path: path.into(),
            fsync: Fsync::Always,
            min_severity: Severity::Low,
            stderr_lines: false,
            include_params: false,
            sink: None,
            buffer: Duration::ZERO,
        }
    }
}

type Ack = oneshot::Sender<Result<(), AuditError>>;

enum Command {
    Record(Box<Encoded>, Ack),
    Flush(Ack),
    /// Records are waiting in the buffer: write them after the buffer delay.
    Wake,
}

/// Pending lines reaching this size are written at once, whatever the delay.
const BUFFER_LIMIT: usize = 64 * 1024;

/// An open audit log. Clones share one writer; cloning is cheap.
///
/// When the last clone is dropped the writer fsyncs what it has written and
/// closes the file; that drop waits for the writer, so it may block for one fsync.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    min_severity: Severity,
    include_params: bool,
    /// The chain state and the file, shared by the writer thread and, with
    /// interval fsync, by callers that append directly.
    state: Arc<Mutex<Writer>>,
    /// With interval fsync a record is sealed by its caller under the lock: a
    /// write(2) (or none, when it may wait in the buffer) costs less than two
    /// thread hand-offs. The thread then writes the buffer, fsyncs on schedule
    /// and serves `flush`.
    direct: bool,
    /// How long records below HIGH may wait in the buffer (direct mode only).
    buffer: Duration,
    // Options so `Drop` can close the channel before joining the writer.
    tx: Option<mpsc::Sender<Command>>,
    writer: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets the writer drain what is queued, fsync and
        // exit; joining releases the file lock before a reopen can try to take it.
        drop(self.tx.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.inner.path)
            .field("min_severity", &self.inner.min_severity)
            .field("include_params", &self.inner.include_params)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens (or creates, mode 0600) the log and continues its chain.
    ///
    /// A partial last line left by a crash mid-write is cut away with a
    /// warning: that record was never acknowledged. The file is locked so a
    /// second writer cannot fork the chain.
    pub fn open(options: AuditOptions) -> Result<AuditLog, AuditError> {
        let path = options.path.clone();
        let open_err = |e: io::Error| AuditError::Open {
            path: path.clone(),
            source: Arc::new(e),
        };
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(parent) = parent {
            create_dirs(parent).map_err(open_err)?;
        }
        let (mut file, created) = open_file(&path).map_err(open_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(AuditError::Locked { path }),
            Err(TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => {
                tracing::warn!(path = %path.display(), "this platform cannot lock the audit log; make sure only one process writes it");
            }
            Err(TryLockError::Error(e)) => return Err(open_err(e)),
        }
        if created {
            // The new directory entry must be durable too, or a crash could
            // lose the whole file along with its acknowledged records.
            sync_dir(parent.unwrap_or(Path::new(".")));
        }
        let tail = read_tail(&mut file, &path)?;

        let (tx, rx) = mpsc::channel();
        let direct = matches!(options.fsync, Fsync::Interval(_));
        let writer = Writer {
            file,
            path: path.clone(),
            len: tail.len,
            next_seq: tail.next_seq,
            written_seq: tail.next_seq,
            written_prev: tail.prev.clone(),
            prev: tail.prev,
            pending: String::new(),
            wake_sent: false,
            fsync: options.fsync,
            stderr_lines: options.stderr_lines,
            sink: options.sink.clone(),
            dirty: tail.dirty,
            last_sync: Instant::now(),
            poisoned: false,
        };
        let state = Arc::new(Mutex::new(writer));
        let thread_state = state.clone();
        let buffer = if direct {
            options.buffer
        } else {
            Duration::ZERO
        };
        let handle = std::thread::Builder::new()
            .name("bulwark-audit".into())
            .spawn(move || Writer::run(&thread_state, rx, buffer))
            .map_err(open_err)?;

        Ok(AuditLog {
            inner: Arc::new(Inner {
                path,
                min_severity: options.min_severity,
                include_params: options.include_params,
                state,
                direct,
                buffer,
                tx: Some(tx),
                writer: Some(handle),
            }),
        })
    }

    /// Whether records keep raw arguments (`include_params`); when not,
    /// callers need only hand over a digest.
    pub fn keeps_args(&self) -> bool {
        self.inner.include_params
    }

    /// The file this log writes.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Appends `event` to the chain.
    ///
    /// Events below `min_severity` are dropped (and `Ok`). If the event has
    /// `args` but no `args_sha256`, the digest is filled in before `args` is
    /// stripped (unless `include_params`). Returns once the line is written,
    /// and with [`Fsync::Always`] once it is fsynced; with a non-zero
    /// [`AuditOptions::buffer`], a record below HIGH may return while it
    /// still waits in memory to be written.
    pub async fn record(&self, mut event: AuditEvent) -> Result<(), AuditError> {
        if event.severity < self.inner.min_severity {
            return Ok(());
        }
        if let (Some(args), None) = (&event.args, &event.args_sha256) {
            event.args_sha256 = Some(args_digest(args));
        }
        if !self.inner.include_params {
            event.args = None;
        }
        // The costly part, the JSON, is built before taking the lock.
        let encoded = Encoded::new(&event);
        if self.inner.direct {
            let may_wait = !self.inner.buffer.is_zero() && event.severity < Severity::High;
            let wake = self
                .inner
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .append(&encoded, may_wait)?;
            if wake {
                self.send(Command::Wake)?;
            }
            return Ok(());
        }
        let (ack, done) = oneshot::channel();
        self.send(Command::Record(Box::new(encoded), ack))?;
        done.await.map_err(|_| self.gone())?
    }

    /// Fsyncs everything written so far.
    pub async fn flush(&self) -> Result<(), AuditError> {
        let (ack, done) = oneshot::channel();
        self.send(Command::Flush(ack))?;
        done.await.map_err(|_| self.gone())?
    }

    fn send(&self, command: Command) -> Result<(), AuditError> {
        self.inner
            .tx
            .as_ref()
            .ok_or_else(|| self.gone())?
            .send(command)
            .map_err(|_| self.gone())
    }

    fn gone(&self) -> AuditError {
        AuditError::WriterGone {
            path: self.inner.path.clone(),
        }
    }
}

#[cfg(unix)]
fn create_dirs(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    // Only directories created here get 0700; existing ones are left alone.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_dirs(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Opens for reading (to find the tail) and appending. Returns whether the file is new.
fn open_file(path: &Path) -> io::Result<(File, bool)> {
    let mut new = OpenOptions::new();
    new.read(true).append(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut new, 0o600);
    match new.open(path) {
        Ok(file) => Ok((file, true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let file = OpenOptions::new().read(true).append(true).open(path)?;
            Ok((file, false))
        }
        Err(e) => Err(e),
    }
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not fsync the audit log's directory; a crash soon after creating the log could lose it");
    }
    #[cfg(not(unix))]
    let _ = dir;
}

struct Tail {
    len: u64,
    next_seq: u64,
    prev: String,
    dirty: bool,
}

/// Finds where the chain left off, cutting away a torn last line first.
fn read_tail(file: &mut File, path: &Path) -> Result<Tail, AuditError> {
    let io_err = |e: io::Error| AuditError::Open {
        path: path.to_path_buf(),
        source: Arc::new(e),
    };
    let len = file.metadata().map_err(io_err)?.len();
    let last_newline = rfind_newline(file, len).map_err(io_err)?;
    let complete = last_newline.map_or(0, |p| p + 1);
    let mut dirty = false;
    if complete < len {
        // A crash mid-write leaves a line without its '\n'. That record was
        // never acknowledged (acks wait for the whole line), so dropping it
        // loses nothing a caller was promised.
        file.set_len(complete).map_err(io_err)?;
        dirty = true;
        tracing::warn!(
            path = %path.display(),
            bytes = len - complete,
            "audit log ended in a partial record (the writer was interrupted mid-write); removed it: it was never acknowledged"
        );
    }
    let Some(end) = last_newline else {
        return Ok(Tail {
            len: complete,
            next_seq: 1,
            prev: GENESIS.to_string(),
            dirty,
        });
    };
    let start = rfind_newline(file, end)
        .map_err(io_err)?
        .map_or(0, |p| p + 1);
    let mut line = vec![0; usize::try_from(end - start).map_err(|e| io_err(io::Error::other(e)))?];
    file.seek(SeekFrom::Start(start)).map_err(io_err)?;
    file.read_exact(&mut line).map_err(io_err)?;

    let bad_tail = |reason: String| AuditError::BadTail {
        path: path.to_path_buf(),
        reason,
    };
    let record = parse_line(&line).map_err(|r| bad_tail(format!("is not a record ({r})")))?;
    if !record.intact {
        return Err(bad_tail(format!(
            "(record {}) does not match its hash: it was altered",
            record.seq
        )));
    }
    Ok(Tail {
        len: complete,
        next_seq: record.seq + 1,
        prev: record.hash,
        dirty,
    })
}

/// Offset of the last `\n` before `end`, reading backwards in chunks so a
/// large log is not read whole.
fn rfind_newline(file: &mut File, end: u64) -> io::Result<Option<u64>> {
    const CHUNK: u64 = 64 * 1024;
    let mut buf = vec![0u8; CHUNK as usize];
    let mut hi = end;
    while hi > 0 {
        let lo = hi.saturating_sub(CHUNK);
        let chunk = &mut buf[..(hi - lo) as usize];
        file.seek(SeekFrom::Start(lo))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(lo + i as u64));
        }
        hi = lo;
    }
    Ok(None)
}

/// Owns the file and the chain state; runs on its own thread so the order
/// records are sealed in is the order they are written in.
struct Writer {
    file: File,
    path: PathBuf,
    /// Length of the file up to the last complete record, to roll back a failed write.
    len: u64,
    /// The chain's head, counting records still in `pending`.
    next_seq: u64,
    prev: String,
    /// The chain's head as written to the file, to roll back a failed write.
    written_seq: u64,
    written_prev: String,
    /// Sealed lines not yet written, in chain order.
    pending: String,
    /// A `Wake` is on its way to the thread for what is in `pending`.
    wake_sent: bool,
    fsync: Fsync,
    stderr_lines: bool,
    sink: Option<Arc<dyn AuditSink>>,
    /// Written but not yet fsynced.
    dirty: bool,
    last_sync: Instant,
    /// Set after an I/O failure that leaves the file's state uncertain; a
    /// retried fsync can report success for data that was lost.
    poisoned: bool,
}

impl Writer {
    fn run(state: &Mutex<Writer>, rx: mpsc::Receiver<Command>, buffer: Duration) {
        let lock = || state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            // With interval fsync, records may arrive directly (not through the
            // channel), so wake at every interval to see whether a sync is due.
            let wait = match lock().fsync {
                Fsync::Interval(every) => Some(every),
                Fsync::Always => None,
            };
            let first = match wait {
                None => rx.recv().ok(),
                Some(wait) => match rx.recv_timeout(wait) {
                    Ok(command) => Some(command),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        let mut writer = lock();
                        if writer.sync_due_in() == Some(Duration::ZERO) {
                            writer.background_sync();
                        }
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => None,
                },
            };
            let Some(first) = first else { break };
            let mut batch = vec![first];
            if matches!(batch[0], Command::Wake) {
                // Let the burst that woke us gather, then write it in one go;
                // a flush, a record that must not wait, or closing cuts it short.
                let deadline = Instant::now() + buffer;
                while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                    match rx.recv_timeout(left) {
                        Ok(command) => {
                            let urgent = !matches!(command, Command::Wake);
                            batch.push(command);
                            if urgent {
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
            }
            // Group commit: everything queued meanwhile shares this write and fsync.
            batch.extend(rx.try_iter());
            lock().commit(batch, true);
        }
        // Every handle is gone: write what waits and make it durable before closing.
        let mut writer = lock();
        if let Err(e) = writer.write_pending() {
            tracing::error!(path = %writer.path.display(), error = %e, "could not write the last audit records while closing the log");
        }
        writer.background_sync();
    }

    /// With interval fsync and unsynced data, how long until the fsync is due.
    fn sync_due_in(&self) -> Option<Duration> {
        match self.fsync {
            Fsync::Interval(every) if self.dirty && !self.poisoned => {
                Some(every.saturating_sub(self.last_sync.elapsed()))
            }
            _ => None,
        }
    }

    fn background_sync(&mut self) {
        if self.dirty
            && !self.poisoned
            && let Err(e) = self.sync()
        {
            tracing::error!(path = %self.path.display(), error = %e, "could not fsync the audit log; it takes no more events until restarted");
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        match self.file.sync_data() {
            Ok(()) => {
                self.dirty = false;
                self.last_sync = Instant::now();
                Ok(())
            }
            Err(e) => {
                self.poisoned = true;
                Err(e)
            }
        }
    }

    /// Seals one record onto `pending` from the calling task (interval fsync).
    /// Unless it `may_wait`, the buffer is written before returning. Returns
    /// whether the caller must send the thread a `Wake` for what now waits.
    fn append(&mut self, record: &Encoded, may_wait: bool) -> Result<bool, AuditError> {
        if self.poisoned {
            return Err(AuditError::Poisoned {
                path: self.path.clone(),
            });
        }
        self.seal_next(record);
        if may_wait && self.pending.len() < BUFFER_LIMIT {
            let wake = !self.wake_sent;
            self.wake_sent = true;
            return Ok(wake);
        }
        self.write_pending().map_err(|source| AuditError::Write {
            path: self.path.clone(),
            source: Arc::new(source),
        })?;
        Ok(false)
    }

    /// Writes a batch from the channel and acknowledges it. `may_sync`: whether
    /// this call may fsync on the interval schedule.
    fn commit(&mut self, batch: Vec<Command>, may_sync: bool) {
        if self.poisoned {
            for command in batch {
                if let Command::Record(_, ack) | Command::Flush(ack) = command {
                    let _ = ack.send(Err(AuditError::Poisoned {
                        path: self.path.clone(),
                    }));
                }
            }
            return;
        }

        let mut acks = Vec::with_capacity(batch.len());
        let mut want_sync = self.fsync == Fsync::Always;
        for command in batch {
            match command {
                Command::Record(record, ack) => {
                    self.seal_next(&record);
                    acks.push(ack);
                }
                Command::Flush(ack) => {
                    want_sync = true;
                    acks.push(ack);
                }
                Command::Wake => self.wake_sent = false,
            }
        }

        if let Err(e) = self.write_pending() {
            let source = Arc::new(e);
            for ack in acks {
                let _ = ack.send(Err(AuditError::Write {
                    path: self.path.clone(),
                    source: source.clone(),
                }));
            }
            return;
        }

        if let Fsync::Interval(every) = self.fsync {
            want_sync |= may_sync && self.last_sync.elapsed() >= every;
        }
        if want_sync
            && self.dirty
            && let Err(e) = self.sync()
        {
            let source = Arc::new(e);
            for ack in acks {
                let _ = ack.send(Err(AuditError::Sync {
                    path: self.path.clone(),
                    source: source.clone(),
                }));
            }
            return;
        }
        for ack in acks {
            let _ = ack.send(Ok(()));
        }
    }

    /// Writes `pending` to the file and hands its lines to the other sinks.
    /// On failure the chain goes back to what the file holds; records that
    /// were waiting in the buffer are lost, and the error says how many.
    fn write_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.file.write_all(self.pending.as_bytes()) {
            let lost = self.next_seq - self.written_seq;
            self.roll_back();
            self.pending.clear();
            return Err(io::Error::new(
                e.kind(),
                format!("{e} ({lost} records were not written)"),
            ));
        }
        self.len += self.pending.len() as u64;
        self.dirty = true;
        self.written_seq = self.next_seq;
        self.written_prev.clone_from(&self.prev);
        if self.stderr_lines {
            let mut stderr = io::stderr().lock();
            for line in self.pending.lines() {
                let _ = writeln!(stderr, "AUDIT: {line}");
            }
        }
        if let Some(sink) = &self.sink {
            sink.accept(&self.pending.lines().collect::<Vec<_>>());
        }
        self.pending.clear();
        Ok(())
    }

    /// Adds `seq` and `prev`, seals the record onto `pending` and advances the chain.
    fn seal_next(&mut self, record: &Encoded) {
        let start = self.pending.len();
        record.canonical_at(self.next_seq, &self.prev, &mut self.pending);
        let hash = sha256_hex(&self.pending.as_bytes()[start..]);
        // Splice the hash in as the last member, before the closing brace.
        self.pending.pop();
        self.pending.push_str(",\"hash\":\"");
        self.pending.push_str(&hash);
        self.pending.push_str("\"}\n");
        self.next_seq += 1;
        self.prev = hash;
    }

    /// Undoes a failed write: the chain state goes back to what the file
    /// holds, and any bytes that did reach it are cut so the next record does
    /// not follow a torn line.
    fn roll_back(&mut self) {
        self.next_seq = self.written_seq;
        self.prev.clone_from(&self.written_prev);
        self.dirty = true;
        if let Err(e) = self.file.set_len(self.len) {
            self.poisoned = true;
            tracing::error!(path = %self.path.display(), error = %e, "could not remove a partly written audit record; the log takes no more events until restarted");
        }
    }
}
