//! Extraction measured on text: the labelled threat reports written for
//! this crate (tests/fixtures/ioc/labelled-reports.txt, every indicator
//! between ⟦ ⟧) and iocextract's corpus (shared/corpora/ioc).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bulwark_ioc::{ExtractOptions, IocType, extract, refang_str};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One spelling per value: refanged, lowercase, no trailing slash,
/// registry hives spelled out, IPv6 compressed.
fn norm(value: &str) -> String {
    let mut v = refang_str(value.trim()).to_ascii_lowercase();
    while v.ends_with('/') {
        v.pop();
    }
    for (short, long) in [
        ("hklm\\", "hkey_local_machine\\"),
        ("hkcu\\", "hkey_current_user\\"),
        ("hkcr\\", "hkey_classes_root\\"),
    ] {
        if let Some(rest) = v.strip_prefix(short) {
            v = format!("{long}{rest}");
        }
    }
    if let Ok(ip) = v.parse::<std::net::Ipv6Addr>() {
        v = ip.to_string();
    }
    v
}

struct Labelled {
    text: String,
    /// (start, end, marked text) in `text`.
    spans: Vec<(usize, usize, String)>,
}

fn labelled() -> Labelled {
    let raw =
        std::fs::read_to_string(repo().join("tests/fixtures/ioc/labelled-reports.txt")).unwrap();
    let mut text = String::new();
    let mut spans = Vec::new();
    let mut rest = raw.as_str();
    while let Some(open) = rest.find('⟦') {
        text.push_str(&rest[..open]);
        let after = &rest[open + '⟦'.len_utf8()..];
        let close = after.find('⟧').expect("every ⟦ is closed");
        let start = text.len();
        text.push_str(&after[..close]);
        spans.push((start, text.len(), after[..close].to_string()));
        rest = &after[close + '⟧'.len_utf8()..];
    }
    text.push_str(rest);
    Labelled { text, spans }
}

#[test]
fn labelled_reports_precision_and_recall() {
    let l = labelled();
    let expected: BTreeSet<String> = l.spans.iter().map(|(_, _, s)| norm(s)).collect();
    let result = extract(&l.text, &ExtractOptions::default()).unwrap();
    // URL hosts and email domains are reported too; the labels mark the
    // URL or email only, so those are neither right nor wrong.
    let mut derived = BTreeSet::new();
    for v in &expected {
        if let Some(host) = v.split("://").nth(1) {
            let host = host.split(['/', '?']).next().unwrap();
            let host = host
                .rsplit_once(':')
                .filter(|(h, p)| {
                    !h.ends_with(':') && p.parse::<u16>().is_ok() && !h.contains("::")
                        || h.starts_with('[')
                })
                .map(|(h, _)| h)
                .unwrap_or(host);
            derived.insert(norm(host.trim_matches(|c| c == '[' || c == ']')));
        }
        if let Some((_, domain)) = v.rsplit_once('@') {
            derived.insert(domain.to_string());
        }
    }
    let found: BTreeSet<String> = result.indicators.iter().map(|i| norm(&i.value)).collect();
    let tp: Vec<_> = found.intersection(&expected).collect();
    let fp: Vec<_> = found
        .iter()
        .filter(|v| !expected.contains(*v) && !derived.contains(*v))
        .collect();
    let missed: Vec<_> = expected.difference(&found).collect();
    let precision = tp.len() as f64 / (tp.len() + fp.len()) as f64;
    let recall = tp.len() as f64 / expected.len() as f64;
    eprintln!(
        "labelled: {} expected, {} found, precision {precision:.3}, recall {recall:.3}",
        expected.len(),
        tp.len() + fp.len()
    );
    eprintln!("false positives: {fp:?}");
    eprintln!("missed: {missed:?}");
    assert!(recall >= 0.97, "recall {recall:.3}; missed {missed:?}");
    assert!(
        precision >= 0.97,
        "precision {precision:.3}; false positives {fp:?}"
    );
}

