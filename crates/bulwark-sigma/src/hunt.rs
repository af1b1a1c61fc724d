//! Running loaded rules over files: files in parallel (rayon), each event
//! classified into its Sigma logsources by the mappings, evaluated by the
//! compiled rules; correlations afterwards over the matching events in
//! time order.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use rayon::prelude::*;
use rsigma_eval::{CorrelationConfig, CorrelationEngine, EvaluationResult, JsonEvent, ResultBody};
use rsigma_parser::LogSource;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::events::{self, EventKind, RawEvent};
use crate::fields::{Fields, FieldsEvent};
use crate::mapping::{ClassifyMemo, Mapping};
use crate::rules::{Rejected, RuleSet};

/// Longest text kept for one matched field value in a report.
const MAX_VALUE_CHARS: usize = 2_048;

/// Options of one hunt.
#[derive(Debug, Clone)]
pub struct HuntOptions {
    /// Keep at most this many detections in the report (the summary still
    /// counts all).
    pub max_detections: usize,
}

impl Default for HuntOptions {
    fn default() -> Self {
        HuntOptions {
            max_detections: usize::MAX,
        }
    }
}

/// One rule firing on one event (or one correlation firing).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Detection {
    /// `detection` or `correlation`.
    pub kind: &'static str,
    pub rule_id: Option<String>,
    pub title: String,
    /// informational, low, medium, high or critical.
    pub level: Option<String>,
    pub tags: Vec<String>,
    /// The rule's author: the Detection Rule License asks that messages based
    /// on matches keep it.
    pub author: Option<String>,
    /// The rule file.
    pub rule_path: Option<String>,
    /// The event's time as the log gives it (UTC for EVTX).
    pub timestamp: Option<String>,
    /// The computer or host the event comes from.
    pub host: Option<String>,
    /// The log file the event was read from.
    pub file: String,
    /// EVTX `EventRecordID`, when there is one.
    pub record_id: Option<u64>,
    /// The fields the rule matched, with the event's values.
    pub matched_fields: BTreeMap<String, Value>,
    /// For correlations: the type, group and counted value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation: Option<CorrelationHit>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CorrelationHit {
    /// event_count, value_count, temporal, ...
    pub r#type: String,
    pub group: BTreeMap<String, String>,
    /// The count (or other aggregate) that met the condition.
    pub value: f64,
    pub timespan_secs: u64,
}

/// How often one rule fired.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RuleCount {
    pub rule_id: Option<String>,
    pub title: String,
    pub level: Option<String>,
    pub author: Option<String>,
    pub count: usize,
}

/// A file that could not be read, or was only partly read.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FileNote {
    pub path: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Summary {
    pub rule_files: usize,
    pub rules_loaded: usize,
    pub correlations_loaded: usize,
    pub rules_rejected: usize,
    pub files_read: usize,
    pub events: u64,
    pub detections: usize,
    /// Detections by level.
    pub by_level: BTreeMap<String, usize>,
    /// Rules that fired, most often first.
    pub by_rule: Vec<RuleCount>,
    pub elapsed_ms: u64,
    pub events_per_second: f64,
}

/// What a hunt found.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HuntReport {
    pub summary: Summary,
    /// Detections in time order (at most `max_detections`).
    pub detections: Vec<Detection>,
    /// Whether `detections` was cut.
    pub truncated: bool,
    /// Rules that could not be loaded, each with its reason.
    pub rejected_rules: Vec<Rejected>,
    /// Files skipped or only partly read, and why.
    pub notes: Vec<FileNote>,
}

struct Mappings {
    windows: Mapping,
    linux: Mapping,
}

fn mappings() -> &'static Mappings {
    static MAPPINGS: OnceLock<Mappings> = OnceLock::new();
    MAPPINGS.get_or_init(|| Mappings {
        windows: Mapping::windows(),
        linux: Mapping::linux(),
    })
}

/// An event kept for the correlation pass.
struct Pending {
    ts: i64,
    order: (usize, u64),
    fields: Value,
    results: Vec<EvaluationResult>,
    file: usize,
}

struct FileOutcome {
    detections: Vec<Detection>,
    pending: Vec<Pending>,
    events: u64,
    notes: Vec<String>,
    error: Option<String>,
}

