//! Stateless-era (2026-07-28) fixtures: input-required results (SEP-2322) and
//! the diagnostic tools of the stateless scenario (SEP-2575).
//!
//! Each handler looks at what the client answered so far (`ctx.input`) and
//! either asks again or finishes. The server seals `state` so it cannot be forged.

use std::collections::BTreeMap;

use bulwark_core::{
    CallContext, Content, JsonObject, PromptDef, PromptMessage, PromptOutput, PromptRole, ToolDef,
    ToolError, ToolOutput,
};
use serde_json::{Map, Value, json};

use crate::{PROFILE, fixture};

fn elicit(message: &str, field: &str, kind: &str) -> Value {
    json!({
        "method": "elicitation/create",
        "params": {
            "message": message,
            "requestedSchema": {"type": "object", "properties": {field: {"type": kind}}, "required": [field]},
        },
    })
}

fn sample(text: &str, max_tokens: u32) -> Value {
    json!({
        "method": "sampling/createMessage",
        "params": {
            "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
            "maxTokens": max_tokens,
        },
    })
}

fn roots() -> Value {
    json!({ "method": "roots/list", "params": {} })
}

fn ask(requests: &[(&str, Value)], state: Option<&str>) -> ToolOutput {
    let requests: Map<String, Value> = requests
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    ToolOutput::InputRequired {
        requests,
        state: state.map(str::to_string),
    }
}

/// The accepted content of an elicitation answer, if the client sent one in a usable shape.
fn accepted<'a>(ctx: &'a CallContext, key: &str) -> Option<&'a Map<String, Value>> {
    let answer = ctx.input.as_ref()?.responses.get(key)?;
    if answer.get("action").and_then(Value::as_str) != Some("accept") {
        return None;
    }
    answer.get("content")?.as_object()
}

fn response<'a>(ctx: &'a CallContext, key: &str) -> Option<&'a Value> {
    ctx.input
        .as_ref()?
        .responses
        .get(key)
        .filter(|v| v.is_object())
}

fn state(ctx: &CallContext) -> Option<&str> {
    ctx.input.as_ref()?.state.as_deref()
}

