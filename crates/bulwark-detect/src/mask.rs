//! Masking of secret values for snippets, evidence and messages.

/// Masks a secret for display: keeps the first 4 and the last 2 characters
/// and replaces the rest with `*` (at most 16 of them, so long keys do not
/// flood a report). Values of 8 characters or fewer are masked whole.
///
/// ```
/// assert_eq!(bulwark_detect::mask_secret("AKIAIOSFODNN7EXAMPLE"), "AKIA**************LE");
/// assert_eq!(bulwark_detect::mask_secret("hunter22"), "********");
/// ```
pub fn mask_secret(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    if n <= 8 {
        return "*".repeat(n);
    }
    let mut out = String::with_capacity(4 + 16 + 2 + 8);
    out.extend(&chars[..4]);
    out.push_str(&"*".repeat((n - 6).min(16)));
    out.extend(&chars[n - 2..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_four_and_two() {
        assert_eq!(mask_secret("ghp_abcdefghij"), "ghp_********ij");
        assert_eq!(mask_secret("123456789"), "1234***89");
    }

    #[test]
    fn short_values_are_masked_whole() {
        assert_eq!(mask_secret(""), "");
        assert_eq!(mask_secret("abc"), "***");
        assert_eq!(mask_secret("12345678"), "********");
    }

    #[test]
    fn long_values_are_capped_and_char_safe() {
        let long = "x".repeat(500);
        assert_eq!(mask_secret(&long).chars().count(), 22);
        assert_eq!(mask_secret("éééé-secret-ññ"), "éééé********ññ");
    }
}
