//! Behaviour of the extractor: defanged forms, options, output formats and
//! hostile input.

use bulwark_ioc::{
    CustomPattern, ExtractOptions, Extractor, IocType, extract, refang_str, to_csv, to_stix,
};

fn values(text: &str, options: &ExtractOptions) -> Vec<(IocType, String)> {
    extract(text, options)
        .unwrap()
        .indicators
        .into_iter()
        .map(|i| (i.kind, i.value))
        .collect()
}

fn has(text: &str, kind: IocType, value: &str) -> bool {
    values(text, &ExtractOptions::default())
        .iter()
        .any(|(k, v)| *k == kind && v == value)
}

#[test]
fn every_defang_form_is_refanged() {
    let cases = [
        ("evil[.]com", IocType::Domain, "evil.com"),
        ("evil(.)com", IocType::Domain, "evil.com"),
        ("evil{.}com", IocType::Domain, "evil.com"),
        ("evil[dot]com", IocType::Domain, "evil.com"),
        ("evil dot com", IocType::Domain, "evil.com"),
        ("bob[@]evil.com", IocType::Email, "bob@evil.com"),
        ("bob at evil dot com", IocType::Email, "bob@evil.com"),
        ("hxxp://evil.com/a", IocType::Url, "http://evil.com/a"),
        ("hXXps://evil.com/a", IocType::Url, "https://evil.com/a"),
        ("http[:]//evil.com/a", IocType::Url, "http://evil.com/a"),
        ("http://evil.com[/]a", IocType::Url, "http://evil.com/a"),
        (
            "hxxps[:]//evil[.]com[/]a(.)php",
            IocType::Url,
            "https://evil.com/a.php",
        ),
        ("8.8.8[.]8", IocType::Ipv4, "8.8.8.8"),
        ("8[.]8[.]8[.]8", IocType::Ipv4, "8.8.8.8"),
    ];
    for (text, kind, value) in cases {
        let found = values(&format!("seen: {text} today"), &ExtractOptions::default());
        assert!(
            found.iter().any(|(k, v)| *k == kind && v == value),
            "{text} → {found:?}"
        );
    }
}

#[test]
fn indicators_keep_original_text_count_and_offsets() {
    let text = "first hxxp://evil[.]com/x then evil.com and again evil[.]com";
    let result = extract(text, &ExtractOptions::default()).unwrap();
    let domain = result
        .indicators
        .iter()
        .find(|i| i.kind == IocType::Domain)
        .unwrap();
    assert_eq!(domain.value, "evil.com");
    assert_eq!(domain.count, 3);
    assert!(domain.defanged);
    let spans: Vec<&str> = domain
        .offsets
        .iter()
        .map(|o| &text[o.start as usize..o.end as usize])
        .collect();
    assert_eq!(spans, ["evil[.]com", "evil.com", "evil[.]com"]);
    let url = result
        .indicators
        .iter()
        .find(|i| i.kind == IocType::Url)
        .unwrap();
    assert_eq!(url.original, "hxxp://evil[.]com/x");
    assert_eq!(url.value, "http://evil.com/x");
}

#[test]
fn types_are_validated_not_just_matched() {
    assert!(!has("see 999.1.1.1 and 1.2.3", IocType::Ipv4, "999.1.1.1"));
    assert!(has(
        "fe80::1ff:fe23:4567:890a%eth0 and 2001:db8::1",
        IocType::Ipv6,
        "2001:db8::1"
    ));
    assert!(values("C++ uses std::vector and a::b", &ExtractOptions::default()).is_empty());
    assert!(values("at 12:30:45 on 2024-01-02", &ExtractOptions::default()).is_empty());
    assert!(!has(
        "file report.pdf and setup.exe",
        IocType::Domain,
        "setup.exe"
    ));
    assert!(has(
        "beacon to c2.evil.co.uk now",
        IocType::Domain,
        "c2.evil.co.uk"
    ));
    assert!(!has("the co.uk suffix", IocType::Domain, "co.uk"));
    // Bad checksum: one character changed.
    assert!(!has(
        "pay 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
        IocType::BitcoinAddress,
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"
    ));
    assert!(has(
        "pay 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        IocType::BitcoinAddress,
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    ));
    // 34 hex characters is no hash; 0000... is no hash.
    assert!(
        values(
            "adc83b191b1c6ea0fd8b46cd9f32e592fc",
            &ExtractOptions::default()
        )
        .is_empty()
    );
    assert!(values(&"0".repeat(32), &ExtractOptions::default()).is_empty());
    assert!(has(
        "HKLM\\Software\\Run\\x",
        IocType::RegistryKey,
        "HKEY_LOCAL_MACHINE\\Software\\Run\\x"
    ));
    assert!(has(
        "mac 0011.2233.4455 seen",
        IocType::MacAddress,
        "0011.2233.4455"
    ));
    assert!(has(
        "exploits cve-2021-44228.",
        IocType::Cve,
        "CVE-2021-44228"
    ));
    assert!(has(
        "uses T1003.001.",
        IocType::AttackTechnique,
        "T1003.001"
    ));
    assert!(!has("uses t1003", IocType::AttackTechnique, "t1003"));
}