fn tool(
    name: &'static str,
    description: &'static str,
    f: fn(&CallContext) -> Result<ToolOutput, ToolError>,
) -> ToolDef {
    fixture(name, description)
        .raw_handler(move |ctx: CallContext, _args: JsonObject| async move { f(&ctx) })
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        tool(
            "test_input_required_result_elicitation",
            "Asks the user's name, then greets them",
            |ctx| match accepted(ctx, "user_name")
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
            {
                Some(name) => Ok(ToolOutput::text(format!("Hello, {name}!"))),
                None => Ok(ask(
                    &[("user_name", elicit("What is your name?", "name", "string"))],
                    None,
                )),
            },
        ),
        tool(
            "test_input_required_result_sampling",
            "Asks the client's LLM a question",
            |ctx| match response(ctx, "capital_question") {
                Some(answer) => Ok(ToolOutput::text(format!(
                    "The model answered: {}",
                    answer["content"]["text"].as_str().unwrap_or_default()
                ))),
                None => Ok(ask(
                    &[(
                        "capital_question",
                        sample("What is the capital of France?", 100),
                    )],
                    None,
                )),
            },
        ),
        tool(
            "test_input_required_result_list_roots",
            "Asks for the client's roots",
            |ctx| match response(ctx, "client_roots") {
                Some(answer) => {
                    let uris: Vec<&str> = answer["roots"]
                        .as_array()
                        .map(|roots| roots.iter().filter_map(|r| r["uri"].as_str()).collect())
                        .unwrap_or_default();
                    Ok(ToolOutput::text(format!("Roots: {}", uris.join(", "))))
                }
                None => Ok(ask(&[("client_roots", roots())], None)),
            },
        ),
        tool(
            "test_input_required_result_request_state",
            "Carries state across a retry",
            |ctx| match (accepted(ctx, "confirm"), state(ctx)) {
                (Some(_), Some("confirm-pending")) => Ok(ToolOutput::text("state-ok: confirmed")),
                _ => Ok(ask(
                    &[("confirm", elicit("Please confirm", "ok", "boolean"))],
                    Some("confirm-pending"),
                )),
            },
        ),
        tool(
            "test_input_required_result_multiple_inputs",
            "Asks for three inputs at once",
            |ctx| {
                let name = accepted(ctx, "user_name")
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str);
                match (
                    name,
                    response(ctx, "greeting"),
                    response(ctx, "client_roots"),
                    state(ctx),
                ) {
                    (Some(name), Some(_), Some(_), Some("multi")) => {
                        Ok(ToolOutput::text(format!("Got all three inputs for {name}")))
                    }
                    _ => Ok(ask(
                        &[
                            ("user_name", elicit("What is your name?", "name", "string")),
                            ("greeting", sample("Generate a greeting", 50)),
                            ("client_roots", roots()),
                        ],
                        Some("multi"),
                    )),
                }
            },
        ),
        tool(
            "test_input_required_result_multi_round",
            "Asks two questions, one per round",
            |ctx| match state(ctx) {
                Some("step1") if accepted(ctx, "step1").is_some() => Ok(ask(
                    &[(
                        "step2",
                        elicit("Step 2: What is your favorite color?", "color", "string"),
                    )],
                    Some("step2"),
                )),
                Some("step2") if accepted(ctx, "step2").is_some() => {
                    let color = accepted(ctx, "step2")
                        .and_then(|c| c.get("color"))
                        .and_then(Value::as_str);
                    Ok(ToolOutput::text(format!(
                        "All rounds done; favorite color {}",
                        color.unwrap_or("?")
                    )))
                }
                _ => Ok(ask(
                    &[(
                        "step1",
                        elicit("Step 1: What is your name?", "name", "string"),
                    )],
                    Some("step1"),
                )),
            },
        ),
        tool(
            "test_input_required_result_tampered_state",
            "Rejects altered requestState",
            |ctx| match (accepted(ctx, "confirm"), state(ctx)) {
                (Some(_), Some("tamper-check")) => Ok(ToolOutput::text("state verified")),
                _ => Ok(ask(
                    &[("confirm", elicit("Please confirm", "ok", "boolean"))],
                    Some("tamper-check"),
                )),
            },
        ),
        tool(
            "test_input_required_result_capabilities",
            "Asks only for what the client declared",
            |ctx| {
                if ctx.input.is_some() {
                    return Ok(ToolOutput::text("capabilities respected"));
                }
                let caps = ctx.client_caps;
                let mut requests = Vec::new();
                if caps.elicitation {
                    requests.push(("user_name", elicit("What is your name?", "name", "string")));
                }
                if caps.sampling {
                    requests.push(("greeting", sample("Generate a greeting", 50)));
                }
                if caps.roots {
                    requests.push(("client_roots", roots()));
                }
                if requests.is_empty() {
                    return Ok(ToolOutput::text("the client declared no input capability"));
                }
                Ok(ask(&requests, None))
            },
        ),
        tool(
            "test_missing_capability",
            "Needs the client's sampling capability",
            |ctx| {
                if !ctx.client_caps.sampling {
                    return Err(ToolError::MissingCapability("sampling".into()));
                }
                Ok(ask(
                    &[("greeting", sample("Generate a greeting", 50))],
                    None,
                ))
            },
        ),
        tool(
            "test_streaming_elicitation",
            "Asks for input the stateless way",
            |ctx| match accepted(ctx, "user_name") {
                Some(_) => Ok(ToolOutput::text("thanks")),
                None => Ok(ask(
                    &[("user_name", elicit("What is your name?", "name", "string"))],
                    None,
                )),
            },
        ),
    ]
}

pub fn prompt() -> PromptDef {
    PromptDef {
        name: "test_input_required_result_prompt".into(),
        title: None,
        description: Some("A prompt that asks the user for context first".into()),
        arguments: vec![],
        profiles: vec![PROFILE.into()],
        handler: std::sync::Arc::new(
            |ctx: CallContext, _args: BTreeMap<String, String>| async move {
                let context = accepted(&ctx, "user_context")
                    .and_then(|c| c.get("context"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                Ok(match context {
                    Some(context) => PromptOutput {
                        description: None,
                        messages: vec![PromptMessage {
                            role: PromptRole::User,
                            content: Content::Text(format!("Prompt context: {context}")),
                        }],
                        input_required: None,
                    },
                    None => {
                        let mut requests = Map::new();
                        requests.insert(
                            "user_context".into(),
                            elicit("What context should the prompt use?", "context", "string"),
                        );
                        PromptOutput {
                            input_required: Some((requests, None)),
                            ..Default::default()
                        }
                    }
                })
            },
        ),
    }
}
