//! The Markdown report, written directly: Markdown has no escaping template
//! engine worth a dependency, and the rules are two small functions here.

use std::fmt::Write;

use crate::view::Report;

/// Case text as inert Markdown: HTML-significant characters become entities
/// (renderers pass raw HTML through), Markdown punctuation is backslash-escaped,
/// and line breaks become spaces (tables and list items are one line).
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A paragraph: like [`inline`], but blank lines stay paragraph breaks, and
/// a start that would make a heading, list or quote is escaped.
fn paragraph(text: &str) -> String {
    text.split("\n\n")
        .map(|p| {
            let p = inline(p.trim());
            let digits = p.chars().take_while(char::is_ascii_digit).count();
            if p.starts_with(['#', '-', '+', '=']) {
                format!("\\{p}")
            } else if digits > 0 && p[digits..].starts_with(['.', ')']) {
                // `1. ` would start an ordered list; the escape goes on the dot.
                format!("{}\\{}", &p[..digits], &p[digits..])
            } else {
                p
            }
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn row(out: &mut String, cells: &[&str]) {
    out.push('|');
    for c in cells {
        out.push(' ');
        out.push_str(&inline(c));
        out.push_str(" |");
    }
    out.push('\n');
}

fn header(out: &mut String, cells: &[&str]) {
    row(out, cells);
    out.push('|');
    for _ in cells {
        out.push_str("---|");
    }
    out.push('\n');
}

fn none(out: &mut String, what: &str) {
    let _ = writeln!(out, "_No {what} in this case._\n");
}

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", inline(&r.title));
    let mut meta = Vec::new();
    if let Some(id) = &r.case_id {
        meta.push(format!("**Case:** {}", inline(id)));
    }
    if let Some(a) = &r.analyst {
        meta.push(format!("**Analyst:** {}", inline(a)));
    }
    if let Some(c) = &r.created {
        meta.push(format!("**Opened:** {}", inline(c)));
    }
    meta.push(format!("**Generated:** {}", inline(&r.generated_at)));
    let _ = writeln!(o, "{}\n", meta.join(" · "));

    let _ = writeln!(o, "## Summary\n");
    for p in &r.summary {
        let _ = writeln!(o, "{}\n", paragraph(p));
    }
    let c = &r.counts;
    header(
        &mut o,
        &[
            "Key findings",
            "Timeline events",
            "Indicators",
            "Detections",
            "Triage items",
            "Actions",
        ],
    );
    row(
        &mut o,
        &[
            &c.findings.to_string(),
            &c.events.to_string(),
            &c.iocs.to_string(),
            &c.detections.to_string(),
            &c.triage_items.to_string(),
            &c.actions.to_string(),
        ],
    );
    o.push('\n');
    if !c.by_severity.is_empty() {
        let parts: Vec<String> = c
            .by_severity
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let _ = writeln!(o, "Findings by severity: {}.\n", parts.join(", "));
    }

    let _ = writeln!(o, "## Key findings\n");
    if r.findings.is_empty() {
        none(&mut o, "findings");
    }
    for (i, f) in r.findings.iter().enumerate() {
        let _ = writeln!(
            o,
            "### {}. [{}] {}\n",
            i + 1,
            f.severity.to_uppercase(),
            inline(&f.title)
        );
        let mut meta = vec![format!("**Source:** {}", inline(&f.origin))];
        if let Some(h) = &f.host {
            meta.push(format!("**Host:** {}", inline(h)));
        }
        if !f.tags.is_empty() {
            meta.push(format!("**Tags:** {}", inline(&f.tags.join(", "))));
        }
        let _ = writeln!(o, "{}\n", meta.join(" · "));
        if let Some(d) = &f.description {
            let _ = writeln!(o, "{}\n", paragraph(d));
        }
        if !f.evidence.is_empty() {
            let _ = writeln!(o, "Evidence:\n");
            for e in &f.evidence {
                let _ = writeln!(o, "- {}", inline(e));
            }
            o.push('\n');
        }
        if let Some(rec) = &f.recommendation {
            let _ = writeln!(o, "**Recommendation:** {}\n", inline(rec));
        }
    }

    let _ = writeln!(o, "## Timeline\n");
    if r.timeline.is_empty() {
        none(&mut o, "timeline events");
    } else {
        header(&mut o, &["Time (UTC)", "Source", "Host", "Type", "Event"]);
        for e in &r.timeline {
            row(
                &mut o,
                &[&e.time, &e.source, &e.host, &e.event_type, &e.message],
            );
        }
        o.push('\n');
    }
    if let Some(n) = &r.timeline_note {
        let _ = writeln!(o, "_{}_\n", inline(n));
    }

    let _ = writeln!(o, "## Indicators of compromise\n");
    if r.iocs.is_empty() {
        none(&mut o, "indicators");
    } else {
        let _ = writeln!(
            o,
            "Values are defanged (`[.]` for a dot, `hxxp` for http) so they cannot be followed by accident.\n"
        );
        header(&mut o, &["Type", "Indicator", "Count"]);
        for i in &r.iocs {
            row(&mut o, &[&i.kind, &i.value, &i.count.to_string()]);
        }
        o.push('\n');
    }
    if let Some(n) = &r.iocs_note {
        let _ = writeln!(o, "_{}_\n", inline(n));
    }

    let _ = writeln!(o, "## Detections by severity\n");
    if r.detection_levels.is_empty() {
        none(&mut o, "detections");
    }
    for l in &r.detection_levels {
        let _ = writeln!(o, "### {} ({})\n", l.level.to_uppercase(), l.count);
        header(
            &mut o,
            &[
                "Rule",
                "Id",
                "Hits",
                "Hosts",
                "First",
                "Last",
                "Tags",
                "Example match",
            ],
        );
        for rule in &l.rules {
            row(
                &mut o,
                &[
                    &rule.title,
                    &rule.rule_id,
                    &rule.count.to_string(),
                    &rule.hosts,
                    &rule.first,
                    &rule.last,
                    &rule.tags,
                    &rule.example,
                ],
            );
        }
        o.push('\n');
    }
    if let Some(n) = &r.detections_note {
        let _ = writeln!(o, "_{}_\n", inline(n));
    }

    if !r.triage.is_empty() {
        let _ = writeln!(o, "## Triage\n");
        for t in &r.triage {
            let _ = writeln!(o, "### {} ({})\n", inline(&t.host), inline(&t.generated_at));
            if !t.headline.is_empty() {
                let _ = writeln!(o, "{}\n", inline(&t.headline));
            }
            if t.items.is_empty() {
                none(&mut o, "triage items");
                continue;
            }
            header(
                &mut o,
                &["Score", "Severity", "Category", "Item", "Evidence"],
            );
            for i in &t.items {
                row(
                    &mut o,
                    &[
                        &i.score.to_string(),
                        &i.severity,
                        &i.category,
                        &i.title,
                        &i.evidence.join(" / "),
                    ],
                );
            }
            o.push('\n');
        }
    }

    let _ = writeln!(o, "## Actions taken\n");
    if r.actions.is_empty() {
        none(&mut o, "containment actions");
    } else {
        header(
            &mut o,
            &[
                "Time (UTC)",
                "Action",
                "Target",
                "Endpoint",
                "Status",
                "By",
                "Undoes",
            ],
        );
        for a in &r.actions {
            row(
                &mut o,
                &[
                    &a.at, &a.action, &a.target, &a.sid, &a.status, &a.by, &a.undoes,
                ],
            );
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## Recommendations\n");
    for (i, rec) in r.recommendations.iter().enumerate() {
        let _ = writeln!(
            o,
            "{}. {}{}",
            i + 1,
            inline(&rec.text),
            if rec.origin == "derived" {
                " _(derived from the evidence)_"
            } else {
                ""
            }
        );
    }
    o.push('\n');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_text_cannot_open_html_or_markdown() {
        let s = inline("<script>alert(\"x\")</script> | [a](javascript:x) `c` *b*\nnext");
        assert!(!s.contains('<') && !s.contains('>'), "{s}");
        assert!(!s.contains('\n'));
        assert!(
            s.contains("\\|") && s.contains("\\[a\\]") && s.contains("\\`c\\`"),
            "{s}"
        );
        assert!(s.starts_with("&lt;script&gt;"), "{s}");
    }
}