#[test]
fn private_addresses_and_benign_domains_can_be_dropped() {
    let text = "10.0.0.5 192.168.1.1 127.0.0.1 8.8.8.8 fd00::1 2606:4700::1111 http://10.1.1.1/x www.microsoft.com evil.com bob@google.com";
    let options = ExtractOptions {
        exclude_private: true,
        exclude_benign: true,
        benign_domains: vec!["evil-but-ours.net".into()],
        ..ExtractOptions::default()
    };
    let found = values(&format!("{text} cdn.evil-but-ours.net"), &options);
    let vals: Vec<&str> = found.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(
        vals,
        ["8.8.8.8", "2606:4700::1111", "evil.com"],
        "{found:?}"
    );
    let result = extract(text, &options).unwrap();
    assert!(result.excluded >= 8);
}

#[test]
fn type_filter_and_custom_patterns() {
    let options = ExtractOptions {
        types: vec![IocType::Custom, IocType::Md5],
        custom: vec![CustomPattern {
            name: "ticket".into(),
            regex: r"INC-(\d{6})".into(),
        }],
        ..ExtractOptions::default()
    };
    let found = values(
        "INC-123456 evil.com 5640486daa6880d667b76c958820361a",
        &options,
    );
    assert_eq!(
        found,
        [
            (IocType::Md5, "5640486daa6880d667b76c958820361a".to_string()),
            (IocType::Custom, "123456".to_string())
        ]
    );
    let err = Extractor::new(ExtractOptions {
        custom: vec![CustomPattern {
            name: "broken".into(),
            regex: "(".into(),
        }],
        ..ExtractOptions::default()
    })
    .err()
    .unwrap();
    assert!(err.to_string().contains("broken"), "{err}");
}

#[test]
fn csv_quotes_and_guards_formulas() {
    let result = extract(
        "=cmd|' /C calc'!A0 http://evil.com/a,b \"q\" C:\\x\\=1+2.exe",
        &ExtractOptions::default(),
    )
    .unwrap();
    let csv = to_csv(&result);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "type,name,value,original,defanged,count,first_file,first_start,first_end"
    );
    assert!(csv.contains("\"http://evil.com/a,b\""), "{csv}");
    for line in csv.lines() {
        for field in line.split(',') {
            assert!(!field.starts_with('='), "formula in CSV: {line}");
        }
    }
}

#[test]
fn stix_bundle_is_well_formed() {
    let text = "evil[.]com 8.8.8.8 2606:4700::1111 91.243.44.0/24 http://evil.com/a bob@evil.com \
        5640486daa6880d667b76c958820361a 438834e7c36b0a9dd0e991a3f4fabeef033faae2 \
        122c597083bd438b7f6d72af75d025948899647711b806bdd2cd82fa69713db3 C:\\Users\\o'brien\\evil.exe /tmp/x/y.sh \
        HKCU\\Software\\Run\\x 00:50:56:a3:1f:9c 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa CVE-2021-44228 T1059.001";
    let result = extract(text, &ExtractOptions::default()).unwrap();
    let bundle = to_stix(&result);
    assert_eq!(bundle["type"], "bundle");
    let id_re = regex::Regex::new(
        r"^[a-z][a-z0-9-]+--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
    )
    .unwrap();
    let ts_re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$").unwrap();
    // [object-type:path = 'value'] (AND ...)* with quotes and backslashes escaped.
    let pattern_re = regex::Regex::new(
        r"^\[[a-z0-9-]+:[A-Za-z0-9_.'-]+ = '(?:[^'\\]|\\['\\])*'(?: AND [a-z0-9-]+:[A-Za-z0-9_.'-]+ = '(?:[^'\\]|\\['\\])*')*\]$",
    )
    .unwrap();
    assert!(id_re.is_match(bundle["id"].as_str().unwrap()));
    let objects = bundle["objects"].as_array().unwrap();
    let mut kinds = std::collections::BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    for o in objects {
        let t = o["type"].as_str().unwrap();
        *kinds.entry(t.to_string()).or_insert(0) += 1;
        let id = o["id"].as_str().unwrap();
        assert!(
            id_re.is_match(id) && id.starts_with(&format!("{t}--")),
            "{o}"
        );
        assert!(ids.insert(id.to_string()), "duplicate id {id}");
        assert_eq!(o["spec_version"], "2.1");
        for k in ["created", "modified"] {
            assert!(ts_re.is_match(o[k].as_str().unwrap()), "{o}");
        }
        if t == "indicator" {
            assert_eq!(o["pattern_type"], "stix");
            assert!(ts_re.is_match(o["valid_from"].as_str().unwrap()));
            let p = o["pattern"].as_str().unwrap();
            assert!(pattern_re.is_match(p), "bad pattern {p}");
        } else {
            assert!(
                o["external_references"][0]["external_id"].is_string(),
                "{o}"
            );
        }
    }
    assert_eq!(kinds.get("vulnerability"), Some(&1));
    assert_eq!(kinds.get("attack-pattern"), Some(&1));
    assert!(kinds["indicator"] >= 14, "{kinds:?}");
    let patterns: Vec<&str> = objects
        .iter()
        .filter_map(|o| o["pattern"].as_str())
        .collect();
    assert!(patterns.contains(&"[file:hashes.'SHA-256' = '122c597083bd438b7f6d72af75d025948899647711b806bdd2cd82fa69713db3']"));
    assert!(patterns.contains(&"[file:name = 'evil.exe' AND file:parent_directory_ref.path = 'C:\\\\Users\\\\o\\'brien']"), "{patterns:?}");
}

