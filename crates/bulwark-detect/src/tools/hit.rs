//! What a tool-surface detector returns before it becomes a [`Finding`].

use crate::finding::{Confidence, Severity};

#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub rule: &'static str,
    /// `None`: the rule's severity.
    pub severity: Option<Severity>,
    pub confidence: Confidence,
    /// Byte range in the text the detector judged (for the snippet).
    pub start: usize,
    pub end: usize,
    pub message: String,
    pub evidence: String,
}

impl Hit {
    pub(crate) fn new(
        rule: &'static str,
        start: usize,
        end: usize,
        message: impl Into<String>,
        evidence: impl Into<String>,
    ) -> Hit {
        Hit {
            rule,
            severity: None,
            confidence: Confidence::High,
            start,
            end,
            message: message.into(),
            evidence: evidence.into(),
        }
    }

    pub(crate) fn confidence(mut self, c: Confidence) -> Hit {
        self.confidence = c;
        self
    }

    pub(crate) fn severity(mut self, s: Severity) -> Hit {
        self.severity = Some(s);
        self
    }
}

/// At most `n` characters of `s`, on one line, with an ellipsis if cut.
pub(crate) fn clip(s: &str, n: usize) -> String {
    let one: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one = one.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= n {
        one
    } else {
        let mut out: String = one.chars().take(n.saturating_sub(1)).collect();
        out.push('\u{2026}');
        out
    }
}
