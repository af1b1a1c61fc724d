//! The tree walk: ignore files, awkward files, suppression, ordering,
//! baselines and `--diff`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use bulwark_scan::{
    Baseline, NoteKind, ScanOptions, Severity, changed_files, exit_code, fingerprint, fingerprints,
    scan_tree,
};
use common::{marker, places, rule_ids, write};

fn options(root: &Path) -> ScanOptions {
    ScanOptions::new(root, vec![marker()])
}

fn note_kinds(report: &bulwark_scan::ScanReport) -> Vec<(String, NoteKind)> {
    report
        .notes
        .iter()
        .map(|n| (n.path.clone(), n.kind))
        .collect()
}

#[test]
fn gitignore_and_bulwarkignore_are_respected() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, ".gitignore", "build/\n*.log\n");
    write(root, ".bulwarkignore", "fixtures/\nsecret_*.py\n");
    write(root, "src/app.py", "x = 1 # FINDME\n");
    write(root, "build/out.js", "FINDME\n");
    write(root, "debug.log", "FINDME\n");
    write(root, "fixtures/bad.py", "FINDME\n");
    write(root, "src/secret_test.py", "FINDME\n");
    write(root, ".hidden/conf.json", "{\"a\": \"FINDME\"}\n");
    write(root, ".git/config", "FINDME\n");

    let report = scan_tree(&options(root)).unwrap();
    assert_eq!(places(&report), [".hidden/conf.json:1", "src/app.py:1"]);

    // Without .gitignore, only .bulwarkignore applies (and .git is never entered).
    let mut all = options(root);
    all.respect_gitignore = false;
    let report = scan_tree(&all).unwrap();
    assert_eq!(
        places(&report),
        [
            ".hidden/conf.json:1",
            "build/out.js:1",
            "debug.log:1",
            "src/app.py:1"
        ]
    );
}

#[test]
fn awkward_files_become_notes_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "ok.txt", "FINDME:high\n");
    let mut binary = b"FINDME\0\x01\x02".to_vec();
    binary.extend(std::iter::repeat_n(b'a', 100));
    write(root, "image.png", &binary);
    write(root, "latin1.txt", b"caf\xe9 FINDME\n");
    write(root, "huge.js", "// FINDME\n".repeat(300_000)); // ~3 MB > 2 MiB
    write(root, "panic.py", "PANICME\n");
    write(root, "bom.py", "\u{feff}FINDME\n");
    write(root, "empty.py", "");
    // A NUL byte after the first 8 KiB is not "binary".
    let mut late_nul = "a\n".repeat(5000).into_bytes();
    late_nul.push(0);
    write(root, "late_nul.txt", &late_nul);

    let report = scan_tree(&options(root)).unwrap();
    assert_eq!(places(&report), ["bom.py:1", "ok.txt:1"]);
    assert!(matches!(
        report.findings[0].location,
        bulwark_scan::Location::File { column: 1, .. }
    ));
    assert_eq!(
        note_kinds(&report),
        [
            ("huge.js".to_string(), NoteKind::TooLarge),
            ("image.png".to_string(), NoteKind::Binary),
            ("latin1.txt".to_string(), NoteKind::NotUtf8),
            ("panic.py".to_string(), NoteKind::DetectorFailed),
        ]
    );
    // bom.py, empty.py, late_nul.txt, ok.txt and panic.py were read.
    assert_eq!(report.files_scanned, 5);
    assert!(
        report.notes[0]
            .detail
            .contains("over the 2097152-byte limit"),
        "{}",
        report.notes[0].detail
    );

    // A smaller limit applies.
    let mut small = options(root);
    small.max_file_bytes = 4;
    let report = scan_tree(&small).unwrap();
    assert!(report.findings.is_empty());
    assert!(note_kinds(&report).contains(&("ok.txt".to_string(), NoteKind::TooLarge)));
}

/// Whether a user other than the owner may execute `exe` (every directory
/// above it searchable, the file itself readable and executable).
#[cfg(unix)]
fn others_can_run(exe: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode())
            .unwrap_or(0)
    };
    mode(exe) & 0o005 == 0o005 && exe.ancestors().skip(1).all(|dir| mode(dir) & 0o001 != 0)
}

