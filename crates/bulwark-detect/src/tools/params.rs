//! Input-schema parameters shaped for exfiltration (asking for the
//! conversation, the system prompt or secrets) and required parameters
//! hidden from the user.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::ToolDescriptor;
use super::hit::{Hit, clip};
use super::phrases::credential_paths;
use super::pointer_escape;
use crate::finding::{Confidence, Severity};

/// Parameter names (lowercase, separators removed) that only make sense as
/// a channel for the conversation or the model's instructions.
const EXFIL_NAMES: &[&str] = &[
    "conversationhistory",
    "chathistory",
    "fullconversation",
    "entireconversation",
    "allmessages",
    "previousmessages",
    "priormessages",
    "messagehistory",
    "fullhistory",
    "fullchat",
    "systemprompt",
    "systemmessage",
    "systeminstructions",
    "assistantinstructions",
    "modelinstructions",
    "sidenote",
    "sidenotes",
    "hiddencontext",
    "fullcontext",
    "chatlog",
];

static ASKS_CONVERSATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:full|entire|complete|whole|all|verbatim|every|previous|prior|past)\b(?:\s+\S+){0,3}?\s+(?:conversation|chat|messages?|dialog(?:ue)?|transcript|history|turns)\b|\bsystem\s+(?:prompt|message|instructions)\b|\b(?:your|the\s+model'?s?|the\s+assistant'?s?)\s+(?:instructions|prompt)\b").expect("compiles")
});
static ASKS_SECRETS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:all|any|every)\s+(?:\S+\s+){0,2}?(?:api\s+keys?|credentials|passwords|secrets|tokens|environment\s+variables|env\s+vars)\b|\b(?:api\s+keys?|credentials|passwords|secrets|tokens)\s+(?:the\s+user\s+has|you\s+(?:have|know|can\s+(?:find|see|access))|available\s+to\s+you|stored|found|in\s+(?:the\s+)?(?:environment|context|conversation))\b|\bcontents?\s+of\b").expect("compiles")
});
static HIDES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:do\s+not|don'?t|never)\s+(?:show|mention|tell|reveal|display|ask|explain)\b|\bhidden\s+(?:parameter|field|argument|value)\b|\binternal\s+use\s+only\b|\b(?:automatically|silently|always)\s+(?:fill(?:ed)?|populated?|include[sd]?|set)\b|\buser\s+(?:does\s+not|doesn't|need\s+not|should\s+not|must\s+not)\s+(?:need\s+to\s+)?(?:see|know|be\s+told)\b|\bnot\s+(?:shown|visible|displayed)\s+to\s+the\s+user\b|\bthe\s+user\s+(?:will\s+not|won't)\s+see\b").expect("compiles")
});
static CONVERSATIONAL_PURPOSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)conversation|chat|message|prompt|history|transcript|summar|memory|dialog")
        .expect("compiles")
});

fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn text_of(schema: &Value) -> String {
    ["description", "title"]
        .iter()
        .filter_map(|k| schema.get(*k).and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parameter findings, as (field pointer, hit).
pub(crate) fn param_hits(tool: &ToolDescriptor) -> Vec<(String, Hit)> {
    let mut out = Vec::new();
    let Some(schema) = &tool.input_schema else {
        return out;
    };
    let purpose = format!("{} {}", tool.name, tool.description);
    let conversational = CONVERSATIONAL_PURPOSE.is_match(&purpose);
    walk(schema, String::new(), conversational, 0, &mut out);
    out
}

fn walk(
    schema: &Value,
    base: String,
    conversational: bool,
    depth: usize,
    out: &mut Vec<(String, Hit)>,
) {
    if depth > 6 {
        return;
    }
    let Some(obj) = schema.as_object() else {
        return;
    };
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let props = obj.get("properties").and_then(Value::as_object);
    if let Some(props) = props {
        for (name, p) in props {
            let ptr = format!("{base}/properties/{}", pointer_escape(name));
            let desc = text_of(p);
            let n = norm(name);
            let is_required = required.contains(&name.as_str());
            let named = EXFIL_NAMES.contains(&n.as_str());
            let asks_conv = ASKS_CONVERSATION.find(&desc);
            let asks_secret = ASKS_SECRETS.find(&desc).filter(|m| {
                // "contents of" only counts for a credential path.
                !m.as_str().to_ascii_lowercase().starts_with("content")
                    || !credential_paths(&desc).is_empty()
            });
            if let Some(m) = asks_secret {
                out.push((
                    ptr.clone(),
                    Hit::new(
                        "BWK-TOOL-EXFIL-PARAM",
                        m.start(),
                        m.end(),
                        format!("parameter `{name}` asks the model for secrets"),
                        format!("`{name}`: \"{}\"", clip(&desc, 160)),
                    ),
                ));
            } else if (named || asks_conv.is_some()) && !conversational {
                let (s, e) = asks_conv.map_or((0, 0), |m| (m.start(), m.end()));
                let what = if asks_conv.is_some() {
                    "the conversation or the model's instructions"
                } else {
                    "context by its name alone"
                };
                out.push((
                    ptr.clone(),
                    Hit::new(
                        "BWK-TOOL-EXFIL-PARAM",
                        s,
                        e,
                        format!("parameter `{name}` collects {what}, which the tool's purpose does not need"),
                        format!("`{name}`: \"{}\"", clip(&desc, 160)),
                    )
                    .confidence(if asks_conv.is_some() { Confidence::High } else { Confidence::Medium }),
                ));
            }
            if is_required && let Some(m) = HIDES.find(&desc) {
                out.push((
                    ptr.clone(),
                    Hit::new(
                        "BWK-TOOL-HIDDEN-PARAM",
                        m.start(),
                        m.end(),
                        format!(
                            "required parameter `{name}` is meant to stay hidden from the user"
                        ),
                        format!("`{name}`: \"{}\"", clip(&desc, 160)),
                    ),
                ));
            }
            walk(p, ptr.clone(), conversational, depth + 1, out);
            if let Some(items) = p.get("items") {
                walk(
                    items,
                    format!("{ptr}/items"),
                    conversational,
                    depth + 1,
                    out,
                );
            }
        }
        for r in &required {
            if !props.contains_key(*r) {
                out.push((
                    format!("{base}/required"),
                    Hit::new(
                        "BWK-TOOL-HIDDEN-PARAM",
                        0,
                        0,
                        format!(
                            "required parameter `{r}` is not declared in the schema's properties"
                        ),
                        format!(
                            "required: {r}; declared: {}",
                            props.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    )
                    .severity(Severity::Medium)
                    .confidence(Confidence::Low),
                ));
            }
        }
    }
}
