//! The HTML report in a real browser: headless Chromium renders it (a
//! screenshot), and the URL fragment drives the filters (`--dump-dom`).
//! Chromium is a test prerequisite: `scripts/test` installs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bulwark_scan::{Format, render};

fn chromium() -> PathBuf {
    for candidate in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "headless Chromium is required for the HTML report tests but /usr/bin/chromium is missing; \
         run scripts/test (it installs Debian's `chromium` with apt-get) or `apt-get install -y chromium`"
    );
}

/// Runs Chromium headless with `extra` arguments on `url`; stdout.
fn run_chromium(extra: &[String], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let stderr = child.stderr.take().unwrap();
    let err_reader =
        std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = reader.join().unwrap();
            let err = err_reader.join().unwrap();
            assert!(status.success(), "chromium failed ({status}): {err}");
            return out;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn write_report() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    std::fs::write(
        &path,
        render(&common::sample::report(), Format::Html, false),
    )
    .unwrap();
    (dir, format!("file://{}", path.display()))
}

#[test]
fn screenshot_of_the_html_report() {
    let (_dir, url) = write_report();
    let target = target_dir();
    std::fs::create_dir_all(&target).unwrap();
    let shot = target.join("scan-report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,900".to_string(),
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 900));
    assert!(
        png.len() > 20_000,
        "a blank page compresses to far less: {} bytes",
        png.len()
    );
    println!(
        "screenshot: {} ({} bytes)",
        shot.canonicalize().unwrap_or(shot.clone()).display(),
        png.len()
    );
}

/// `(severity, hidden)` of each findings row, and the "Showing" text.
fn rows(dom: &str) -> (Vec<(String, bool)>, String) {
    let mut out = Vec::new();
    for piece in dom.split("<tr ").skip(1) {
        let tag = &piece[..piece.find('>').unwrap()];
        if !tag.contains("class=\"finding") {
            continue;
        }
        let severity = tag
            .split("data-severity=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let hidden = tag
            .split_whitespace()
            .any(|attr| attr == "hidden" || attr.starts_with("hidden="));
        out.push((severity, hidden));
    }
    let shown = dom
        .split("id=\"shown\">")
        .nth(1)
        .map(|rest| rest.split('<').next().unwrap().to_string())
        .unwrap_or_default();
    (out, shown)
}

fn visible(url: &str, fragment: &str) -> (Vec<(String, bool)>, String) {
    let dom = run_chromium(
        &[
            "--dump-dom".to_string(),
            "--virtual-time-budget=3000".to_string(),
        ],
        &format!("{url}{fragment}"),
    );
    assert!(dom.contains("id=\"findings\""), "no report in DOM: {dom}");
    rows(&dom)
}

#[test]
fn url_fragment_filters_rows() {
    let (_dir, url) = write_report();

    let (all, shown) = visible(&url, "");
    assert_eq!(all.len(), 7);
    assert!(all.iter().all(|(_, hidden)| !hidden));
    assert_eq!(shown, "Showing 7 of 7");

    let (high, shown) = visible(&url, "#severity=high");
    assert_eq!(high.len(), 7);
    for (severity, hidden) in &high {
        assert_eq!(*hidden, severity != "high", "{severity} hidden={hidden}");
    }
    assert_eq!(high.iter().filter(|(_, h)| !h).count(), 3);
    assert_eq!(shown, "Showing 3 of 7");

    let (both, shown) = visible(&url, "#severity=high&rule=TEST-OTHER");
    assert_eq!(both.iter().filter(|(_, h)| !h).count(), 2, "{both:?}");
    assert_eq!(shown, "Showing 2 of 7");

    let (file, _) = visible(&url, "#file=src%2Fserver.py");
    assert_eq!(file.iter().filter(|(_, h)| !h).count(), 2);

    let (text, _) = visible(&url, "#q=PWNED");
    assert_eq!(
        text.iter()
            .filter(|(_, h)| !h)
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>(),
        ["high"]
    );

    // An unknown value falls back to "all" rather than hiding everything.
    let (unknown, _) = visible(&url, "#severity=%3Cscript%3E");
    assert!(unknown.iter().all(|(_, hidden)| !hidden));
}