#[cfg(unix)]
#[test]
fn unreadable_files_become_notes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "locked.py", "FINDME\n");
    write(root, "open.py", "FINDME\n");
    write(root, "private/inner.py", "FINDME\n");
    let locked = root.join("locked.py");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(root.join("private"), std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads anything whatever its mode. As root, run this same test
    // again as `nobody` (setpriv), where the modes bite; and check here
    // that root simply scans everything.
    let privileged = std::fs::File::open(&locked).is_ok();
    let exe = std::env::current_exe().unwrap();
    if privileged
        && std::env::var_os("BULWARK_SCAN_TEST_UNPRIVILEGED").is_none()
        && Path::new("/usr/bin/setpriv").exists()
        && others_can_run(&exe)
    {
        let output = Command::new("/usr/bin/setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&exe)
            .args([
                "unreadable_files_become_notes",
                "--exact",
                "--test-threads=1",
                "--nocapture",
            ])
            .env("BULWARK_SCAN_TEST_UNPRIVILEGED", "1")
            .env("TMPDIR", "/tmp")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success()
                && stdout.contains("1 passed")
                && stdout.contains("unprivileged branch ran"),
            "as nobody: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let report = scan_tree(&options(root)).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(root.join("private"), std::fs::Permissions::from_mode(0o755)).unwrap();
    if privileged {
        assert_eq!(
            places(&report),
            ["locked.py:1", "open.py:1", "private/inner.py:1"]
        );
    } else {
        println!("unprivileged branch ran");
        assert_eq!(places(&report), ["open.py:1"]);
        let kinds = note_kinds(&report);
        assert!(
            kinds.contains(&("locked.py".to_string(), NoteKind::Unreadable)),
            "{kinds:?}"
        );
        assert!(
            kinds.contains(&("private".to_string(), NoteKind::Unreadable)),
            "{kinds:?}"
        );
    }
}

#[cfg(unix)]
#[test]
fn symlinks_and_loops_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a/real.py", "FINDME\n");
    std::os::unix::fs::symlink(root.join("a"), root.join("a/loop")).unwrap();
    std::os::unix::fs::symlink("..", root.join("a/up")).unwrap();
    std::os::unix::fs::symlink(root.join("a/real.py"), root.join("link.py")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("outside.txt")).unwrap();
    std::os::unix::fs::symlink(root.join("missing"), root.join("dangling.py")).unwrap();
    let report = scan_tree(&options(root)).unwrap();
    assert_eq!(places(&report), ["a/real.py:1"]);
    let kinds = note_kinds(&report);
    for link in ["a/loop", "a/up", "dangling.py", "link.py", "outside.txt"] {
        assert!(
            kinds.contains(&(link.to_string(), NoteKind::Symlink)),
            "{link}: {kinds:?}"
        );
    }
}

#[test]
fn suppression_comments_in_each_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "a.py",
        "x = 'FINDME'  # bulwark-ignore\n\
         # bulwark-ignore: TEST-MARK\n\
         y = 'FINDME OTHERME'\n\
         z = 'FINDME'  # bulwark-ignore: TEST-OTHER\n\
         \n\
         w = 'FINDME'\n",
    );
    write(
        root,
        "b.js",
        "const a = 'FINDME'; // bulwark-ignore: TEST-MARK, TEST-OTHER\n\
         // bulwark-ignore: TEST-*\n\
         const b = 'FINDME OTHERME';\n\
         const c = 'FINDME'; // bulwark-ignore: SOMETHING-ELSE\n",
    );
    write(
        root,
        "c.ts",
        "/* bulwark-ignore: TEST-MARK */\n\
         let a = 'FINDME';\n\
         let b = 'FINDME'; /* bulwark-ignore */\n\
         /**\n * bulwark-ignore: TEST-MARK -- fixture\n */\n\
         let c = 'FINDME';\n",
    );
    write(root, "d.py", "print('bulwark-ignore FINDME')\n");
    let report = scan_tree(&options(root)).unwrap();
    assert_eq!(
        places(&report),
        ["a.py:3", "a.py:4", "a.py:6", "b.js:4", "c.ts:7", "d.py:1"],
        "{:#?}",
        report.findings
    );
    // a.py:3 kept only TEST-OTHER (TEST-MARK was ignored on the line above).
    assert_eq!(report.findings[0].rule_id, "TEST-OTHER");
    assert_eq!(report.findings[1].rule_id, "TEST-MARK");
}

