//! File tools: `dir_list`, `file_info`, `file_hash`, `dir_find_hash`. Every
//! path is resolved and checked against `live.allowed_roots`; walks never
//! follow symlinks, so a symlink loop cannot trap them.

use std::fs::{self, File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bulwark_core::{CallContext, Severity, ToolDef, ToolError};
use md5::Md5;
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::Live;
use super::common::{
    Budget, LimitHit, blocking, io_status, limits_text, local_only, render, system_time_rfc3339,
    user_names,
};

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FileEntry {
    pub path: String,
    /// `file`, `dir`, `symlink`, `socket`, `fifo`, `block`, `char`.
    pub kind: String,
    pub size: u64,
    /// Permission bits in octal, such as `0644` (with setuid/setgid/sticky).
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    pub user: Option<String>,
    pub modified: String,
    pub changed: String,
    pub accessed: String,
    pub inode: u64,
    pub links: u64,
    /// Target of a symlink (not followed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symlink_target: Option<String>,
    /// `ok`, or why the entry (or, for a directory, its contents) could not be read.
    pub status: String,
}

pub fn kind_of(m: &Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_symlink() {
        "symlink"
    } else if t.is_dir() {
        "dir"
    } else if t.is_file() {
        "file"
    } else if t.is_socket() {
        "socket"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_block_device() {
        "block"
    } else {
        "char"
    }
}

pub fn entry(
    path: &Path,
    m: &Metadata,
    users: &std::collections::HashMap<u32, String>,
) -> FileEntry {
    let ts = |secs: i64| super::common::rfc3339(secs);
    FileEntry {
        path: path.display().to_string(),
        kind: kind_of(m).into(),
        size: m.len(),
        mode: format!("{:04o}", m.mode() & 0o7777),
        uid: m.uid(),
        gid: m.gid(),
        user: users.get(&m.uid()).cloned(),
        modified: m
            .modified()
            .map(system_time_rfc3339)
            .unwrap_or_else(|_| ts(m.mtime())),
        changed: ts(m.ctime()),
        accessed: ts(m.atime()),
        inode: m.ino(),
        links: m.nlink(),
        symlink_target: m
            .file_type()
            .is_symlink()
            .then(|| fs::read_link(path).ok().map(|t| t.display().to_string()))
            .flatten(),
        status: "ok".into(),
    }
}

fn denied_entry(path: &Path, status: String) -> FileEntry {
    FileEntry {
        path: path.display().to_string(),
        kind: "unknown".into(),
        size: 0,
        mode: String::new(),
        uid: 0,
        gid: 0,
        user: None,
        modified: String::new(),
        changed: String::new(),
        accessed: String::new(),
        inode: 0,
        links: 0,
        symlink_target: None,
        status,
    }
}

#[derive(Serialize, JsonSchema)]
struct DirListing {
    root: String,
    depth: usize,
    entries: Vec<FileEntry>,
    limits_hit: Vec<LimitHit>,
}

fn dir_list(root: &Path, depth: usize, budget: &mut Budget) -> DirListing {
    let users = user_names();
    let mut entries = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .min_depth(1)
        .max_depth(depth)
        .follow_links(false)
        .sort_by_file_name();
    for item in walker {
        if budget.out_of_time() || budget.rows_full(entries.len()) {
            break;
        }
        match item {
            Ok(e) => match e.metadata() {
                Ok(m) => entries.push(entry(e.path(), &m, &users)),
                Err(err) => entries.push(denied_entry(e.path(), walk_status(&err))),
            },
            Err(err) => {
                let path = err.path().map(Path::to_path_buf).unwrap_or_default();
                entries.push(denied_entry(&path, walk_status(&err)));
            }
        }
    }
    DirListing {
        root: root.display().to_string(),
        depth,
        entries,
        limits_hit: budget.hits.clone(),
    }
}

pub fn walk_status(err: &walkdir::Error) -> String {
    match err.io_error() {
        Some(io) => io_status(io),
        None => format!("error: {err}"),
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Hashes {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
}

/// Stream a file through MD5, SHA-1 and SHA-256 at once.
pub fn hash_file(path: &Path) -> std::io::Result<(Hashes, u64)> {
    let mut file = File::open(path)?;
    let (mut md5, mut sha1, mut sha256) = (Md5::new(), Sha1::new(), Sha256::new());
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        md5.update(&buf[..n]);
        sha1.update(&buf[..n]);
        sha256.update(&buf[..n]);
    }
    Ok((
        Hashes {
            md5: hex::encode(md5.finalize()),
            sha1: hex::encode(sha1.finalize()),
            sha256: hex::encode(sha256.finalize()),
        },
        total,
    ))
}

/// Hash one file with the algorithm a hex digest's length implies.
fn hash_as(path: &Path, algo: Algo) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 256 * 1024];
    macro_rules! run {
        ($h:expr) => {{
            let mut h = $h;
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            hex::encode(h.finalize())
        }};
    }
    Ok(match algo {
        Algo::Md5 => run!(Md5::new()),
        Algo::Sha1 => run!(Sha1::new()),
        Algo::Sha256 => run!(Sha256::new()),
    })
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Algo {
    Md5,
    Sha1,
    Sha256,
}

fn algo_of(hash: &str) -> Result<Algo, ToolError> {
    if !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ToolError::InvalidArguments(
            "field `hash`: not hexadecimal; give an MD5 (32), SHA-1 (40) or SHA-256 (64 hex digits) digest".into(),
        ));
    }
    match hash.len() {
        32 => Ok(Algo::Md5),
        40 => Ok(Algo::Sha1),
        64 => Ok(Algo::Sha256),
        n => Err(ToolError::InvalidArguments(format!(
            "field `hash`: {n} hex digits; give an MD5 (32), SHA-1 (40) or SHA-256 (64) digest"
        ))),
    }
}

