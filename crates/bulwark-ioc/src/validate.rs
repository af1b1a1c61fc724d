//! Checks that turn regex candidates into indicators: public suffixes,
//! address classes, Bitcoin checksums.

use std::net::{Ipv4Addr, Ipv6Addr};

/// TLDs that are also common file extensions: `evil.zip` or `run.sh` is a
/// domain only when written defanged, inside a URL or email, or with three
/// or more labels.
const EXTENSION_TLDS: &[&str] = &[
    "zip", "mov", "sh", "py", "rs", "md", "pl", "ps", "so", "rb", "pm", "cs", "gz", "cab",
];

/// Labels that mark a file name (`bundle.tar.gz`, `setup.exe.zip`).
const EXTENSION_LABELS: &[&str] = &[
    "tar", "exe", "dll", "doc", "docx", "xls", "xlsx", "pdf", "txt", "log", "bak", "tmp", "js",
    "jpg", "png", "gif", "iso", "bin",
];

/// Well-known domains dropped with `exclude_benign` (their subdomains too).
pub const BENIGN_DOMAINS: &[&str] = &[
    "example.com",
    "example.net",
    "example.org",
    "example.edu",
    "localhost",
    "microsoft.com",
    "windows.com",
    "windowsupdate.com",
    "msftncsi.com",
    "office.com",
    "live.com",
    "google.com",
    "googleapis.com",
    "gstatic.com",
    "apple.com",
    "icloud.com",
    "mozilla.org",
    "w3.org",
    "schema.org",
    "xmlsoap.org",
    "ietf.org",
    "mitre.org",
    "nist.gov",
    "github.com",
    "wikipedia.org",
    "digicert.com",
    "verisign.com",
    "symantec.com",
];

/// A domain name whose suffix is on the public suffix list and that has a
/// registrable part (`evil.co.uk` yes, `co.uk` and `evil.exe` no).
pub fn valid_domain(name: &str, strict_extensions: bool) -> bool {
    if name.len() > 253 || !name.contains('.') {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    if !lower
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return false;
    }
    if lower
        .split('.')
        .any(|l| l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-'))
    {
        return false;
    }
    let Some(suffix) = psl::suffix(lower.as_bytes()) else {
        return false;
    };
    if !suffix.is_known() {
        return false;
    }
    if psl::domain(lower.as_bytes()).is_none() {
        return false;
    }
    if strict_extensions {
        let tld = lower.rsplit('.').next().unwrap_or("");
        if EXTENSION_TLDS.contains(&tld)
            && (lower.matches('.').count() < 2
                || lower.split('.').any(|l| EXTENSION_LABELS.contains(&l)))
        {
            return false;
        }
    }
    true
}

/// Whether `name` is, or is under, one of `list`.
pub fn under_any(name: &str, list: &[String]) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    list.iter().any(|d| {
        let d = d.trim().trim_start_matches("*.").to_ascii_lowercase();
        !d.is_empty()
            && (name == d
                || (name.len() > d.len()
                    && name.ends_with(&d)
                    && name.as_bytes()[name.len() - d.len() - 1] == b'.'))
    })
}

/// Private, loopback, link-local, documentation, shared, multicast,
/// broadcast, unspecified and other reserved IPv4 space.
pub fn reserved_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1]))
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (18..20).contains(&o[1]))
        || o[0] >= 240
}

/// The IPv6 counterparts: loopback, unspecified, unique local, link-local,
/// multicast, documentation, and mapped IPv4 that is itself reserved.
pub fn reserved_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return reserved_v4(v4);
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0x0db8)
}

/// Whether an IP (either family, as text) is reserved.
pub fn reserved_ip(text: &str) -> bool {
    let bare = text.split('/').next().unwrap_or(text);
    if let Ok(v4) = bare.parse::<Ipv4Addr>() {
        return reserved_v4(v4);
    }
    if let Ok(v6) = bare.parse::<Ipv6Addr>() {
        return reserved_v6(v6);
    }
    false
}

const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

fn base58_decode(s: &str) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(32);
    for c in s.bytes() {
        let mut carry = BASE58.iter().position(|&b| b == c)? as u32;
        for byte in out.iter_mut().rev() {
            carry += (*byte as u32) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            out.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = s.bytes().take_while(|&b| b == b'1').count();
    let mut full = vec![0u8; zeros];
    full.extend(out);
    Some(full)
}

/// A legacy (P2PKH/P2SH, base58check) or SegWit/Taproot (bech32/bech32m)
/// Bitcoin address with a correct checksum.
pub fn valid_bitcoin(s: &str) -> bool {
    if s.len() >= 14 && s[..3].eq_ignore_ascii_case("bc1") {
        return valid_bech32(s);
    }
    let Some(bytes) = base58_decode(s) else {
        return false;
    };
    if bytes.len() != 25 || !(bytes[0] == 0 || bytes[0] == 5) {
        return false;
    }
    let (payload, check) = bytes.split_at(21);
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(Sha256::digest(payload));
    digest[..4] == *check
}

fn valid_bech32(s: &str) -> bool {
    const CHARSET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let lower = s.to_ascii_lowercase();
    if lower != s && s.to_ascii_uppercase() != s {
        return false;
    }
    let Some(pos) = lower.rfind('1') else {
        return false;
    };
    let (hrp, data) = (&lower[..pos], &lower[pos + 1..]);
    if hrp != "bc" || data.len() < 6 {
        return false;
    }
    let mut values = Vec::with_capacity(hrp.len() * 2 + 1 + data.len());
    values.extend(hrp.bytes().map(|b| b >> 5));
    values.push(0);
    values.extend(hrp.bytes().map(|b| b & 31));
    for c in data.bytes() {
        match CHARSET.iter().position(|&x| x == c) {
            Some(v) => values.push(v as u8),
            None => return false,
        }
    }
    let mut chk: u32 = 1;
    const GEN: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ v as u32;
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk == 1 || chk == 0x2bc830a3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_need_a_public_suffix() {
        assert!(valid_domain("evil.co.uk", true));
        assert!(valid_domain("update-check.xyz", true));
        assert!(!valid_domain("co.uk", true));
        assert!(!valid_domain("evil.exe", true));
        assert!(!valid_domain("script.py", true));
        assert!(valid_domain("script.py", false));
        assert!(!valid_domain("a..com", true));
    }

    #[test]
    fn bitcoin_checksums() {
        assert!(valid_bitcoin("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"));
        assert!(valid_bitcoin("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
        assert!(valid_bitcoin("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"));
        assert!(!valid_bitcoin("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"));
        assert!(!valid_bitcoin("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdx"));
    }

    #[test]
    fn reserved_addresses() {
        assert!(reserved_ip("10.1.2.3"));
        assert!(reserved_ip("192.168.0.0/16"));
        assert!(reserved_ip("fe80::1"));
        assert!(reserved_ip("2001:db8::5"));
        assert!(!reserved_ip("8.8.8.8"));
        assert!(!reserved_ip("2606:4700::1111"));
    }

    #[test]
    fn benign_lists_cover_subdomains() {
        let list = vec!["microsoft.com".to_string()];
        assert!(under_any("update.microsoft.com", &list));
        assert!(under_any("microsoft.com", &list));
        assert!(!under_any("evilmicrosoft.com", &list));
    }
}
