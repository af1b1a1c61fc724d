//! Per-upstream stderr logs with rotation by size.
//!
//! Hand-rolled because tracing-appender rotates by time only, and these files
//! are raw bytes from another program, not tracing events. When a write would
//! take the file past `max_bytes`, `NAME.log` becomes `NAME.log.1` (replacing
//! the previous one) and a new `NAME.log` starts: at most twice `max_bytes`
//! per upstream on disk.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

pub struct RotatingLog {
    path: PathBuf,
    max_bytes: u64,
    file: Mutex<(File, u64)>,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

impl RotatingLog {
    pub fn open(path: &Path, max_bytes: u64) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = open_append(path)?;
        let len = file.metadata()?.len();
        Ok(RotatingLog {
            path: path.to_owned(),
            max_bytes: max_bytes.max(1024),
            file: Mutex::new((file, len)),
        })
    }

    /// Append; errors are logged, never raised (a full disk must not break calls).
    pub fn write(&self, chunk: &[u8]) {
        let mut guard = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.1 + chunk.len() as u64 > self.max_bytes && guard.1 > 0 {
            let mut rotated = self.path.clone().into_os_string();
            rotated.push(".1");
            let reopened =
                std::fs::rename(&self.path, &rotated).and_then(|_| open_append(&self.path));
            match reopened {
                Ok(file) => *guard = (file, 0),
                Err(err) => tracing::warn!(path = %self.path.display(), "cannot rotate: {err}"),
            }
        }
        match guard.0.write_all(chunk) {
            Ok(()) => guard.1 += chunk.len() as u64,
            Err(err) => tracing::warn!(path = %self.path.display(), "cannot write: {err}"),
        }
    }
}

/// The last `lines` lines of a log (reading at most its last 1 MiB).
pub fn tail(path: &Path, lines: usize) -> std::io::Result<String> {
    const WINDOW: u64 = 1024 * 1024;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(WINDOW)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    Ok(all[start..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_tails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/x.log");
        let log = RotatingLog::open(&path, 1024).unwrap();
        for i in 0..100 {
            log.write(format!("line {i:04} ..........\n").as_bytes());
        }
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size <= 1024, "{size}");
        assert!(dir.path().join("logs/x.log.1").exists());
        let last = tail(&path, 2).unwrap();
        assert_eq!(last, "line 0098 ..........\nline 0099 ..........");
    }
}