#[test]
fn labelled_offsets_point_at_the_original_text() {
    let l = labelled();
    let result = extract(&l.text, &ExtractOptions::default()).unwrap();
    let mut checked = 0;
    for (start, end, marked) in &l.spans {
        let hit = result
            .indicators
            .iter()
            .flat_map(|i| i.offsets.iter().map(move |o| (i, o)))
            .find(|(_, o)| o.start as usize == *start);
        let Some((indicator, o)) = hit else {
            panic!("nothing reported at offset {start} for `{marked}`");
        };
        assert_eq!(
            &l.text[o.start as usize..o.end as usize],
            marked.as_str(),
            "{indicator:?}"
        );
        assert_eq!(o.end as usize, *end);
        assert_eq!(
            indicator.defanged,
            refang_str(marked) != *marked || indicator.original != *marked,
            "{indicator:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, l.spans.len());
}

#[test]
fn labelled_types_are_right() {
    let l = labelled();
    let result = extract(&l.text, &ExtractOptions::default()).unwrap();
    let kind = |v: &str| {
        result
            .indicators
            .iter()
            .find(|i| norm(&i.value) == norm(v))
            .map(|i| i.kind)
    };
    assert_eq!(kind("CVE-2023-23397"), Some(IocType::Cve));
    assert_eq!(kind("T1566.001"), Some(IocType::AttackTechnique));
    assert_eq!(kind("TA0003"), Some(IocType::AttackTechnique));
    assert_eq!(kind("91.243.44.0/24"), Some(IocType::Cidr));
    assert_eq!(kind("2a0b:4d07:9fe1::44"), Some(IocType::Ipv6));
    assert_eq!(kind("45.9.148.108"), Some(IocType::Ipv4));
    assert_eq!(kind("update-check.xyz"), Some(IocType::Domain));
    assert_eq!(kind("ops-team@protonmail.ch"), Some(IocType::Email));
    assert_eq!(kind("r.moreau@secure-docs-share.com"), Some(IocType::Email));
    assert_eq!(kind("5640486daa6880d667b76c958820361a"), Some(IocType::Md5));
    assert_eq!(
        kind("438834e7c36b0a9dd0e991a3f4fabeef033faae2"),
        Some(IocType::Sha1)
    );
    assert_eq!(
        kind("122c597083bd438b7f6d72af75d025948899647711b806bdd2cd82fa69713db3"),
        Some(IocType::Sha256)
    );
    assert_eq!(kind("00:50:56:a3:1f:9c"), Some(IocType::MacAddress));
    assert_eq!(
        kind("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
        Some(IocType::BitcoinAddress)
    );
    assert_eq!(
        kind("/etc/cron.d/php-sessionclean"),
        Some(IocType::UnixPath)
    );
    assert_eq!(
        kind("C:\\ProgramData\\Intel\\igfx.dll"),
        Some(IocType::WindowsPath)
    );
    assert_eq!(
        kind("\\\\fs01.corp.local\\IT$\\tools\\psexec.exe"),
        Some(IocType::WindowsPath)
    );
    assert_eq!(
        kind("HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\IntelGfxSvc"),
        Some(IocType::RegistryKey)
    );
    assert_eq!(kind("https://paste.ee/r/Gk2x9"), Some(IocType::Url));
    // Prose, versions, code and file names.
    for noise in [
        "2.0.1.7",
        "3.2.1.0",
        "bundle.tar.gz",
        "client.py",
        "build.py",
        "run.sh",
        "end.the",
        "d::",
        "at.noon",
    ] {
        assert_eq!(kind(noise), None, "{noise} is not an indicator");
    }
}

/// iocextract's own corpus: what its valid.txt lists is found (after
/// refanging), except forms bulwark deliberately does not read, and
/// nothing from invalid.txt is.
#[test]
fn iocextract_corpus() {
    let dir = Path::new("/work/shared/corpora/ioc");
    let dir = if dir.exists() {
        dir.to_path_buf()
    } else {
        repo().join("../shared/corpora/ioc")
    };
    let Ok(input) = std::fs::read_to_string(dir.join("input.txt")) else {
        eprintln!("shared corpus not present; skipped");
        return;
    };
    let valid = std::fs::read_to_string(dir.join("valid.txt")).unwrap();
    let invalid = std::fs::read_to_string(dir.join("invalid.txt")).unwrap();
    let result = extract(&input, &ExtractOptions::default()).unwrap();
    let found: BTreeSet<String> = result.indicators.iter().map(|i| norm(&i.value)).collect();
    // Phone numbers are not indicators; commas for dots and half brackets
    // are too ambiguous to refang.
    let unsupported = |v: &str| {
        v.contains(',')
            || v.contains("[example")
            || v.contains("example[.com")
            || v.starts_with("(123)")
            || v.chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == '.')
    };
    let mut missed = Vec::new();
    for line in valid.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if unsupported(line) {
            continue;
        }
        let mut v = norm(line);
        // Without a scheme, `host:port/path` is reported as its host.
        if !v.contains("://") && !v.starts_with('[') && v.matches(':').count() < 2 {
            v = v.split(['/', ':']).next().unwrap().to_string();
        }
        // Bulwark trims a dangling `[.` or `[` from a URL's end.
        v = v
            .trim_end_matches(['[', '.'])
            .trim_end_matches('/')
            .to_string();
        if !found.contains(&v) {
            missed.push(line.to_string());
        }
    }
    assert!(
        missed.is_empty(),
        "missed from valid.txt: {missed:?}\nfound: {found:?}"
    );
    for line in invalid.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line == "100.20.30.0/24" {
            // bulwark reports CIDR ranges by design.
            continue;
        }
        assert!(
            !found.contains(&norm(line)),
            "`{line}` from invalid.txt was extracted"
        );
    }
}