#[derive(Serialize, JsonSchema)]
struct FileInfo {
    /// The path as asked.
    requested: String,
    /// The path after resolving `..` and symlinks.
    canonical: String,
    /// `lstat` of the requested path (a symlink shows as such).
    entry: FileEntry,
    /// First bytes identify: `elf`, `script` (#!), `zip`, `gzip`, `pe`, `pdf`, or `data`.
    magic: Option<String>,
}

fn magic(path: &Path) -> Option<String> {
    let mut head = [0u8; 8];
    let n = File::open(path).ok()?.read(&mut head).ok()?;
    let head = &head[..n];
    Some(
        if head.starts_with(b"\x7fELF") {
            "elf"
        } else if head.starts_with(b"#!") {
            "script"
        } else if head.starts_with(b"PK\x03\x04") {
            "zip"
        } else if head.starts_with(b"\x1f\x8b") {
            "gzip"
        } else if head.starts_with(b"MZ") {
            "pe"
        } else if head.starts_with(b"%PDF") {
            "pdf"
        } else if n == 0 {
            "empty"
        } else {
            "data"
        }
        .into(),
    )
}

#[derive(Serialize, JsonSchema)]
struct FileHash {
    path: String,
    size: u64,
    #[serde(flatten)]
    hashes: Hashes,
}

#[derive(Serialize, JsonSchema)]
struct HashMatch {
    path: String,
    size: u64,
}

#[derive(Serialize, JsonSchema)]
struct FindHashResult {
    root: String,
    hash: String,
    /// `md5`, `sha1` or `sha256`.
    algorithm: String,
    matches: Vec<HashMatch>,
    files_hashed: u64,
    /// Files and directories that could not be read, with why.
    unreadable: Vec<FileEntry>,
    /// Files larger than `max_file_bytes` (not hashed).
    skipped_too_large: u64,
    limits_hit: Vec<LimitHit>,
    elapsed_ms: u64,
}

fn find_hash(
    root: &Path,
    hash: &str,
    size: Option<u64>,
    budget: &mut Budget,
) -> Result<FindHashResult, ToolError> {
    let algo = algo_of(hash)?;
    let want = hash.to_lowercase();
    let max_file = budget.limits.max_file_bytes;
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    let mut too_large = 0;
    for item in walkdir::WalkDir::new(root)
        .follow_links(false)
        .max_depth(budget.limits.max_depth)
    {
        if budget.out_of_time() {
            break;
        }
        match item {
            Ok(e) if e.file_type().is_file() => {
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                if size.is_some_and(|s| s != len) {
                    continue;
                }
                if len > max_file {
                    too_large += 1;
                    budget.hit("max_file_bytes", max_file, "larger files were not hashed");
                    continue;
                }
                files.push((e.into_path(), len));
            }
            Ok(_) => {}
            Err(err) => {
                if unreadable.len() < budget.limits.max_rows {
                    let path = err.path().map(Path::to_path_buf).unwrap_or_default();
                    unreadable.push(denied_entry(&path, walk_status(&err)));
                }
            }
        }
    }
    let hashed = AtomicU64::new(0);
    let shared = budget.clone();
    let results: Vec<(std::path::PathBuf, u64, Result<bool, String>)> = files
        .into_par_iter()
        .filter_map(|(path, len)| {
            if shared.expired() {
                return None;
            }
            let r = hash_as(&path, algo)
                .map(|h| h == want)
                .map_err(|e| io_status(&e));
            hashed.fetch_add(1, Ordering::Relaxed);
            Some((path, len, r))
        })
        .collect();
    if shared.expired() {
        budget.out_of_time();
    }
    let mut matches = Vec::new();
    for (path, len, r) in results {
        match r {
            Ok(true) => matches.push(HashMatch {
                path: path.display().to_string(),
                size: len,
            }),
            Ok(false) => {}
            Err(status) => unreadable.push(denied_entry(&path, status)),
        }
    }
    matches.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(FindHashResult {
        root: root.display().to_string(),
        hash: want,
        algorithm: format!("{algo:?}").to_lowercase(),
        matches,
        files_hashed: hashed.into_inner(),
        unreadable,
        skipped_too_large: too_large,
        limits_hit: budget.hits.clone(),
        elapsed_ms: budget.elapsed_ms(),
    })
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DirListArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Absolute directory path.
    path: String,
    /// Levels to descend (1 = the directory's own entries; default 1).
    #[serde(default)]
    depth: Option<usize>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PathArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Absolute file path.
    path: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FindHashArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// Absolute directory to search under.
    root: String,
    /// MD5, SHA-1 or SHA-256 digest in hex (the length picks the algorithm).
    hash: String,
    /// Only hash files of exactly this many bytes (much faster when known).
    #[serde(default)]
    size: Option<u64>,
}

