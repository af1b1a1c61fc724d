//! The report as both renderers see it: every section computed once from the
//! case (ordered, grouped, counted, cut to size), as plain strings. The
//! renderers only lay it out and escape it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::case::{Case, Detection};

/// Characters of one field shown; longer text is cut with a marker.
pub const MAX_FIELD: usize = 2_000;
/// Rows shown per table.
pub const MAX_ROWS: usize = 500;

pub const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// `critical` .. `info`, from a severity or Sigma level in any case; unknown → `info`.
pub fn severity(text: Option<&str>) -> String {
    let t = text.unwrap_or("").trim().to_ascii_lowercase();
    match t.as_str() {
        "critical" | "high" | "medium" | "low" => t,
        "informational" | "info" => "info".into(),
        "moderate" => "medium".into(),
        _ => "info".into(),
    }
}

fn severity_rank(s: &str) -> usize {
    SEVERITIES.iter().position(|x| *x == s).unwrap_or(4)
}

/// Cut to [`MAX_FIELD`] characters, saying how much was left out.
pub fn clip(text: &str) -> String {
    let count = text.chars().count();
    if count <= MAX_FIELD {
        return text.to_string();
    }
    let kept: String = text.chars().take(MAX_FIELD).collect();
    format!("{kept}… ({} more characters)", count - MAX_FIELD)
}

