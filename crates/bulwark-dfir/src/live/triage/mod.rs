//! `quick_triage`: the first look at an endpoint in one call. For `local` it
//! runs the live-investigation collectors (host facts, processes, sockets,
//! users, autoruns), reads recent authentication failures from auth.log or
//! the journal (parsed by the timeline crate), matches a supplied indicator
//! list (normalized by the IOC crate), and ranks what it found: every item has
//! a score, a severity and the evidence behind it.
//!
//! The scoring rules live in [`rank`] as pure functions, so they are tested
//! without a live host.

mod auth;
mod collect;
mod iocs;
pub(crate) mod rank;

use std::sync::Arc;

use bulwark_core::{CallContext, Severity, ToolDef, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Live;
use super::common::{Budget, LimitHit, blocking, limits_text, local_only, render};
use rank::Item;

/// Days back that count as "recent" unless the caller says otherwise.
const DEFAULT_DAYS: u32 = 7;
const MAX_DAYS: u32 = 365;
/// Ranked items returned unless the caller says otherwise.
const DEFAULT_MAX_ITEMS: usize = 50;
/// Indicators one call accepts.
const MAX_INDICATORS: usize = 1_000;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TriageArgs {
    /// Endpoint id; `local` is the host bulwark runs on.
    sid: String,
    /// What counts as recent, in days: autoruns modified and authentication
    /// failures logged within this window are reported (default 7, at most 365).
    #[serde(default)]
    days: Option<u32>,
    /// Indicators to look for (IPs, CIDRs, domains, URLs, MD5/SHA-1/SHA-256
    /// hashes of executables, paths, plain strings); defanged forms such as
    /// `evil[.]com` are accepted.
    #[serde(default)]
    indicators: Vec<String>,
    /// Ranked items returned, highest score first (default 50); the summary counts all.
    #[serde(default)]
    max_items: Option<usize>,
}

/// The host as triage saw it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HostFacts {
    pub sid: String,
    pub hostname: String,
    pub os_name: String,
    pub kernel_release: String,
    pub architecture: String,
    pub uptime_secs: u64,
    pub boot_time: String,
    /// Whether bulwark ran as root; without it some rows are missing.
    pub privileged: bool,
}

/// Counts of the ranked items.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TriageSummary {
    /// Ranked items found (before `max_items`).
    pub items: usize,
    /// Items per severity: critical, high, medium, low, info.
    pub by_severity: std::collections::BTreeMap<String, usize>,
    /// The highest score, 0 when nothing was found.
    pub top_score: u8,
    /// One line for a human: the worst items by title.
    pub headline: String,
    pub processes_examined: usize,
    pub listening_sockets: usize,
    pub autoruns_examined: usize,
    pub auth_failures: u64,
}

/// One listening socket with its owner.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Listener {
    pub protocol: String,
    pub address: String,
    pub port: u16,
    pub pid: Option<i32>,
    pub process: Option<String>,
    pub exe: Option<String>,
    pub user: Option<String>,
    pub uid: u32,
}

/// A session open now.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Session {
    pub user: String,
    pub line: String,
    #[serde(default)]
    pub host: Option<String>,
    pub time: String,
    #[serde(default)]
    pub pid: i32,
}

/// An autorun entry modified within the window.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RecentAutorun {
    pub category: String,
    pub path: String,
    #[serde(default)]
    pub entry: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub status: String,
}

/// The full structured result of `quick_triage`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Triage {
    /// Always `quick_triage`, so a report generator can tell the result apart.
    pub kind: String,
    pub sid: String,
    pub generated_at: String,
    pub days: u32,
    pub host: HostFacts,
    pub summary: TriageSummary,
    /// Highest score first.
    pub items: Vec<Item>,
    /// Whether `items` was cut to `max_items`.
    pub truncated: bool,
    pub logged_in: Vec<Session>,
    pub listening: Vec<Listener>,
    pub recent_autoruns: Vec<RecentAutorun>,
    pub auth: auth::AuthSummary,
    pub ioc: iocs::IocSummary,
    /// Sources that could not be read, and why.
    pub notes: Vec<String>,
    pub limits_hit: Vec<LimitHit>,
    pub elapsed_ms: u64,
}