pub fn tools(live: &Arc<Live>) -> Vec<ToolDef> {
    let (l1, l2, l3, l4) = (live.clone(), live.clone(), live.clone(), live.clone());
    vec![
        ToolDef::new(
            "dir_list",
            "List a directory of an endpoint, `depth` levels down, with type, size, mode, owner and times. Symlinks are shown, not followed; unreadable entries carry their status.",
        )
        .title("List directory")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<DirListing>()
        .handler(move |ctx: CallContext, args: DirListArgs| {
            let live = l1.clone();
            async move {
                local_only(&args.sid)?;
                let root = live.roots.resolve("path", &args.path)?;
                if !root.is_dir() {
                    return Err(ToolError::failed(format!(
                        "field `path`: `{}` is not a directory; use file_info for files",
                        args.path
                    )));
                }
                let depth = args.depth.unwrap_or(1);
                let max = live.config.limits.max_depth;
                if depth == 0 || depth > max {
                    return Err(ToolError::InvalidArguments(format!(
                        "field `depth`: {depth} is out of range; use 1 to {max} (live.max_depth)"
                    )));
                }
                let mut budget = Budget::new(live.config.limits, &ctx);
                let list = blocking(move || Ok(dir_list(&root, depth, &mut budget))).await?;
                let mut text = format!("{} entries under {}\n", list.entries.len(), list.root);
                for e in &list.entries {
                    text.push_str(&format!(
                        "{:<7} {} {:>6} {:>12} {} {}{}{}\n",
                        e.kind,
                        e.mode,
                        e.user.clone().unwrap_or_else(|| e.uid.to_string()),
                        e.size,
                        e.modified,
                        e.path,
                        e.symlink_target.as_ref().map(|t| format!(" -> {t}")).unwrap_or_default(),
                        if e.status == "ok" { String::new() } else { format!(" ({})", e.status) }
                    ));
                }
                text.push_str(&limits_text(&list.limits_hit));
                render(&list, text)
            }
        }),
        ToolDef::new(
            "file_info",
            "Metadata of one file of an endpoint: type, size, mode, owner, times, inode, symlink target, canonical path, and what its first bytes say it is.",
        )
        .title("File info")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<FileInfo>()
        .handler(move |_ctx: CallContext, args: PathArgs| {
            let live = l2.clone();
            async move {
                local_only(&args.sid)?;
                let canonical = live.roots.resolve("path", &args.path)?;
                let info = blocking(move || {
                    let m = fs::symlink_metadata(&args.path)
                        .map_err(|e| ToolError::failed(format!("field `path`: cannot stat `{}`: {}", args.path, io_status(&e))))?;
                    Ok(FileInfo {
                        entry: entry(Path::new(&args.path), &m, &user_names()),
                        magic: canonical.is_file().then(|| magic(&canonical)).flatten(),
                        canonical: canonical.display().to_string(),
                        requested: args.path,
                    })
                })
                .await?;
                let e = &info.entry;
                let text = format!(
                    "{} ({}{})\n{} {} bytes, mode {}, owner {} ({}), modified {}, inode {}{}",
                    info.requested,
                    e.kind,
                    info.magic.as_ref().map(|m| format!(", {m}")).unwrap_or_default(),
                    info.canonical,
                    e.size,
                    e.mode,
                    e.user.clone().unwrap_or_default(),
                    e.uid,
                    e.modified,
                    e.inode,
                    e.symlink_target.as_ref().map(|t| format!(", -> {t}")).unwrap_or_default()
                );
                render(&info, text)
            }
        }),
        ToolDef::new(
            "file_hash",
            "MD5, SHA-1 and SHA-256 of one file of an endpoint (files over live.max_file_bytes are refused).",
        )
        .title("File hash")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<FileHash>()
        .handler(move |_ctx: CallContext, args: PathArgs| {
            let live = l3.clone();
            async move {
                local_only(&args.sid)?;
                let path = live.roots.resolve("path", &args.path)?;
                let max = live.config.limits.max_file_bytes;
                let out = blocking(move || {
                    let m = fs::metadata(&path).map_err(|e| ToolError::failed(format!("field `path`: {}", io_status(&e))))?;
                    if !m.is_file() {
                        return Err(ToolError::failed(format!(
                            "field `path`: `{}` is a {}, not a regular file",
                            path.display(),
                            kind_of(&m)
                        )));
                    }
                    if m.len() > max {
                        return Err(ToolError::failed(format!(
                            "field `path`: `{}` is {} bytes, over the limit live.max_file_bytes = {max}; raise it to hash this file",
                            path.display(),
                            m.len()
                        )));
                    }
                    let (hashes, size) = hash_file(&path).map_err(|e| {
                        ToolError::failed(format!("field `path`: cannot read `{}`: {}", path.display(), io_status(&e)))
                    })?;
                    Ok(FileHash {
                        path: path.display().to_string(),
                        size,
                        hashes,
                    })
                })
                .await?;
                let text = format!(
                    "{} ({} bytes)\nmd5    {}\nsha1   {}\nsha256 {}",
                    out.path, out.size, out.hashes.md5, out.hashes.sha1, out.hashes.sha256
                );
                render(&out, text)
            }
        }),
        ToolDef::new(
            "dir_find_hash",
            "Find files under a directory of an endpoint whose MD5, SHA-1 or SHA-256 equals `hash` (hashed in parallel; `size` narrows it). Symlinks are not followed.",
        )
        .title("Find file by hash")
        .profiles(&["live_investigation"])
        .read_only()
        .severity(Severity::Medium)
        .output::<FindHashResult>()
        .handler(move |ctx: CallContext, args: FindHashArgs| {
            let live = l4.clone();
            async move {
                local_only(&args.sid)?;
                algo_of(&args.hash)?;
                let root = live.roots.resolve("root", &args.root)?;
                let mut budget = Budget::new(live.config.limits, &ctx);
                let out = blocking(move || find_hash(&root, &args.hash, args.size, &mut budget)).await?;
                let mut text = format!(
                    "{} matches for {} {} under {} ({} files hashed, {} unreadable, {} too large)\n",
                    out.matches.len(),
                    out.algorithm,
                    out.hash,
                    out.root,
                    out.files_hashed,
                    out.unreadable.len(),
                    out.skipped_too_large
                );
                for m in &out.matches {
                    text.push_str(&format!("{} ({} bytes)\n", m.path, m.size));
                }
                text.push_str(&limits_text(&out.limits_hit));
                render(&out, text)
            }
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Limits;

    #[test]
    fn hashes_match_known_digests() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        fs::write(&p, b"abc").unwrap();
        let (h, n) = hash_file(&p).unwrap();
        assert_eq!(n, 3);
        assert_eq!(h.md5, "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(h.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            h.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn find_hash_finds_planted_file_and_survives_symlink_loops() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        fs::write(dir.path().join("a/b/target"), b"planted").unwrap();
        fs::write(dir.path().join("a/other"), b"other").unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("a/loop")).unwrap();
        let sha1 = hex::encode(Sha1::digest(b"planted"));
        let mut budget = Budget::for_tests(Limits::default());
        let out = find_hash(dir.path(), &sha1, None, &mut budget).unwrap();
        assert_eq!(out.matches.len(), 1);
        assert!(out.matches[0].path.ends_with("a/b/target"));
        assert_eq!(out.algorithm, "sha1");
        assert_eq!(out.files_hashed, 2);
        assert!(algo_of("xyz").is_err());
        assert!(algo_of("abcd").is_err());
    }

    #[test]
    fn dir_list_respects_depth_and_rows() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("x/y")).unwrap();
        fs::write(dir.path().join("x/y/z"), b"").unwrap();
        let mut budget = Budget::for_tests(Limits::default());
        let one = dir_list(dir.path(), 1, &mut budget);
        assert_eq!(one.entries.len(), 1);
        let mut budget = Budget::for_tests(Limits::default());
        let all = dir_list(dir.path(), 3, &mut budget);
        assert_eq!(all.entries.len(), 3);
        let mut budget = Budget::for_tests(Limits {
            max_rows: 2,
            ..Limits::default()
        });
        let cut = dir_list(dir.path(), 3, &mut budget);
        assert_eq!(cut.entries.len(), 2);
        assert_eq!(cut.limits_hit[0].limit, "max_rows");
    }
}