#[test]
fn binary_garbage_and_huge_lines_are_survived() {
    // Pseudo-random bytes (xorshift), with an indicator in the middle.
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut bytes: Vec<u8> = (0..2_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    bytes.extend_from_slice(b" evil-garbage[.]com ");
    bytes.extend((0..1000).map(|i| (i % 256) as u8));
    let extractor = Extractor::new(ExtractOptions::default()).unwrap();
    let result = extractor.extract_text(&bytes);
    assert!(
        result
            .indicators
            .iter()
            .any(|i| i.value == "evil-garbage.com")
    );
    // One 20 MB line with no line end (chunks are cut mid-line), indicators at both ends.
    let mut huge = b"start 8.8.4.4 ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 20 << 20));
    huge.extend_from_slice(b" 1.1.1.1 end");
    let mut collector = bulwark_ioc::Collector::new(extractor.options());
    extractor
        .extract_reader(&huge[..], Some("huge.txt"), &mut collector)
        .unwrap();
    let result = collector.finish();
    let vals: Vec<&str> = result.indicators.iter().map(|i| i.value.as_str()).collect();
    assert_eq!(vals, ["8.8.4.4", "1.1.1.1"]);
    assert_eq!(result.bytes as usize, huge.len());
    let last = &result.indicators[1].offsets[0];
    assert_eq!(&huge[last.start as usize..last.end as usize], b"1.1.1.1");
    assert_eq!(last.file.as_deref(), Some("huge.txt"));
}

#[test]
fn limits_bound_memory() {
    let text: String = (0..5000).map(|i| format!("host{i}.evil.com ")).collect();
    let result = extract(
        &text,
        &ExtractOptions {
            max_indicators: 100,
            max_offsets: 0,
            ..ExtractOptions::default()
        },
    )
    .unwrap();
    assert_eq!(result.indicators.len(), 100);
    assert_eq!(result.dropped, 4900);
    assert!(result.indicators.iter().all(|i| i.offsets.is_empty()));
}

#[test]
fn refang_str_is_idempotent() {
    for s in ["hxxp://a[.]b[.]com", "a dot b dot com", "plain text"] {
        let once = refang_str(s);
        assert_eq!(refang_str(&once), once);
    }
}

#[test]
fn hex_and_digit_words_do_not_hide_domains() {
    for d in [
        "c2.evil.com",
        "beef.cafe.net",
        "1password-update.com",
        "3cx-cdn.net",
        "dead.io",
    ] {
        assert!(
            has(&format!("beacon to {d} now"), IocType::Domain, d),
            "{d}"
        );
    }
}

/// Random mixes of defang markers, indicator pieces and junk bytes: no
/// panic, and every offset points at text that refangs to something the
/// indicator was built from (the first one at exactly `original`).
#[test]
fn random_defanged_text_keeps_offsets_consistent() {
    const PIECES: &[&[u8]] = &[
        b"[.]",
        b"(.)",
        b"{.}",
        b"[dot]",
        b" dot ",
        b" at ",
        b"[@]",
        b"[:]",
        b"[/]",
        b"hxxp",
        b"://",
        b"evil",
        b"com",
        b"co.uk",
        b"8.8.8.8",
        b"2606:4700::1111",
        b"C:\\Users\\",
        b"/tmp/",
        b"x.exe",
        b"HKLM\\Run\\",
        b" ",
        b"\n",
        b".",
        b"@",
        b"-",
        b"5640486daa6880d667b76c958820361a",
        b"\xff\xfe",
        b"\x00",
        b"T1059",
        b"CVE-2024-1234",
    ];
    let extractor = Extractor::new(ExtractOptions::default()).unwrap();
    let mut x: u64 = 0x2545f4914f6cdd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..2000 {
        let n = (next() % 60) as usize;
        let mut text = Vec::new();
        for _ in 0..n {
            text.extend_from_slice(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        let result = extractor.extract_text(&text);
        for i in &result.indicators {
            let first = &i.offsets[0];
            assert!(
                first.start <= first.end && first.end as usize <= text.len(),
                "{i:?}"
            );
            let span = String::from_utf8_lossy(&text[first.start as usize..first.end as usize])
                .into_owned();
            assert_eq!(
                span,
                i.original,
                "{:?} in {:?}",
                i,
                String::from_utf8_lossy(&text)
            );
            for o in &i.offsets {
                assert!(o.start < o.end && o.end as usize <= text.len());
            }
        }
    }
}
