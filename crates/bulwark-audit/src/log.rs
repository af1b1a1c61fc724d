use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
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
    shared: Arc<Shared>,
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
        let sync_handle = Arc::new(file.try_clone().map_err(open_err)?);
        let shared = Arc::new(Shared {
            path: path.clone(),
            fsync: options.fsync,
            chain: Mutex::new(Chain {
                next_seq: tail.next_seq,
                prev: tail.prev.clone(),
                pending: String::new(),
                wake_sent: false,
                epoch: 0,
            }),
            file: Mutex::new(FileState {
                file,
                sync_handle,
                len: tail.len,
                written_seq: tail.next_seq,
                written_prev: tail.prev,
                changes: 0,
                dirty: tail.dirty,
                last_sync: Instant::now(),
                stderr_lines: options.stderr_lines,
                sink: options.sink.clone(),
                spare: String::new(),
            }),
            poisoned: AtomicBool::new(false),
        });
        let thread_shared = shared.clone();
        let buffer = if direct {
            options.buffer
        } else {
            Duration::ZERO
        };
        let handle = std::thread::Builder::new()
            .name("bulwark-audit".into())
            .spawn(move || thread_shared.run(rx, buffer))
            .map_err(open_err)?;

        Ok(AuditLog {
            inner: Arc::new(Inner {
                path,
                min_severity: options.min_severity,
                include_params: options.include_params,
                shared,
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
            let wake = self.inner.shared.append(&encoded, may_wait)?;
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

/// The chain and the file, shared by the writer thread and (with interval
/// fsync) by the callers that append directly.
///
/// Two locks, so that a caller sealing a record never waits for disk I/O:
/// `chain` is held only to seal a record or to take the pending lines, and
/// `file` only to write them. No lock is held across an fsync. Lock order:
/// `file`, then `chain`.
struct Shared {
    path: PathBuf,
    fsync: Fsync,
    chain: Mutex<Chain>,
    file: Mutex<FileState>,
    /// Set after an I/O failure that leaves the file's state uncertain; a
    /// retried fsync can report success for data that was lost.
    poisoned: AtomicBool,
}

struct Chain {
    /// The chain's head, counting records still in `pending`.
    next_seq: u64,
    prev: String,
    /// Sealed lines not yet written, in chain order.
    pending: String,
    /// A `Wake` is on its way to the thread for what is in `pending`.
    wake_sent: bool,
    /// Bumped whenever a failed write throws sealed records away, so that a
    /// caller whose record went with them finds out.
    epoch: u64,
}

struct FileState {
    file: File,
    /// The same file for fsync, which runs without the lock.
    sync_handle: Arc<File>,
    /// Length of the file up to the last complete record, to roll back a failed write.
    len: u64,
    /// The chain's head as written to the file, to roll back a failed write.
    written_seq: u64,
    written_prev: String,
    /// Counts writes and roll-backs, so an fsync knows whether it covered all of them.
    changes: u64,
    /// Written but not yet fsynced.
    dirty: bool,
    last_sync: Instant,
    stderr_lines: bool,
    sink: Option<Arc<dyn AuditSink>>,
    /// The buffer `pending` is swapped with, to keep its capacity.
    spare: String,
}

/// Lowers the writer thread's scheduling priority (nice 19), so that on a
/// busy core its batch writes and fsyncs wait for the tasks answering calls
/// instead of stalling them: measured, this took the audit log's addition to
/// the p99 latency of one client's calls from about +8% to none. Only with
/// interval fsync, where no caller waits for this thread: a record that must
/// be written before its call is answered is written by the caller itself,
/// and so is everything once the buffer is full, so a starved writer cannot
/// make records pile up. On Linux a thread id names that thread alone.
fn yield_to_callers() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19) {
        tracing::debug!(error = %e, "could not lower the audit writer's priority");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn poisoned_error(&self) -> AuditError {
        AuditError::Poisoned {
            path: self.path.clone(),
        }
    }

    fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    fn run(&self, rx: mpsc::Receiver<Command>, buffer: Duration) {
        if matches!(self.fsync, Fsync::Interval(_)) {
            yield_to_callers();
        }
        loop {
            // With interval fsync, records may arrive directly (not through the
            // channel), so wake at every interval to see whether a sync is due.
            let first = match self.fsync {
                Fsync::Always => rx.recv().ok(),
                Fsync::Interval(every) => match rx.recv_timeout(every) {
                    Ok(command) => Some(command),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.sync_if_due();
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
            self.commit(batch);
        }
        // Every handle is gone: write what waits and make it durable before closing.
        if let Err(e) = self.write_pending() {
            tracing::error!(path = %self.path.display(), error = %e, "could not write the last audit records while closing the log");
        }
        self.sync_logged();
    }

    /// With interval fsync: fsyncs when data waits and the interval has passed.
    fn sync_if_due(&self) {
        let Fsync::Interval(every) = self.fsync else {
            return;
        };
        let due = {
            let file = lock(&self.file);
            file.dirty && file.last_sync.elapsed() >= every
        };
        if due {
            self.sync_logged();
        }
    }

    fn sync_logged(&self) {
        if let Err(e) = self.sync() {
            tracing::error!(path = %self.path.display(), error = %e, "could not fsync the audit log; it takes no more events until restarted");
        }
    }

    /// Fsyncs what has been written, without holding a lock while the disk works.
    fn sync(&self) -> io::Result<()> {
        if self.is_poisoned() {
            return Ok(());
        }
        let (handle, changes) = {
            let file = lock(&self.file);
            if !file.dirty {
                return Ok(());
            }
            (file.sync_handle.clone(), file.changes)
        };
        match handle.sync_data() {
            Ok(()) => {
                let mut file = lock(&self.file);
                // Anything written while the disk worked stays dirty.
                if file.changes == changes {
                    file.dirty = false;
                }
                file.last_sync = Instant::now();
                Ok(())
            }
            Err(e) => {
                self.poisoned.store(true, Ordering::Release);
                Err(e)
            }
        }
    }

    /// Seals one record from the calling task (interval fsync). Unless it
    /// `may_wait`, it is written before returning. Returns whether the
    /// caller must send the thread a `Wake` for what now waits.
    fn append(&self, record: &Encoded, may_wait: bool) -> Result<bool, AuditError> {
        if self.is_poisoned() {
            return Err(self.poisoned_error());
        }
        let epoch = {
            let mut chain = lock(&self.chain);
            chain.seal_next(record);
            if may_wait && chain.pending.len() < BUFFER_LIMIT {
                let wake = !chain.wake_sent;
                chain.wake_sent = true;
                return Ok(wake);
            }
            chain.epoch
        };
        let written = self.write_pending();
        // Another caller may have written this record in its batch; if that
        // write failed, the record went with it.
        let lost = lock(&self.chain).epoch != epoch;
        match written {
            Err(source) => Err(AuditError::Write {
                path: self.path.clone(),
                source: Arc::new(source),
            }),
            Ok(()) if lost => Err(AuditError::Write {
                path: self.path.clone(),
                source: Arc::new(io::Error::other(
                    "an earlier write of the batch holding this record failed",
                )),
            }),
            Ok(()) => Ok(false),
        }
    }

    /// Writes a batch from the channel and acknowledges it, fsyncing when
    /// `always` or a flush asks for it, or the interval has passed.
    fn commit(&self, batch: Vec<Command>) {
        if self.is_poisoned() {
            for command in batch {
                if let Command::Record(_, ack) | Command::Flush(ack) = command {
                    let _ = ack.send(Err(self.poisoned_error()));
                }
            }
            return;
        }

        let mut acks = Vec::with_capacity(batch.len());
        let mut want_sync = self.fsync == Fsync::Always;
        {
            let mut chain = lock(&self.chain);
            for command in batch {
                match command {
                    Command::Record(record, ack) => {
                        chain.seal_next(&record);
                        acks.push(ack);
                    }
                    Command::Flush(ack) => {
                        want_sync = true;
                        acks.push(ack);
                    }
                    Command::Wake => chain.wake_sent = false,
                }
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

        if want_sync && let Err(e) = self.sync() {
            let source = Arc::new(e);
            for ack in acks {
                let _ = ack.send(Err(AuditError::Sync {
                    path: self.path.clone(),
                    source: source.clone(),
                }));
            }
            return;
        }
        self.sync_if_due();
        for ack in acks {
            let _ = ack.send(Ok(()));
        }
    }

    /// Writes the pending lines to the file and hands them to the other sinks.
    /// On failure the chain goes back to what the file holds; records that
    /// were waiting in the buffer are lost, and the error says how many.
    fn write_pending(&self) -> io::Result<()> {
        // The file lock first: batches reach the file in the order they were taken.
        let mut file = lock(&self.file);
        let file = &mut *file;
        let (next_seq, prev) = {
            let mut chain = lock(&self.chain);
            if chain.pending.is_empty() {
                return Ok(());
            }
            file.spare.clear();
            std::mem::swap(&mut chain.pending, &mut file.spare);
            (chain.next_seq, chain.prev.clone())
        };
        if self.is_poisoned() {
            return Err(io::Error::other(
                "the audit log is poisoned by an earlier failure",
            ));
        }
        if let Err(e) = file.file.write_all(file.spare.as_bytes()) {
            file.changes += 1;
            file.dirty = true;
            if let Err(e) = file.file.set_len(file.len) {
                // Bytes of a torn line may remain: nothing may follow them.
                self.poisoned.store(true, Ordering::Release);
                tracing::error!(path = %self.path.display(), error = %e, "could not remove a partly written audit record; the log takes no more events until restarted");
            }
            let mut chain = lock(&self.chain);
            // Records sealed after this batch chain onto it, so they go too.
            let lost = chain.next_seq - file.written_seq;
            chain.next_seq = file.written_seq;
            chain.prev.clone_from(&file.written_prev);
            chain.pending.clear();
            chain.epoch += 1;
            return Err(io::Error::new(
                e.kind(),
                format!("{e} ({lost} records were not written)"),
            ));
        }
        file.len += file.spare.len() as u64;
        file.changes += 1;
        file.dirty = true;
        file.written_seq = next_seq;
        file.written_prev = prev;
        if file.stderr_lines {
            let mut stderr = io::stderr().lock();
            for line in file.spare.lines() {
                let _ = writeln!(stderr, "AUDIT: {line}");
            }
        }
        if let Some(sink) = &file.sink {
            sink.accept(&file.spare.lines().collect::<Vec<_>>());
        }
        Ok(())
    }
}

impl Chain {
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
}
