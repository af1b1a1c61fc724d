//! Checks that separate real-looking credentials from placeholders.

/// Shannon entropy in bits per character.
pub(crate) fn entropy(s: &str) -> f64 {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Counts of (lowercase, uppercase, digit, other) characters.
pub(crate) fn classes(s: &str) -> (usize, usize, usize, usize) {
    let mut c = (0, 0, 0, 0);
    for ch in s.chars() {
        if ch.is_ascii_lowercase() {
            c.0 += 1;
        } else if ch.is_ascii_uppercase() {
            c.1 += 1;
        } else if ch.is_ascii_digit() {
            c.2 += 1;
        } else {
            c.3 += 1;
        }
    }
    c
}

pub(crate) fn class_kinds(s: &str) -> usize {
    let (l, u, d, o) = classes(s);
    [l, u, d, o].iter().filter(|&&n| n > 0).count()
}

/// Substrings that mark a value as a placeholder, an example or a test value.
const MARKERS: &[&str] = &[
    "xxxx",
    "example",
    "sample",
    "your",
    "dummy",
    "placeholder",
    "changeme",
    "change_me",
    "change-me",
    "replace",
    "insert",
    "redacted",
    "fake",
    "test",
    "mock",
    "foobar",
    "lorem",
    "todo",
    "<",
    ">",
    "${",
    "{{",
    "}}",
    "$(",
    "%(",
    "%s",
    "****",
    "...",
    "\u{2026}",
    "000000",
    "123456",
    "abcdefgh",
    "qwerty",
    "secret_here",
    "key_here",
    "token_here",
    "_here",
];

/// Documented example credentials that appear in provider docs and SDK tests.
const KNOWN_EXAMPLES: &[&str] = &[
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
    "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    // RFC 6749 / RFC 6750 / RFC 5849 example tokens (OAuth libraries' docs).
    "2YotnFZFEjr1zCsicMWpAA",
    "tGzv3JOkF0XG5Qx2TlKWIA",
    "hh5s93j4hdidpola",
    "hdk48Djdsa",
    "kd94hf93k423kf44",
    "pfkkdhi9sl3r4s00",
    "nnch734d00sl2jdk",
    "8xLOxBtZp8",
    "SplxlOBeZQQYbYS6WxSbIA",
    // Azurite / storage-emulator well-known account key.
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
];

/// Whether `s` is a documented example credential.
pub(crate) fn is_known_example(s: &str) -> bool {
    KNOWN_EXAMPLES.contains(&s)
}

/// Whether `s` is a placeholder, documentation example or test value rather
/// than a credential: marker words, template syntax, runs of one character,
/// too few distinct characters, or a known documentation key.
pub(crate) fn is_placeholder(s: &str) -> bool {
    if s.is_empty() || KNOWN_EXAMPLES.contains(&s) {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    if MARKERS.iter().any(|m| lower.contains(m)) {
        return true;
    }
    low_variety(s)
}

/// All one character, three or fewer distinct characters, or one character
/// making up more than half of a value of 8 or more.
pub(crate) fn low_variety(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() < 8 {
        return false;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let distinct = counts.iter().filter(|&&c| c > 0).count();
    let max = *counts.iter().max().unwrap_or(&0) as usize;
    distinct <= 3 || max * 2 > bytes.len()
}

/// CRC-32 (IEEE 802.3), bitwise; inputs here are a few dozen bytes.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` in base 62, left-padded with `0` to `width` digits.
pub(crate) fn base62(mut n: u32, width: usize) -> String {
    let mut digits = Vec::new();
    while n > 0 {
        digits.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// GitHub's new-format tokens end in a 6-character base-62 CRC-32 of the 30
/// random characters before it.
pub(crate) fn github_checksum_ok(token: &str) -> bool {
    let Some((_, body)) = token.split_once('_') else {
        return false;
    };
    if body.len() != 36 || !body.is_ascii() {
        return false;
    }
    let (random, check) = body.split_at(30);
    base62(crc32(random.as_bytes()), 6) == check
}

/// Decodes unpadded or padded base64url / base64.
pub(crate) fn b64_any(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let t = s.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(t)
        .or_else(|_| STANDARD_NO_PAD.decode(t))
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| STANDARD.decode(s))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_orders_values() {
        assert!(entropy("aaaaaaaa") < 0.01);
        assert!(entropy("q8Zr2LmX0vTpW4sKj7Yc") > 4.0);
    }

    #[test]
    fn placeholders() {
        for p in [
            "your-api-key",
            "<TOKEN>",
            "${API_KEY}",
            "changeme",
            "xxxxxxxxxxxxxxxx",
            "AKIAIOSFODNN7EXAMPLE",
            "dummy_secret_value",
            "aaaaaaaaaaaaaaaaaaaa",
            "abababababababab",
            "test-token-1",
            "{{ secrets.TOKEN }}",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for real in ["q8Zr2LmX0vTpW4sKj7Yc", "N5u9wQe2RkA7xTz3Lb8V"] {
            assert!(!is_placeholder(real), "{real}");
        }
    }

    #[test]
    fn crc_and_base62() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(base62(0, 6), "000000");
        assert_eq!(base62(61, 2), "0z");
        assert_eq!(base62(62, 1), "10");
    }
}
