//! `retrieve_tools`: BM25 search over the approved upstream tools.
//!
//! The index (crates/bulwark-toolindex) is fed by the gateway's
//! [`ToolIndexSink`] hook, which only ever hands over approved tools, so a
//! quarantined, pending, changed or disabled tool can never be found here.

use std::sync::Arc;

use bulwark_core::{CallContext, Severity, ToolDef, ToolError, ToolOutput};
use bulwark_toolindex::ToolIndex;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Gateway, IndexedTool, ToolIndexSink};

/// Most results one call may ask for.
const MAX_LIMIT: usize = 50;
const DEFAULT_LIMIT: usize = 10;

/// The BM25 index as the gateway's sink. Index errors are logged, not
/// returned: the gateway's bookkeeping must not fail because search did.
pub struct SearchSink(pub Arc<ToolIndex>);

impl ToolIndexSink for SearchSink {
    fn upsert_server(&self, server: &str, tools: &[IndexedTool]) {
        let tools: Vec<bulwark_toolindex::IndexedTool> = tools
            .iter()
            .map(|t| {
                bulwark_toolindex::IndexedTool::new(
                    t.name.clone(),
                    t.description.clone(),
                    t.input_schema.clone(),
                )
            })
            .collect();
        if let Err(err) = self.0.upsert_server(server, &tools) {
            tracing::error!(server, "tool search index not updated: {err}");
        }
    }

    fn remove_server(&self, server: &str) {
        if let Err(err) = self.0.remove_server(server) {
            tracing::error!(server, "tool search index not updated: {err}");
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RetrieveArgs {
    /// What you want to do, in words (e.g. "read a file", "create a GitHub issue").
    query: String,
    /// How many tools to return (1-50, default 10).
    #[serde(default)]
    limit: Option<usize>,
    /// Also report how many tools and servers are searchable.
    #[serde(default)]
    include_stats: bool,
    /// Add each hit's score breakdown by field and term.
    #[serde(default)]
    debug: bool,
    /// `server:tool`: explain where this tool ranks for the query and why.
    #[serde(default)]
    explain_tool: Option<String>,
}

fn failed(err: bulwark_toolindex::ToolIndexError) -> ToolError {
    ToolError::Failed(format!("tool search failed: {err}"))
}

async fn retrieve(
    gateway: Gateway,
    index: Arc<ToolIndex>,
    a: RetrieveArgs,
) -> Result<ToolOutput, ToolError> {
    let limit = a.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ToolError::InvalidArguments(format!(
            "field `limit`: {limit} is out of range; ask for 1 to {MAX_LIMIT} tools"
        )));
    }
    if a.query.trim().is_empty() {
        return Err(ToolError::InvalidArguments(
            "field `query`: empty; describe the task, e.g. \"list files in a directory\"".into(),
        ));
    }
    // Brings the index up to date with the store (a CLI approval made a
    // moment ago) and gives the schemas to return with each hit.
    let records = gateway.sync()?;
    let hits = index.search(&a.query, limit).map_err(failed)?;
    let mut tools = Vec::with_capacity(hits.len());
    for hit in hits {
        let Some(tool) = records.get(&hit.server).and_then(|r| {
            r.callable()
                .find(|(name, _)| **name == hit.tool)
                .map(|(_, t)| t)
        }) else {
            // Changed or unapproved since the index was fed: never offered.
            continue;
        };
        let mut entry = json!({
            "name": hit.name,
            "server": hit.server,
            "tool": hit.tool,
            "score": hit.score,
            "description": tool.description,
            "input_schema": tool.input_schema,
        });
        if !tool.annotations.is_null() {
            entry["annotations"] = tool.annotations.clone();
        }
        if a.debug
            && let Some(explained) = index.explain_tool(&a.query, &hit.name).map_err(failed)?
        {
            entry["debug"] = serde_json::to_value(explained).unwrap_or(Value::Null);
        }
        tools.push(entry);
    }
    let mut out = json!({ "query": a.query, "tools": tools });
    if a.include_stats {
        out["stats"] = serde_json::to_value(index.stats()).unwrap_or(Value::Null);
    }
    if let Some(name) = &a.explain_tool {
        out["explanation"] = match index.explain_tool(&a.query, name).map_err(failed)? {
            Some(explained) => serde_json::to_value(explained).unwrap_or(Value::Null),
            None => Value::String(format!(
                "`{name}` is not searchable: unknown, or not approved (see quarantine_security)"
            )),
        };
    }
    Ok(ToolOutput::structured(out))
}

/// Connects a fresh in-memory index to `gateway` and declares `retrieve_tools`.
pub(crate) fn retrieve_tools(gateway: &Gateway) -> Result<ToolDef, String> {
    let index = Arc::new(
        ToolIndex::new().map_err(|e| format!("cannot create the tool search index: {e}"))?,
    );
    gateway.set_index(Arc::new(SearchSink(index.clone())));
    let gw = gateway.clone();
    Ok(ToolDef::new(
        "retrieve_tools",
        "Find upstream tools for a task: BM25 search over the names, descriptions and parameters of every approved tool behind the gateway. Returns `server:tool` names with their input schemas, ready for call_tool. Quarantined or changed tools are never returned.",
    )
    .title("Search upstream tools")
    .severity(Severity::Low)
    .read_only()
    .profiles(&["gateway"])
    .handler(move |_ctx: CallContext, a: RetrieveArgs| {
        retrieve(gw.clone(), index.clone(), a)
    }))
}
