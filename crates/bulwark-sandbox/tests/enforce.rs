//! Each backend, on this machine, against a real child process (`python3`): a planted secret
//! outside the policy cannot be read, TCP fails with the network off and works with it on, the
//! environment is the allowlist plus the declared variables, and no new privileges.
//!
//! A backend this machine lacks is reported and its tests are skipped with a message
//! (`scripts/test` installs bubblewrap, and this kernel's Landlock is probed).

#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bulwark_sandbox::{Policy, Sandbox, SandboxKind, probe};

struct Scene {
    _root: tempfile::TempDir,
    work: PathBuf,
    secret: PathBuf,
}

fn scene() -> Scene {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("inside.txt"), "visible").unwrap();
    let secret = root.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-VALUE").unwrap();
    Scene {
        _root: root,
        work,
        secret,
    }
}

fn python() -> String {
    for p in ["/usr/bin/python3", "/usr/local/bin/python3"] {
        if Path::new(p).is_file() {
            return p.into();
        }
    }
    panic!("python3 is needed for these tests");
}

fn available(kind: SandboxKind) -> bool {
    let ok = match kind {
        SandboxKind::Bwrap => probe::bwrap().map(|_| ()),
        SandboxKind::Landlock => probe::landlock_abi().map(|_| ()),
        _ => Ok(()),
    };
    if let Err(why) = &ok {
        eprintln!("SKIPPED: the {kind} backend is not available here: {why}");
    }
    ok.is_ok()
}

fn run(
    kind: SandboxKind,
    policy: Policy,
    code: &str,
    declared: &BTreeMap<String, String>,
) -> Output {
    let sandbox = Sandbox::new(kind, policy);
    let report = sandbox.report().unwrap();
    assert_eq!(report.backend, kind.as_str(), "{report:?}");
    let launch = sandbox
        .launch(&python(), &["-c".to_owned(), code.to_owned()])
        .unwrap();
    let env = sandbox.policy.environment(std::env::vars(), declared);
    let mut cmd = Command::new(&launch.program);
    cmd.args(&launch.args)
        .env_clear()
        .envs(env)
        .current_dir(&sandbox.policy.workdir);
    if let Some(mut hook) = launch.pre_exec {
        // SAFETY: the hook only makes async-signal-safe system calls.
        unsafe {
            cmd.pre_exec(move || (hook.0)());
        }
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn files_are_confined(kind: SandboxKind) {
    if !available(kind) {
        return;
    }
    let s = scene();
    let code = format!(
        "import sys\n\
         print(open('inside.txt').read())\n\
         open('written.txt', 'w').write('ok')\n\
         try:\n    print(open({secret:?}).read())\nexcept OSError as e:\n    print('DENIED', e.errno)\n\
         try:\n    open('/usr/bulwark-sandbox-probe', 'w')\nexcept OSError as e:\n    print('RO', e.errno)\n",
        secret = s.secret.display().to_string()
    );
    let out = run(kind, Policy::new(&s.work, false), &code, &BTreeMap::new());
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("visible"), "{all}");
    assert!(all.contains("DENIED"), "{all}");
    assert!(!all.contains("TOP-SECRET-VALUE"), "{all}");
    assert!(all.contains("RO"), "{all}");
    assert_eq!(
        std::fs::read_to_string(s.work.join("written.txt")).unwrap(),
        "ok"
    );
}

fn network_follows_the_policy(kind: SandboxKind) {
    if !available(kind) {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accept = std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut buf = [0u8; 5];
            let _ = conn.read_exact(&mut buf);
            return String::from_utf8_lossy(&buf).into_owned();
        }
        String::new()
    });
    let code = format!(
        "import socket\n\
         try:\n    s = socket.create_connection(('127.0.0.1', {port}), timeout=5)\n    s.sendall(b'hello')\n    print('CONNECTED')\n\
         except OSError as e:\n    print('REFUSED', e)\n"
    );
    let s = scene();
    let off = run(kind, Policy::new(&s.work, false), &code, &BTreeMap::new());
    assert!(text(&off).contains("REFUSED"), "{}", text(&off));
    let on = run(kind, Policy::new(&s.work, true), &code, &BTreeMap::new());
    assert!(text(&on).contains("CONNECTED"), "{}", text(&on));
    assert_eq!(accept.join().unwrap(), "hello");
}

fn environment_and_privileges(kind: SandboxKind) {
    if !available(kind) {
        return;
    }
    let s = scene();
    // SAFETY: set before any thread of this test reads the environment.
    unsafe { std::env::set_var("BULWARK_TEST_PARENT_SECRET", "leaked") };
    let declared = BTreeMap::from([("DECLARED_TOKEN".to_owned(), "given".to_owned())]);
    let code = "import os\n\
                print(sorted(os.environ))\n\
                print(os.environ.get('DECLARED_TOKEN'))\n\
                print([l for l in open('/proc/self/status') if l.startswith('NoNewPrivs')][0])\n";
    let out = run(kind, Policy::new(&s.work, false), code, &declared);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("given"), "{all}");
    assert!(!all.contains("BULWARK_TEST_PARENT_SECRET"), "{all}");
    assert!(all.contains("NoNewPrivs:\t1"), "{all}");
}

#[test]
fn bwrap_confines_files() {
    files_are_confined(SandboxKind::Bwrap);
}

#[test]
fn landlock_confines_files() {
    files_are_confined(SandboxKind::Landlock);
}

#[test]
fn bwrap_network_off_and_on() {
    network_follows_the_policy(SandboxKind::Bwrap);
}

#[test]
fn landlock_network_off_and_on() {
    network_follows_the_policy(SandboxKind::Landlock);
}

#[test]
fn bwrap_environment_and_no_new_privs() {
    environment_and_privileges(SandboxKind::Bwrap);
}

#[test]
fn landlock_environment_and_no_new_privs() {
    environment_and_privileges(SandboxKind::Landlock);
}

#[test]
fn bad_paths_are_refused_before_anything_starts() {
    let s = scene();
    let mut policy = Policy::new(&s.work, false);
    policy.read_only.push("/no/such/dir/for/bulwark".into());
    for kind in [SandboxKind::Bwrap, SandboxKind::Landlock] {
        if !available(kind) {
            continue;
        }
        let sandbox = Sandbox::new(kind, policy.clone());
        let err = sandbox.launch("/bin/true", &[]).unwrap_err().to_string();
        assert!(
            err.contains("/no/such/dir/for/bulwark") && err.contains("does not exist"),
            "{err}"
        );
        assert!(sandbox.report().is_err());
    }
}

#[test]
fn none_runs_as_is_and_says_so() {
    let s = scene();
    let sandbox = Sandbox::new(SandboxKind::None, Policy::new(&s.work, false));
    let report = sandbox.report().unwrap();
    assert_eq!(report.backend, "none");
    assert!(report.enforces.is_empty());
    let launch = sandbox.launch("/bin/true", &[]).unwrap();
    assert_eq!(launch.program, "/bin/true");
    assert!(launch.pre_exec.is_none());
}
