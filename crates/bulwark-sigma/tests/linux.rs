//! Linux logs through the mappings of `mappings/linux.yml`, with SigmaHQ's
//! Linux rules: auditd (process creation from EXECVE), syslog, journald JSON.

use std::path::{Path, PathBuf};

use bulwark_sigma::{HuntOptions, RuleSet, hunt};

fn linux_rules() -> Option<RuleSet> {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/sigma/rules/linux");
    root.is_dir().then(|| RuleSet::load(&[root]).unwrap())
}

fn fired(rules: &RuleSet, name: &str, text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let report = hunt(rules, &[path], &HuntOptions::default());
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    report
        .detections
        .iter()
        .filter_map(|d| d.rule_id.clone())
        .collect()
}

const AUDIT: &str = r#"type=SYSCALL msg=audit(1700000000.100:501): arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 ppid=900 pid=901 auid=1000 uid=1000 gid=1000 euid=1000 comm="base64" exe="/usr/bin/base64" key="exec"
type=EXECVE msg=audit(1700000000.100:501): argc=3 a0="base64" a1="-d" a2="/tmp/payload.b64"
type=CWD msg=audit(1700000000.100:501): cwd="/tmp"
type=SYSCALL msg=audit(1700000001.200:502): arch=c000003e syscall=59 success=yes exit=0 ppid=900 pid=902 auid=1000 uid=1000 comm="truncate" exe="/usr/bin/truncate" key="exec"
type=EXECVE msg=audit(1700000001.200:502): argc=4 a0="truncate" a1="-s" a2="+5" a3=2F746D702F62696E
type=SYSCALL msg=audit(1700000002.300:503): arch=c000003e syscall=59 success=yes exit=0 ppid=900 pid=903 auid=1000 uid=1000 comm="ls" exe="/usr/bin/ls" key="exec"
type=EXECVE msg=audit(1700000002.300:503): argc=2 a0="ls" a1="-la"
"#;

#[test]
fn auditd_execve_is_process_creation_and_auditd() {
    let Some(rules) = linux_rules() else {
        eprintln!("skipped: shared/corpora/sigma is not beside this checkout");
        return;
    };
    let ids = fired(&rules, "audit.log", AUDIT);
    // proc_creation_lnx_base64_decode (category process_creation, through the mapping)
    assert!(
        ids.contains(&"e2072cab-8c9a-459b-b63c-40ae79e27031".to_string()),
        "{ids:?}"
    );
    // lnx_auditd_binary_padding (service auditd, keywords over the EXECVE record)
    assert!(
        ids.contains(&"c52a914f-3d8b-4b2a-bb75-b3991e75f8ba".to_string()),
        "{ids:?}"
    );
}

#[test]
fn syslog_and_journald_lines_reach_sshd_rules() {
    let Some(rules) = linux_rules() else {
        return;
    };
    let sshd_error = "e76b413a-83d0-4b94-8e4c-85db4a5b8bdc".to_string();
    let ids = fired(
        &rules,
        "auth.log",
        "Nov 21 10:00:01 web1 sshd[811]: Accepted publickey for bob from 10.0.0.5 port 50000 ssh2\n\
         Nov 21 10:00:02 web1 sshd[812]: Corrupted MAC on input. [preauth]\n",
    );
    assert_eq!(
        ids.iter().filter(|i| **i == sshd_error).count(),
        1,
        "{ids:?}"
    );
    // The same message exported by `journalctl -o json`.
    let ids = fired(
        &rules,
        "journal.json",
        r#"{"__REALTIME_TIMESTAMP":"1700000000000000","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"sshd","_PID":"812","_TRANSPORT":"syslog","MESSAGE":"Corrupted MAC on input. [preauth]"}"#,
    );
    assert!(ids.contains(&sshd_error), "{ids:?}");
    // A cron line is not an sshd event.
    let ids = fired(
        &rules,
        "cron.log",
        "Nov 21 10:00:03 web1 CRON[900]: Corrupted MAC on input\n",
    );
    assert!(!ids.contains(&sshd_error), "{ids:?}");
}