/// Indicators are shown defanged, so neither renderer makes them live links.
pub fn defang(kind: &str, value: &str) -> String {
    match kind {
        "url" | "domain" | "ipv4" | "ipv6" | "cidr" | "email" => {
            let v = value.replace('.', "[.]").replace('@', "[@]");
            if let Some(rest) = v.strip_prefix("http") {
                format!("hxxp{rest}")
            } else if let Some(rest) = v.strip_prefix("ftp") {
                format!("fxp{rest}")
            } else {
                v
            }
        }
        _ => value.to_string(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub title: String,
    pub case_id: Option<String>,
    pub analyst: Option<String>,
    pub created: Option<String>,
    pub generated_at: String,
    /// Paragraphs of the summary.
    pub summary: Vec<String>,
    pub counts: Counts,
    pub findings: Vec<FindingView>,
    pub timeline: Vec<EventView>,
    pub timeline_note: Option<String>,
    pub iocs: Vec<IocView>,
    pub iocs_note: Option<String>,
    pub detection_levels: Vec<LevelView>,
    pub detections_note: Option<String>,
    pub triage: Vec<TriageView>,
    pub actions: Vec<ActionView>,
    pub recommendations: Vec<RecommendationView>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub findings: usize,
    pub events: usize,
    pub iocs: usize,
    pub detections: usize,
    pub triage_items: usize,
    pub actions: usize,
    /// Findings by severity (case findings and triage items of high or above).
    pub by_severity: Vec<(String, usize)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingView {
    pub title: String,
    pub severity: String,
    /// Where it comes from: `analyst`, `triage (HOST)`, `sigma`.
    pub origin: String,
    pub host: Option<String>,
    pub description: Option<String>,
    pub evidence: Vec<String>,
    pub tags: Vec<String>,
    pub recommendation: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub time: String,
    pub source: String,
    pub host: String,
    pub event_type: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IocView {
    pub kind: String,
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LevelView {
    pub level: String,
    pub count: usize,
    pub rules: Vec<RuleView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    pub title: String,
    pub rule_id: String,
    pub count: usize,
    pub hosts: String,
    pub first: String,
    pub last: String,
    pub tags: String,
    pub author: String,
    /// The matched fields of the first detection, `field=value; ...`.
    pub example: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TriageView {
    pub host: String,
    pub generated_at: String,
    pub headline: String,
    pub items: Vec<TriageItemView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TriageItemView {
    pub score: u8,
    pub severity: String,
    pub category: String,
    pub title: String,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionView {
    pub at: String,
    pub action: String,
    pub target: String,
    pub sid: String,
    pub status: String,
    pub by: String,
    pub undoes: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecommendationView {
    pub text: String,
    /// `analyst` or `derived` (written by the report from the evidence).
    pub origin: String,
}

fn opt(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(clip)
}

fn evidence_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => clip(s),
        other => clip(&other.to_string()),
    }
}

fn matched(d: &Detection) -> String {
    clip(
        &d.matched_fields
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join("; "),
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Build the view. `generated_at` is passed in so output is reproducible.
pub fn build(case: &Case, generated_at: &str) -> Report {
    // Key findings: the analyst's, then triage items of high and above.
    let mut findings: Vec<FindingView> = case
        .findings
        .iter()
        .map(|f| FindingView {
            title: clip(&f.title),
            severity: severity(f.severity.as_deref().or(Some("medium"))),
            origin: "analyst".into(),
            host: opt(&f.host),
            description: opt(&f.description),
            evidence: f.evidence.iter().map(evidence_text).collect(),
            tags: f.tags.iter().map(|t| clip(t)).collect(),
            recommendation: opt(&f.recommendation),
        })
        .collect();
    let mut triage = Vec::new();
    let mut triage_items = 0;
    for t in &case.triage {
        let host = t
            .host
            .as_ref()
            .and_then(|h| h.hostname.clone())
            .or_else(|| t.sid.clone())
            .unwrap_or_else(|| "unknown host".into());
        triage_items += t.items.len();
        for i in t.items.iter().filter(|i| i.score >= 60) {
            findings.push(FindingView {
                title: clip(&i.title),
                severity: severity(i.severity.as_deref()),
                origin: format!("triage ({})", clip(&host)),
                host: Some(clip(&host)),
                description: Some(format!(
                    "quick_triage scored this {} item {}/100.",
                    i.category.as_deref().unwrap_or("triage"),
                    i.score
                )),
                evidence: i.evidence.iter().map(|e| clip(e)).collect(),
                tags: Vec::new(),
                recommendation: None,
            });
        }
        triage.push(TriageView {
            host: clip(&host),
            generated_at: t.generated_at.clone().map(|g| clip(&g)).unwrap_or_default(),
            headline: t
                .summary
                .as_ref()
                .and_then(|s| s.headline.clone())
                .map(|h| clip(&h))
                .unwrap_or_default(),
            items: t
                .items
                .iter()
                .take(MAX_ROWS)
                .map(|i| TriageItemView {
                    score: i.score,
                    severity: severity(i.severity.as_deref()),
                    category: clip(i.category.as_deref().unwrap_or("")),
                    title: clip(&i.title),
                    evidence: i.evidence.iter().take(10).map(|e| clip(e)).collect(),
                })
                .collect(),
        });
    }
    // Stable: analyst findings keep their order within a severity.
    findings.sort_by_key(|f| severity_rank(&f.severity));

    // Timeline.
    let events = case
        .timeline
        .as_ref()
        .map(|t| t.events.as_slice())
        .unwrap_or(&[]);
    let timeline: Vec<EventView> = events
        .iter()
        .take(MAX_ROWS)
        .map(|e| EventView {
            time: clip(&e.timestamp),
            source: clip(e.source.as_deref().unwrap_or("")),
            host: clip(e.host.as_deref().unwrap_or("")),
            event_type: clip(e.event_type.as_deref().unwrap_or("")),
            message: clip(&e.message),
        })
        .collect();
    let matched_total = case
        .timeline
        .as_ref()
        .and_then(|t| t.matched)
        .unwrap_or(events.len() as u64);
    let timeline_note = (matched_total > timeline.len() as u64).then(|| {
        format!(
            "{} of {} events shown; the full timeline is in the generate_timeline output.",
            timeline.len(),
            matched_total
        )
    });

    // IOCs: most frequent first.
    let mut indicators: Vec<IocView> = case
        .iocs
        .as_ref()
        .map(|i| {
            i.indicators
                .iter()
                .map(|i| IocView {
                    kind: clip(match &i.name {
                        Some(n) if i.kind == "custom" => n,
                        _ => &i.kind,
                    }),
                    value: clip(&defang(&i.kind, &i.value)),
                    count: i.count.unwrap_or(1),
                })
                .collect()
        })
        .unwrap_or_default();
    indicators.sort_by_key(|i| std::cmp::Reverse(i.count));
    let ioc_total = indicators.len();
    indicators.truncate(MAX_ROWS);
    let iocs_note = (ioc_total > indicators.len()
        || case.iocs.as_ref().is_some_and(|i| i.truncated))
    .then(|| {
        format!(
            "{} of {ioc_total} indicators shown (extract_iocs may have returned only the most frequent).",
            indicators.len()
        )
    });

    // Detections grouped by level, then rule.
    let detections = case
        .detections
        .as_ref()
        .map(|d| d.detections.as_slice())
        .unwrap_or(&[]);
    let mut levels: BTreeMap<usize, BTreeMap<String, Vec<&Detection>>> = BTreeMap::new();
    for d in detections {
        let level = severity(d.level.as_deref());
        let key = format!("{}\u{0}{}", d.title, d.rule_id.as_deref().unwrap_or(""));
        levels
            .entry(severity_rank(&level))
            .or_default()
            .entry(key)
            .or_default()
            .push(d);
    }
    let detection_levels: Vec<LevelView> = levels
        .into_iter()
        .map(|(rank, rules)| {
            let mut rules: Vec<RuleView> = rules
                .into_values()
                .map(|ds| {
                    let mut hosts: Vec<&str> =
                        ds.iter().filter_map(|d| d.host.as_deref()).collect();
                    hosts.sort_unstable();
                    hosts.dedup();
                    let mut times: Vec<&str> =
                        ds.iter().filter_map(|d| d.timestamp.as_deref()).collect();
                    times.sort_unstable();
                    RuleView {
                        title: clip(&ds[0].title),
                        rule_id: clip(ds[0].rule_id.as_deref().unwrap_or("")),
                        count: ds.len(),
                        hosts: clip(&hosts.join(", ")),
                        first: clip(times.first().copied().unwrap_or("")),
                        last: clip(times.last().copied().unwrap_or("")),
                        tags: clip(&ds[0].tags.join(" ")),
                        author: clip(ds[0].author.as_deref().unwrap_or("")),
                        example: matched(ds[0]),
                    }
                })
                .collect();
            rules.sort_by(|a, b| b.count.cmp(&a.count).then(a.title.cmp(&b.title)));
            LevelView {
                level: SEVERITIES[rank].into(),
                count: rules.iter().map(|r| r.count).sum(),
                rules,
            }
        })
        .collect();
    let detections_note = case
        .detections
        .as_ref()
        .is_some_and(|d| d.truncated)
        .then(|| {
            "hunt_sigma cut its detection list; counts here cover the detections it returned."
                .to_string()
        });

    // Actions taken, in time order.
    let mut actions: Vec<ActionView> = case
        .remediations
        .as_ref()
        .map(|r| {
            r.remediations
                .iter()
                .map(|r| ActionView {
                    at: clip(&r.at),
                    action: clip(&r.action),
                    target: clip(&r.target),
                    sid: clip(r.sid.as_deref().unwrap_or("")),
                    status: clip(&r.status),
                    by: clip(r.principal.as_deref().unwrap_or("")),
                    undoes: clip(r.undoes.as_deref().unwrap_or("")),
                })
                .collect()
        })
        .unwrap_or_default();
    actions.sort_by(|a, b| a.at.cmp(&b.at));

    let mut by_severity: BTreeMap<usize, usize> = BTreeMap::new();
    for f in &findings {
        *by_severity.entry(severity_rank(&f.severity)).or_insert(0) += 1;
    }
    let counts = Counts {
        findings: findings.len(),
        events: events.len(),
        iocs: ioc_total,
        detections: detections.len(),
        triage_items,
        actions: actions.len(),
        by_severity: by_severity
            .into_iter()
            .map(|(r, n)| (SEVERITIES[r].to_string(), n))
            .collect(),
    };

    let summary = match case.summary.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => clip(s)
            .split("\n\n")
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        _ => vec![derived_summary(&counts, &detection_levels)],
    };
    let recommendations = recommendations(case, &findings, &detection_levels, &actions, &counts);

    Report {
        title: clip(
            case.title
                .as_deref()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or("Investigation report"),
        ),
        case_id: opt(&case.case_id),
        analyst: opt(&case.analyst),
        created: opt(&case.created),
        generated_at: generated_at.to_string(),
        summary,
        counts,
        findings,
        timeline,
        timeline_note,
        iocs: indicators,
        iocs_note,
        detection_levels,
        detections_note,
        triage,
        actions,
        recommendations,
    }
}

fn derived_summary(c: &Counts, levels: &[LevelView]) -> String {
    let worst = c
        .by_severity
        .first()
        .map(|(s, n)| format!(" The most severe are {n} {s}."))
        .unwrap_or_default();
    let serious: usize = levels
        .iter()
        .filter(|l| l.level == "critical" || l.level == "high")
        .map(|l| l.count)
        .sum();
    format!(
        "This report covers {}, {}, {}, {} ({serious} high or critical), {} and {}.{worst}",
        plural(c.findings, "key finding", "key findings"),
        plural(c.events, "timeline event", "timeline events"),
        plural(c.iocs, "indicator", "indicators"),
        plural(c.detections, "Sigma detection", "Sigma detections"),
        plural(c.triage_items, "triage item", "triage items"),
        plural(c.actions, "containment action", "containment actions"),
    )
}

fn recommendations(
    case: &Case,
    findings: &[FindingView],
    levels: &[LevelView],
    actions: &[ActionView],
    counts: &Counts,
) -> Vec<RecommendationView> {
    let mut out: Vec<RecommendationView> = case
        .recommendations
        .iter()
        .filter(|r| !r.trim().is_empty())
        .map(|r| RecommendationView {
            text: clip(r),
            origin: "analyst".into(),
        })
        .collect();
    for f in findings.iter().filter(|f| f.origin == "analyst") {
        if let Some(r) = &f.recommendation {
            out.push(RecommendationView {
                text: format!("{} (finding: {})", r, f.title),
                origin: "analyst".into(),
            });
        }
    }
    let mut derived = |text: String| {
        out.push(RecommendationView {
            text,
            origin: "derived".into(),
        })
    };
    let serious: Vec<&RuleView> = levels
        .iter()
        .filter(|l| l.level == "critical" || l.level == "high")
        .flat_map(|l| &l.rules)
        .collect();
    if !serious.is_empty() {
        let names: Vec<&str> = serious.iter().take(3).map(|r| r.title.as_str()).collect();
        derived(format!(
            "Review the {} high or critical Sigma detections first ({}), and confirm or rule out each on its host.",
            serious.iter().map(|r| r.count).sum::<usize>(),
            names.join("; ")
        ));
    }
    let flagged: Vec<&FindingView> = findings
        .iter()
        .filter(|f| f.origin.starts_with("triage") && severity_rank(&f.severity) <= 1)
        .collect();
    if !flagged.is_empty() {
        let acted = !actions.is_empty();
        derived(format!(
            "{} triage item(s) scored high or critical ({}). {}",
            flagged.len(),
            flagged
                .iter()
                .take(3)
                .map(|f| f.title.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            if acted {
                "Check that the actions taken cover each of them; contain the rest (kill_process, quarantine_file, isolate_network)."
            } else {
                "No containment is recorded yet: capture what is needed (memory, binaries), then contain (kill_process, quarantine_file, isolate_network)."
            }
        ));
    }
    if counts.iocs > 0 {
        derived(format!(
            "Block or watch the {} indicators of the IOC table at the network edge and in endpoint tooling, and hunt for them on other hosts.",
            counts.iocs
        ));
    }
    let failed: Vec<&ActionView> = actions.iter().filter(|a| a.status != "done").collect();
    if !failed.is_empty() {
        derived(format!(
            "{} containment action(s) did not complete ({}); retry them or contain by other means.",
            failed.len(),
            failed
                .iter()
                .take(3)
                .map(|a| format!("{} {}", a.action, a.target))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if out.is_empty() {
        out.push(RecommendationView {
            text: "Nothing in this case calls for action; keep the evidence and close the case if the scope was complete.".into(),
            origin: "derived".into(),
        });
    }
    out
}
