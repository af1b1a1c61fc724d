//! Reading a process's memory through `/proc/<pid>/mem`, one mapped region at
//! a time. Needs ptrace access to the process (same user and Yama permitting,
//! or root); otherwise the process is reported as `permission_denied`.

use std::fs::File;
use std::os::unix::fs::FileExt;

use schemars::JsonSchema;
use serde::Serialize;

use super::common::Budget;

/// One readable mapping of a process.
#[derive(Debug, Clone)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    pub path: Option<String>,
}

/// Why a process's memory could not be read, or what was skipped.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Skipped {
    pub pid: i32,
    pub name: String,
    /// `permission_denied`, `not_found`, `self`, `kernel_thread`, `error: ...`.
    pub reason: String,
}

/// What one pass over a process's memory saw.
#[derive(Debug, Default, Clone, Copy, Serialize, JsonSchema)]
pub struct MemStats {
    pub regions_read: u64,
    /// Regions the kernel refused to read (guard pages, `[vvar]`, device maps).
    pub regions_unreadable: u64,
    pub bytes_read: u64,
}

/// The readable regions of `pid` (not `[vvar]`/`[vsyscall]`).
pub fn regions(pid: i32) -> Result<Vec<Region>, procfs::ProcError> {
    let process = procfs::process::Process::new(pid)?;
    let maps = process.maps()?;
    Ok(maps
        .iter()
        .filter(|m| m.perms.contains(procfs::process::MMPermissions::READ))
        .filter_map(|m| {
            let path = match &m.pathname {
                procfs::process::MMapPath::Path(p) => Some(p.display().to_string()),
                procfs::process::MMapPath::Vvar
                | procfs::process::MMapPath::Vsyscall
                | procfs::process::MMapPath::Vdso => return None,
                procfs::process::MMapPath::Heap => Some("[heap]".into()),
                procfs::process::MMapPath::Stack => Some("[stack]".into()),
                procfs::process::MMapPath::TStack(t) => Some(format!("[stack:{t}]")),
                procfs::process::MMapPath::Anonymous => None,
                procfs::process::MMapPath::Other(o) => Some(o.clone()),
                _ => None,
            };
            Some(Region {
                start: m.address.0,
                end: m.address.1,
                path,
            })
        })
        .collect())
}

/// Open the memory of `pid` for reading; the error is the per-process status.
pub fn open(pid: i32) -> Result<File, String> {
    File::open(format!("/proc/{pid}/mem")).map_err(|e| super::common::io_status(&e))
}

/// Call `f` with the bytes of each readable region (each at most
/// `max_region_bytes`, the rest of larger regions left out and reported).
/// `f` returns false to stop.
pub fn each_region(
    pid: i32,
    budget: &mut Budget,
    mut f: impl FnMut(&Region, &[u8]) -> bool,
) -> Result<MemStats, String> {
    let regions = regions(pid).map_err(|e| super::common::proc_status(&e))?;
    let mem = open(pid)?;
    let max = budget.limits.max_region_bytes;
    let mut stats = MemStats::default();
    let mut buf = Vec::new();
    for region in &regions {
        if budget.out_of_time() {
            break;
        }
        let mut len = region.end - region.start;
        if len > max {
            budget.hit(
                "max_region_bytes",
                max,
                "only the first bytes of larger memory regions were read",
            );
            len = max;
        }
        buf.resize(len as usize, 0);
        match read_fully(&mem, &mut buf, region.start) {
            Ok(0) => stats.regions_unreadable += 1,
            Ok(n) => {
                stats.regions_read += 1;
                stats.bytes_read += n as u64;
                if !f(region, &buf[..n]) {
                    break;
                }
            }
            Err(_) => stats.regions_unreadable += 1,
        }
    }
    Ok(stats)
}

fn read_fully(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// Printable-ASCII runs and UTF-16LE runs of printable ASCII of at least
/// `min_len` characters. Calls `f(offset, encoding, text)`; stops when it
/// returns false.
pub fn strings(
    data: &[u8],
    min_len: usize,
    mut f: impl FnMut(usize, &'static str, String) -> bool,
) -> bool {
    let printable = |b: u8| (0x20..0x7f).contains(&b) || b == b'\t';
    let mut start = None;
    for (i, &b) in data.iter().enumerate() {
        if printable(b) {
            start.get_or_insert(i);
        } else if let Some(s) = start.take()
            && i - s >= min_len
            && !f(
                s,
                "ascii",
                String::from_utf8_lossy(&data[s..i]).into_owned(),
            )
        {
            return false;
        }
    }
    if let Some(s) = start
        && data.len() - s >= min_len
        && !f(s, "ascii", String::from_utf8_lossy(&data[s..]).into_owned())
    {
        return false;
    }
    // UTF-16LE: printable byte followed by NUL, on either alignment.
    for align in 0..2 {
        let mut run = String::new();
        let mut run_start = align;
        let mut i = align;
        while i + 1 < data.len() {
            let (lo, hi) = (data[i], data[i + 1]);
            if hi == 0 && printable(lo) {
                if run.is_empty() {
                    run_start = i;
                }
                run.push(lo as char);
            } else {
                if run.len() >= min_len && !f(run_start, "utf16le", std::mem::take(&mut run)) {
                    return false;
                }
                run.clear();
            }
            i += 2;
        }
        if run.len() >= min_len && !f(run_start, "utf16le", run) {
            return false;
        }
    }
    true
}

/// `text` as UTF-16LE bytes.
pub fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ascii_and_utf16_runs() {
        let mut data = b"\x00\x01hello world\x00ab\xff\xff".to_vec();
        data.extend(utf16le("wide one"));
        data.push(0xff);
        let mut found = Vec::new();
        strings(&data, 4, |off, enc, s| {
            found.push((off, enc, s));
            true
        });
        assert!(found.contains(&(2, "ascii", "hello world".to_string())));
        assert!(
            found
                .iter()
                .any(|(_, e, s)| *e == "utf16le" && s == "wide one")
        );
        assert!(!found.iter().any(|(_, _, s)| s == "ab"));
    }

    #[test]
    fn reads_own_memory() {
        let marker = String::from("bulwark-memory-") + "marker-7f3a";
        let me = std::process::id() as i32;
        let mut budget = Budget::for_tests(super::super::Limits::default());
        let mut seen = false;
        let finder = memchr::memmem::Finder::new(marker.as_bytes());
        let stats = each_region(me, &mut budget, |_, bytes| {
            seen |= finder.find(bytes).is_some();
            !seen
        })
        .unwrap();
        assert!(seen, "{stats:?}");
        assert!(stats.bytes_read > 0);
    }
}