/// Every regular file under `paths` (directories walked recursively).
pub fn expand_inputs(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<FileNote>) {
    let mut files = Vec::new();
    let mut notes = Vec::new();
    for path in paths {
        if path.is_file() {
            files.push(path.clone());
        } else if path.is_dir() {
            for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                match entry {
                    Ok(e) if e.file_type().is_file() => files.push(e.into_path()),
                    Ok(_) => {}
                    Err(e) => notes.push(FileNote {
                        path: path.display().to_string(),
                        note: e.to_string(),
                    }),
                }
            }
        } else {
            notes.push(FileNote {
                path: path.display().to_string(),
                note: "does not exist".into(),
            });
        }
    }
    (files, notes)
}

/// Run `rules` over every file in `paths`.
pub fn hunt(rules: &RuleSet, paths: &[PathBuf], options: &HuntOptions) -> HuntReport {
    let started = Instant::now();
    let (files, mut notes) = expand_inputs(paths);
    let outcomes = hunt_files(rules, &files);
    let mut detections = Vec::new();
    let mut pending = Vec::new();
    let mut events = 0;
    let mut files_read = 0;
    for (path, outcome) in files.iter().zip(outcomes) {
        events += outcome.events;
        if let Some(error) = outcome.error {
            notes.push(FileNote {
                path: path.display().to_string(),
                note: error,
            });
            continue;
        }
        files_read += 1;
        for note in outcome.notes {
            notes.push(FileNote {
                path: path.display().to_string(),
                note,
            });
        }
        detections.extend(outcome.detections);
        pending.extend(outcome.pending);
    }
    if let Some(set) = &rules.correlation {
        correlate(rules, set, pending, &files, &mut detections);
    }
    detections.sort_by(|a, b| {
        (a.timestamp.as_deref(), &a.file, a.record_id).cmp(&(
            b.timestamp.as_deref(),
            &b.file,
            b.record_id,
        ))
    });
    let mut by_level: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_rule: HashMap<(Option<String>, String), RuleCount> = HashMap::new();
    for d in &detections {
        *by_level
            .entry(d.level.clone().unwrap_or_else(|| "none".into()))
            .or_default() += 1;
        by_rule
            .entry((d.rule_id.clone(), d.title.clone()))
            .or_insert_with(|| RuleCount {
                rule_id: d.rule_id.clone(),
                title: d.title.clone(),
                level: d.level.clone(),
                author: d.author.clone(),
                count: 0,
            })
            .count += 1;
    }
    let mut by_rule: Vec<RuleCount> = by_rule.into_values().collect();
    by_rule.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.title.cmp(&b.title)));
    let total = detections.len();
    let truncated = total > options.max_detections;
    detections.truncate(options.max_detections);
    let elapsed = started.elapsed();
    HuntReport {
        summary: Summary {
            rule_files: rules.files(),
            rules_loaded: rules.rules_loaded(),
            correlations_loaded: rules.correlations_loaded(),
            rules_rejected: rules.rejected().len(),
            files_read,
            events,
            detections: total,
            by_level,
            by_rule,
            elapsed_ms: elapsed.as_millis() as u64,
            events_per_second: events as f64 / elapsed.as_secs_f64().max(1e-9),
        },
        detections,
        truncated,
        rejected_rules: rules.rejected().to_vec(),
        notes,
    }
}

/// Hunt every file on the rayon pool, largest first, one file at a time per
/// thread: a large file started last would leave the other threads idle
/// while it finishes. Outcomes come back in the order of `files`.
fn hunt_files(rules: &RuleSet, files: &[PathBuf]) -> Vec<FileOutcome> {
    let mut order: Vec<(u64, usize)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (std::fs::metadata(f).map_or(0, |m| m.len()), i))
        .collect();
    order.sort_by_key(|&(size, i)| (std::cmp::Reverse(size), i));
    let mut done: Vec<(usize, FileOutcome)> = order
        .par_iter()
        .with_max_len(1)
        .map(|&(_, i)| (i, hunt_file(rules, &files[i], i)))
        .collect();
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, outcome)| outcome).collect()
}