#[test]
fn findings_are_sorted_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..40 {
        write(
            root,
            &format!("d{}/f{i}.py", i % 3),
            "OTHERME FINDME\nFINDME\n",
        );
    }
    let first = scan_tree(&options(root)).unwrap();
    let mut options = options(root);
    options.threads = 1;
    let second = scan_tree(&options).unwrap();
    assert_eq!(first.findings, second.findings);
    assert_eq!(first.findings.len(), 120);
    let keys: Vec<(String, u32, u32, String)> = first
        .findings
        .iter()
        .map(|f| match &f.location {
            bulwark_scan::Location::File { path, line, column } => {
                (path.clone(), *line, *column, f.rule_id.clone())
            }
            _ => unreachable!(),
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(
        rule_ids(&first)[..3],
        ["TEST-OTHER", "TEST-MARK", "TEST-MARK"]
    );
}

#[test]
fn single_file_root_and_missing_root() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "one.py", "FINDME\n");
    let report = scan_tree(&options(&dir.path().join("one.py"))).unwrap();
    assert_eq!(places(&report), ["one.py:1"]);
    assert!(scan_tree(&options(&dir.path().join("nope"))).is_err());
}

#[test]
fn exit_codes_follow_fail_on() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.py", "FINDME:medium\n");
    let report = scan_tree(&options(dir.path())).unwrap();
    assert_eq!(exit_code(&report, None), 1);
    assert_eq!(exit_code(&report, Some(Severity::Low)), 1);
    assert_eq!(exit_code(&report, Some(Severity::Medium)), 1);
    assert_eq!(exit_code(&report, Some(Severity::High)), 0);
    let clean = scan_tree(&ScanOptions::new(dir.path(), vec![])).unwrap();
    assert_eq!(exit_code(&clean, None), 0);
    assert_eq!(clean.files_scanned, 0);
}

#[test]
fn baseline_round_trip_survives_line_shifts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "app.py",
        "import os\nkey = 'FINDME'\nother = 'FINDME'\nkey = 'FINDME'\n",
    );
    let before = scan_tree(&options(root)).unwrap();
    assert_eq!(before.findings.len(), 3);
    let fps = fingerprints(&before.findings);
    // Two identical snippets get different fingerprints; the first equals fingerprint().
    assert_eq!(fps[0], fingerprint(&before.findings[0]));
    assert_ne!(fps[0], fps[2]);
    assert_eq!(
        fps.iter().collect::<std::collections::HashSet<_>>().len(),
        3
    );

    let elsewhere = tempfile::tempdir().unwrap();
    let baseline_path = elsewhere.path().join("bulwark-baseline.json");
    Baseline::save(&before, &baseline_path).unwrap();
    let baseline = Baseline::load(&baseline_path).unwrap();
    assert_eq!(baseline.len(), 3);
    assert!(baseline.filter(&before.findings).is_empty());

    // Move everything down three lines and re-indent: still accepted.
    write(
        root,
        "app.py",
        "import os\n# one\n# two\n# three\nkey   =   'FINDME'\nother = 'FINDME'\nkey = 'FINDME'\n",
    );
    let after = scan_tree(&options(root)).unwrap();
    assert_eq!(places(&after), ["app.py:5", "app.py:6", "app.py:7"]);
    for (a, b) in before.findings.iter().zip(&after.findings) {
        assert_eq!(fingerprint(a), fingerprint(b));
    }
    assert!(baseline.filter(&after.findings).is_empty());

    // A new finding is new; a third copy of a known snippet is new too.
    write(
        root,
        "app.py",
        "import os\nkey = 'FINDME'\nother = 'FINDME'\nkey = 'FINDME'\nkey = 'FINDME'\nnew = 'FINDME'\n",
    );
    let later = scan_tree(&options(root)).unwrap();
    let new = baseline.filter(&later.findings);
    let new_lines: Vec<String> = new.iter().map(|f| f.snippet.clone()).collect();
    assert_eq!(new_lines, ["key = 'FINDME'", "new = 'FINDME'"]);

    let mut report = later.clone();
    report.apply_baseline(&baseline);
    assert_eq!(report.findings.len(), 2);

    // A different rule at the same place is a different fingerprint.
    let mut other = before.findings[0].clone();
    other.rule_id = "TEST-OTHER".into();
    assert_ne!(fingerprint(&other), fingerprint(&before.findings[0]));

    // Garbage and missing baselines are errors, not panics.
    std::fs::write(&baseline_path, "not json").unwrap();
    assert!(Baseline::load(&baseline_path).is_err());
    assert!(Baseline::load(elsewhere.path().join("missing.json")).is_err());
}