fn text(t: &Triage) -> String {
    let h = &t.host;
    let mut out = format!(
        "triage of {} ({}, {}, kernel {}), up {} h, bulwark {}\n{}\n\n",
        h.sid,
        h.hostname,
        h.os_name,
        h.kernel_release,
        h.uptime_secs / 3600,
        if h.privileged {
            "as root"
        } else {
            "unprivileged (some rows missing)"
        },
        t.summary.headline,
    );
    out.push_str("RANK SCORE SEVERITY  CATEGORY  TITLE\n");
    for i in &t.items {
        out.push_str(&format!(
            "{:<4} {:<5} {:<9} {:<9} {}\n",
            i.rank, i.score, i.severity, i.category, i.title
        ));
        for e in i.evidence.iter().take(4) {
            let e: String = e
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(200)
                .collect();
            out.push_str(&format!("                          - {e}\n"));
        }
    }
    if t.truncated {
        out.push_str("... more items in the summary counts; raise max_items to see them\n");
    }
    out.push_str(&format!(
        "\n{} listening sockets, {} sessions, {} autoruns changed in {} days, {} authentication failures\n",
        t.listening.len(),
        t.logged_in.len(),
        t.recent_autoruns.len(),
        t.days,
        t.auth.failures
    ));
    for n in &t.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out + &limits_text(&t.limits_hit)
}

/// Call one of the live tools in this process and return its structured result.
async fn call_tool(
    tools: Vec<ToolDef>,
    name: &str,
    ctx: &CallContext,
    notes: &mut Vec<String>,
) -> Option<serde_json::Value> {
    let tool = tools.into_iter().find(|t| t.name == name)?;
    let mut args = serde_json::Map::new();
    args.insert("sid".into(), crate::LOCAL_SID.into());
    match tool.handler.call(ctx.clone(), args).await {
        Ok(ToolOutput::Done {
            structured: Some(v),
            is_error: false,
            ..
        }) => Some(v),
        Ok(_) => {
            notes.push(format!("{name}: no structured result"));
            None
        }
        Err(e) => {
            notes.push(format!("{name}: {e}"));
            None
        }
    }
}

async fn triage(live: Arc<Live>, ctx: CallContext, args: TriageArgs) -> Result<Triage, ToolError> {
    local_only(&args.sid)?;
    let days = args.days.unwrap_or(DEFAULT_DAYS);
    if days == 0 || days > MAX_DAYS {
        return Err(ToolError::InvalidArguments(format!(
            "field `days`: {days} is out of range; use 1 to {MAX_DAYS}"
        )));
    }
    let max_items = args.max_items.unwrap_or(DEFAULT_MAX_ITEMS);
    if max_items == 0 {
        return Err(ToolError::InvalidArguments(
            "field `max_items`: give at least 1".into(),
        ));
    }
    if args.indicators.len() > MAX_INDICATORS {
        return Err(ToolError::InvalidArguments(format!(
            "field `indicators`: {} given, at most {MAX_INDICATORS} per call",
            args.indicators.len()
        )));
    }
    let indicators = iocs::normalize(&args.indicators)?;
    let mut notes = Vec::new();
    // Users and autoruns come from their own tools, with their own budgets.
    let users = call_tool(super::users::tools(&live), "get_users", &ctx, &mut notes).await;
    let autoruns = call_tool(
        super::system::tools(&live),
        "get_autoruns",
        &ctx,
        &mut notes,
    )
    .await;
    let mut budget = Budget::new(live.config.limits, &ctx);
    let result = blocking(move || {
        Ok(collect::run(
            &mut budget,
            days,
            max_items,
            &indicators,
            users,
            autoruns,
            notes,
        ))
    })
    .await?;
    Ok(result)
}

pub fn tools(live: &Arc<Live>) -> Vec<ToolDef> {
    let live = live.clone();
    vec![
        ToolDef::new(
            "quick_triage",
            "First look at an endpoint in one call (`local` is this host): OS and uptime, logged-in users, processes with red flags (deleted binary, running from /tmp or /dev/shm, fileless, unusual parent such as a web server spawning a shell, listening as root), listening sockets, autoruns changed in the last `days` days, recent authentication failures from auth.log or the journal, and hits of a supplied indicator list. Returns items ranked by score (0-100) with a severity and the evidence behind each.",
        )
        .title("Quick triage")
        .profiles(&["analysis"])
        .read_only()
        .severity(Severity::Medium)
        .output::<Triage>()
        .handler(move |ctx: CallContext, args: TriageArgs| {
            let live = live.clone();
            async move {
                let result = triage(live, ctx, args).await?;
                render(&result, text(&result))
            }
        }),
    ]
}
