//! The HTML report in a real browser: headless Chromium renders the hostile
//! fixture (a screenshot is saved next to the build output), and the DOM it
//! builds holds no element that came from case text.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bulwark_report::{Format, case, render};

fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "headless Chromium is required for the HTML report test but /usr/bin/chromium is missing; \
                 install it with `apt-get install -y chromium`"
            )
        })
}

/// Chromium headless with `extra` on `url`; returns stdout.
fn headless(extra: &[String], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
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
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let (out, err) = (out.join().unwrap(), err.join().unwrap());
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

fn page() -> (tempfile::TempDir, String) {
    let case = case::parse(include_str!("fixtures/case.json")).unwrap();
    let html = render(&case, Format::Html, "2026-11-21T12:00:00Z")
        .unwrap()
        .html
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    std::fs::write(&path, html).unwrap();
    (dir, format!("file://{}", path.display()))
}

#[test]
fn screenshot_of_the_report() {
    let (_dir, url) = page();
    let shot = target_dir().join("investigation-report-screenshot.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&shot);
    headless(
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,1600".into(),
        ],
        &url,
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 1600));
    assert!(
        png.len() > 30_000,
        "a blank page is far smaller: {} bytes",
        png.len()
    );
    println!("screenshot: {} ({} bytes)", shot.display(), png.len());
}

#[test]
fn case_text_builds_no_elements_in_the_browser() {
    let (_dir, url) = page();
    let dom = headless(
        &["--dump-dom".into(), "--virtual-time-budget=2000".into()],
        &url,
    );
    assert!(dom.contains("<section id=\"recommendations\">"), "{dom}");
    let lower = dom.to_lowercase();
    assert!(!lower.contains("<script"), "a script element exists");
    assert!(!lower.contains("<img"), "an img element exists");
    // The title is the escaped text, not something a script changed.
    assert!(
        dom.contains(
            "<title>Web server compromise &lt;script&gt;alert('title')&lt;/script&gt;</title>"
        ),
        "{}",
        &dom[..dom.find("</title>").unwrap_or(0) + 8]
    );
    // Every table row kept its five timeline cells: the `</td>` in the
    // auditd message did not close a cell.
    let timeline = dom.split("<section id=\"timeline\">").nth(1).unwrap();
    let timeline = timeline.split("</section>").next().unwrap();
    for row in timeline.split("<tr>").skip(2) {
        assert_eq!(row.matches("<td").count(), 5, "{row}");
    }
}