fn hunt_file(rules: &RuleSet, path: &Path, file_index: usize) -> FileOutcome {
    let maps = mappings();
    let shown = path.display().to_string();
    let mut out = FileOutcome {
        detections: Vec::new(),
        pending: Vec::new(),
        events: 0,
        notes: Vec::new(),
        error: None,
    };
    let mut scratch = Vec::new();
    let mut engines = Vec::new();
    // One per mapping slot, for this file.
    let mut memos = [ClassifyMemo::new(), ClassifyMemo::new()];
    let mut notes = Vec::new();
    let result = events::read_file(path, &mut notes, &mut |event: RawEvent| {
        out.events += 1;
        let seq = out.events;
        evaluate_event(
            rules,
            maps,
            event,
            &shown,
            file_index,
            seq,
            &mut scratch,
            &mut engines,
            &mut memos,
            &mut out.detections,
            &mut out.pending,
        );
    });
    match result {
        Err(e) => out.error = Some(format!("cannot read: {e}")),
        // Not a log: skipped, and not counted as read.
        Ok(events::Format::Unknown) => out.error = notes.pop(),
        Ok(_) => {}
    }
    out.notes = notes;
    out
}

/// The logsource an event names itself (`product`/`service`/`category`).
fn own_logsource(fields: &Fields) -> Option<LogSource> {
    let get = |k: &str| fields.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let ls = LogSource {
        product: get("product"),
        service: get("service"),
        category: get("category"),
        ..LogSource::default()
    };
    (ls.product.is_some() || ls.service.is_some() || ls.category.is_some()).then_some(ls)
}

#[allow(clippy::too_many_arguments)]
fn evaluate_event(
    rules: &RuleSet,
    maps: &Mappings,
    event: RawEvent,
    file: &str,
    file_index: usize,
    seq: u64,
    scratch: &mut Vec<usize>,
    engines: &mut Vec<usize>,
    memos: &mut [ClassifyMemo; 2],
    detections: &mut Vec<Detection>,
    pending: &mut Vec<Pending>,
) {
    let RawEvent { mut fields, kind } = event;
    // The mapping, with its slot for the rule routes.
    let mapping = match kind {
        EventKind::Windows => Some((0, &maps.windows)),
        EventKind::Linux => Some((1, &maps.linux)),
        EventKind::Other => {
            if own_logsource(&fields).is_some() {
                None
            } else if maps.linux.recognises(&fields) {
                Some((1, &maps.linux))
            } else {
                None
            }
        }
    };
    if let Some((slot, m)) = mapping {
        m.classify_with(&mut fields, scratch, &mut memos[slot]);
    }
    let event = FieldsEvent::new(&fields);
    engines.clear();
    match mapping {
        Some((slot, m)) => {
            let routes = rules.buckets.routes(slot, m);
            for &i in scratch.iter() {
                for &e in &routes[i] {
                    if !engines.contains(&e) {
                        engines.push(e);
                    }
                }
            }
        }
        None => match own_logsource(&fields) {
            Some(ls) => rules.buckets.select(&ls, engines),
            // Nothing known about the event: every rule is tried.
            None => rules.buckets.all(engines),
        },
    }
    let mut results = Vec::new();
    for &i in engines.iter() {
        results.extend(rules.buckets.engine(i).evaluate(&event));
    }
    drop(event);
    if results.is_empty() {
        return;
    }
    let (host_field, time_field) = match mapping {
        Some((_, m)) => (m.host_field.as_str(), m.time_field.as_str()),
        None => ("host", "timestamp"),
    };
    let text = |k: &str| {
        fields.get(k).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
    };
    let timestamp = text(time_field)
        .or_else(|| text("@timestamp"))
        .or_else(|| text("TimeCreated"))
        .or_else(|| text("EventTime"))
        .or_else(|| text("time"));
    let host = text(host_field)
        .or_else(|| text("Computer"))
        .or_else(|| text("hostname"));
    let record_id = fields.get("EventRecordID").and_then(|v| v.as_u64());
    let mut for_correlation = false;
    for r in &results {
        let quiet = rules.correlation.as_ref().is_some_and(|set| {
            let (id, name) = rule_refs(rules, r);
            if id.iter().chain(&name).any(|k| set.referenced.contains(k))
                || set.referenced.contains(&r.header.rule_title)
            {
                for_correlation = true;
            }
            id.iter().chain(&name).any(|k| set.quiet.contains(k))
        });
        if quiet {
            continue;
        }
        detections.push(detection(
            rules,
            r,
            timestamp.clone(),
            host.clone(),
            file,
            record_id,
        ));
    }
    if for_correlation {
        let ts = timestamp
            .as_deref()
            .and_then(events::parse_time)
            .unwrap_or(0);
        for r in &mut results {
            if let ResultBody::Detection(d) = &mut r.body {
                d.event = None;
            }
        }
        pending.push(Pending {
            ts,
            order: (file_index, seq),
            fields: Value::Object(fields.into_map()),
            results,
            file: file_index,
        });
    }
}