fn git(root: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("git runs (scripts/test installs it)");
    assert!(
        status.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[test]
fn diff_mode_scans_changed_and_untracked_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    write(root, ".gitignore", "ignored/\n");
    write(root, "same.py", "FINDME\n");
    write(root, "changed.py", "FINDME\n");
    write(root, "deleted.py", "FINDME\n");
    write(root, "sub/staged.py", "x\n");
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "init"]);

    write(root, "changed.py", "FINDME\nFINDME\n");
    write(root, "sub/staged.py", "FINDME\n");
    git(root, &["add", "sub/staged.py"]);
    std::fs::remove_file(root.join("deleted.py")).unwrap();
    write(root, "new file.py", "FINDME\n");
    write(root, "ignored/x.py", "FINDME\n");

    let changed = changed_files(root, "HEAD").unwrap();
    let canonical = root.canonicalize().unwrap();
    let rel: Vec<PathBuf> = changed
        .iter()
        .map(|p| p.strip_prefix(&canonical).unwrap().to_path_buf())
        .collect();
    assert_eq!(
        rel,
        [
            PathBuf::from("changed.py"),
            PathBuf::from("new file.py"),
            PathBuf::from("sub/staged.py")
        ]
    );

    let mut opts = options(root);
    opts.only_paths = Some(changed);
    let report = scan_tree(&opts).unwrap();
    assert_eq!(
        places(&report),
        [
            "changed.py:1",
            "changed.py:2",
            "new file.py:1",
            "sub/staged.py:1"
        ]
    );

    // Relative only_paths work too, and a subdirectory root sees its own paths.
    let mut opts = options(&root.join("sub"));
    opts.only_paths = Some(changed_files(&root.join("sub"), "HEAD").unwrap());
    assert_eq!(places(&scan_tree(&opts).unwrap()), ["staged.py:1"]);
    let mut opts = options(root);
    opts.only_paths = Some(vec![PathBuf::from("changed.py")]);
    assert_eq!(
        places(&scan_tree(&opts).unwrap()),
        ["changed.py:1", "changed.py:2"]
    );

    assert!(changed_files(root, "no-such-rev").is_err());
    assert!(changed_files(root, "--output=/tmp/x").is_err());
    let not_repo = tempfile::tempdir().unwrap();
    assert!(changed_files(not_repo.path(), "HEAD").is_err());
}

/// Reports markers like `MarkerDetector`, but nothing in dependency code.
struct SkipsDependencies;

impl bulwark_scan::FileDetector for SkipsDependencies {
    fn rules(&self) -> &'static [bulwark_scan::Rule] {
        common::marker().rules()
    }
    fn applies_to(&self, _path: &str) -> bool {
        true
    }
    fn scan(&self, path: &str, text: &str) -> Vec<bulwark_scan::Finding> {
        common::marker().scan(path, text)
    }
    fn scan_dependency(&self, _path: &str, _text: &str) -> Vec<bulwark_scan::Finding> {
        Vec::new()
    }
}

#[test]
fn dependency_directories_get_scan_dependency_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "src/app.js", "FINDME\n");
    write(root, "node_modules/left-pad/index.js", "FINDME\n");
    write(
        root,
        "node_modules/@scope/pkg/node_modules/dep/x.js",
        "FINDME\n",
    );
    write(
        root,
        ".venv/lib/python3.12/site-packages/req/api.py",
        "FINDME\n",
    );
    write(root, "dist-packages/mod.py", "FINDME\n");
    // Names that only resemble a dependency directory, and a file so named.
    write(root, "my_node_modules/a.js", "FINDME\n");
    write(root, "lib/node_modules", "FINDME\n");

    let detectors: Vec<std::sync::Arc<dyn bulwark_scan::FileDetector>> =
        vec![std::sync::Arc::new(SkipsDependencies)];
    let mut opts = ScanOptions::new(root, detectors.clone());
    opts.respect_gitignore = false;
    let report = scan_tree(&opts).unwrap();
    assert_eq!(
        places(&report),
        [
            "lib/node_modules:1",
            "my_node_modules/a.js:1",
            "src/app.js:1"
        ]
    );
    // Files are still read and counted: other detectors (secrets, supply
    // chain) run there.
    assert_eq!(report.files_scanned, 7);

    // A root inside node_modules is dependency code too.
    let inside = ScanOptions::new(root.join("node_modules/left-pad"), detectors.clone());
    assert!(scan_tree(&inside).unwrap().findings.is_empty());

    opts.analyze_dependencies = true;
    let report = scan_tree(&opts).unwrap();
    assert_eq!(report.findings.len(), 7);
}
