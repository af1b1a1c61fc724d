//! Writers: CSV and a STIX 2.1 bundle.

use serde_json::{Value, json};

use crate::extract::{Extraction, Indicator, IocType};

pub use bulwark_core::csv::csv_field;

/// `type,name,value,original,defanged,count,first_file,first_start,first_end`
pub fn to_csv(extraction: &Extraction) -> String {
    let mut out =
        String::from("type,name,value,original,defanged,count,first_file,first_start,first_end\n");
    for i in &extraction.indicators {
        let first = i.offsets.first();
        let row = [
            i.kind.as_str().to_string(),
            i.name.clone().unwrap_or_default(),
            i.value.clone(),
            i.original.clone(),
            i.defanged.to_string(),
            i.count.to_string(),
            first.and_then(|o| o.file.clone()).unwrap_or_default(),
            first.map(|o| o.start.to_string()).unwrap_or_default(),
            first.map(|o| o.end.to_string()).unwrap_or_default(),
        ];
        let fields: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// A value inside a STIX pattern string literal.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The STIX pattern for an indicator, or `None` for kinds STIX does not
/// express as an observable (CVE and ATT&CK ids become other objects).
pub fn stix_pattern(i: &Indicator) -> Option<String> {
    let v = &i.value;
    let p = match i.kind {
        IocType::Ipv4 => format!("[ipv4-addr:value = {}]", quote(v)),
        IocType::Cidr if v.contains(':') => format!("[ipv6-addr:value = {}]", quote(v)),
        IocType::Cidr => format!("[ipv4-addr:value = {}]", quote(v)),
        IocType::Ipv6 => format!("[ipv6-addr:value = {}]", quote(v)),
        IocType::Domain => format!("[domain-name:value = {}]", quote(v)),
        IocType::Url => format!("[url:value = {}]", quote(v)),
        IocType::Email => format!("[email-addr:value = {}]", quote(v)),
        IocType::Md5 => format!("[file:hashes.MD5 = {}]", quote(v)),
        IocType::Sha1 => format!("[file:hashes.'SHA-1' = {}]", quote(v)),
        IocType::Sha256 => format!("[file:hashes.'SHA-256' = {}]", quote(v)),
        IocType::Sha512 => format!("[file:hashes.'SHA-512' = {}]", quote(v)),
        IocType::WindowsPath | IocType::UnixPath => {
            let sep = if i.kind == IocType::WindowsPath {
                '\\'
            } else {
                '/'
            };
            match v.rsplit_once(sep) {
                Some((dir, name)) if !name.is_empty() && !dir.is_empty() => format!(
                    "[file:name = {} AND file:parent_directory_ref.path = {}]",
                    quote(name),
                    quote(dir)
                ),
                _ => format!("[directory:path = {}]", quote(v)),
            }
        }
        IocType::RegistryKey => format!("[windows-registry-key:key = {}]", quote(v)),
        IocType::MacAddress => format!("[mac-addr:value = {}]", quote(v)),
        IocType::BitcoinAddress => format!("[x-bitcoin-address:value = {}]", quote(v)),
        IocType::Custom => format!(
            "[x-bulwark-{}:value = {}]",
            i.name
                .as_deref()
                .unwrap_or("custom")
                .to_ascii_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
            quote(v)
        ),
        IocType::Cve | IocType::AttackTechnique => return None,
    };
    Some(p)
}

/// RFC 3339 UTC with milliseconds, as STIX wants (`2026-01-02T03:04:05.678Z`).
pub fn stix_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        now.subsec_millis()
    )
}

fn id(kind: &str) -> String {
    format!("{kind}--{}", uuid::Uuid::new_v4())
}

/// A STIX 2.1 bundle: one `indicator` per observable value, a
/// `vulnerability` per CVE and an `attack-pattern` per ATT&CK id.
pub fn to_stix(extraction: &Extraction) -> Value {
    let now = stix_now();
    let mut objects = Vec::new();
    for i in &extraction.indicators {
        match i.kind {
            IocType::Cve => objects.push(json!({
                "type": "vulnerability",
                "spec_version": "2.1",
                "id": id("vulnerability"),
                "created": now,
                "modified": now,
                "name": i.value,
                "external_references": [{"source_name": "cve", "external_id": i.value}],
            })),
            IocType::AttackTechnique => objects.push(json!({
                "type": "attack-pattern",
                "spec_version": "2.1",
                "id": id("attack-pattern"),
                "created": now,
                "modified": now,
                "name": i.value,
                "external_references": [{
                    "source_name": "mitre-attack",
                    "external_id": i.value,
                    "url": format!("https://attack.mitre.org/{}/{}", if i.value.starts_with("TA") { "tactics" } else { "techniques" }, i.value.replace('.', "/")),
                }],
            })),
            _ => {
                let Some(pattern) = stix_pattern(i) else { continue };
                objects.push(json!({
                    "type": "indicator",
                    "spec_version": "2.1",
                    "id": id("indicator"),
                    "created": now,
                    "modified": now,
                    "name": format!("{}: {}", i.kind.as_str(), i.value),
                    "description": format!("Extracted by bulwark ({} occurrence{}; first seen as `{}`)", i.count, if i.count == 1 { "" } else { "s" }, i.original),
                    "indicator_types": ["unknown"],
                    "pattern": pattern,
                    "pattern_type": "stix",
                    "pattern_version": "2.1",
                    "valid_from": now,
                }));
            }
        }
    }
    json!({
        "type": "bundle",
        "id": id("bundle"),
        "objects": objects,
    })
}