fn rule_refs(rules: &RuleSet, r: &EvaluationResult) -> (Option<String>, Option<String>) {
    let name = rules
        .info(r.header.rule_id.as_deref(), &r.header.rule_title)
        .and_then(|i| i.name.clone());
    (r.header.rule_id.clone(), name)
}

fn clip(value: &Value) -> Value {
    match value {
        Value::String(s) if s.chars().count() > MAX_VALUE_CHARS => {
            let cut: String = s.chars().take(MAX_VALUE_CHARS).collect();
            Value::String(format!("{cut}… ({} characters in all)", s.chars().count()))
        }
        Value::Array(items) => Value::Array(items.iter().map(clip).collect()),
        other => other.clone(),
    }
}

fn detection(
    rules: &RuleSet,
    r: &EvaluationResult,
    timestamp: Option<String>,
    host: Option<String>,
    file: &str,
    record_id: Option<u64>,
) -> Detection {
    let info = rules.info(r.header.rule_id.as_deref(), &r.header.rule_title);
    let mut matched_fields = BTreeMap::new();
    let mut correlation = None;
    let kind = match &r.body {
        ResultBody::Detection(d) => {
            for m in &d.matched_fields {
                matched_fields.insert(m.field.clone(), clip(&m.value));
            }
            "detection"
        }
        ResultBody::Correlation(c) => {
            correlation = Some(CorrelationHit {
                r#type: serde_json::to_value(c.correlation_type)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("{:?}", c.correlation_type)),
                group: c.group_key.iter().cloned().collect(),
                value: c.aggregated_value,
                timespan_secs: c.timespan_secs,
            });
            "correlation"
        }
    };
    Detection {
        kind,
        rule_id: r.header.rule_id.clone(),
        title: r.header.rule_title.clone(),
        level: r.header.level.map(|l| l.as_str().to_string()),
        tags: r.header.tags.clone(),
        author: info.and_then(|i| i.author.clone()),
        rule_path: info.map(|i| i.path.clone()).filter(|p| !p.is_empty()),
        timestamp,
        host,
        file: file.to_string(),
        record_id,
        matched_fields,
        correlation,
    }
}

/// Feed the events that matched rules used by correlations, in time order,
/// to a fresh correlation engine; report what fires.
fn correlate(
    rules: &RuleSet,
    set: &crate::rules::CorrelationSet,
    mut pending: Vec<Pending>,
    files: &[PathBuf],
    detections: &mut Vec<Detection>,
) {
    let mut engine = CorrelationEngine::new(CorrelationConfig::default());
    if engine.add_collection(&set.collection).is_err() {
        return;
    }
    pending.sort_by_key(|p| (p.ts, p.order));
    for p in pending {
        let event = JsonEvent::borrow(&p.fields);
        let out = engine.process_with_detections(&event, p.results, p.ts);
        let object = p.fields.as_object();
        let text = |k: &str| {
            object
                .and_then(|o| o.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        for r in out {
            if matches!(r.body, ResultBody::Correlation(_)) {
                let timestamp = text("TimeCreated").or_else(|| text("timestamp"));
                let host = text("Computer").or_else(|| text("host"));
                let file = files
                    .get(p.file)
                    .map(|f| f.display().to_string())
                    .unwrap_or_default();
                detections.push(detection(rules, &r, timestamp, host, &file, None));
            }
        }
    }
}
