//! The fixtures the official MCP conformance suite
//! (`@modelcontextprotocol/conformance`) calls, declared through the same
//! registry as every other bulwark tool. They live in the isolated
//! `conformance` profile, so they never appear in `all`.
//!
//! Expected names, arguments and results are in `docs/conformance-fixtures.md`.

mod elicit;
mod input_required;

use std::collections::BTreeMap;
use std::time::Duration;

use bulwark_core::{
    CallContext, Content, JsonObject, LogLevel, PromptArg, PromptDef, PromptMessage, PromptOutput,
    PromptRole, RegistryBuilder, ResourceBody, ResourceContent, ResourceDef, ResourceTemplateDef,
    ToolDef, ToolError, ToolOutput,
};
use serde::Deserialize;
use serde_json::{Value, json};

pub const PROFILE: &str = "conformance";

/// A 1×1 PNG.
pub const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// A tiny 8 kHz mono PCM WAV.
pub const WAV: &str = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

/// Add every conformance fixture to the registry.
pub fn register(registry: &mut RegistryBuilder) {
    registry.profile(
        PROFILE,
        "Fixtures for the official MCP conformance suite; exactly what the suite calls, nothing else",
        true,
    );
    registry.tools(tools());
    registry.tools(elicit::tools());
    registry.tools(input_required::tools());
    for resource in resources() {
        registry.resource(resource);
    }
    registry.resource_template(template());
    for prompt in prompts() {
        registry.prompt(prompt);
    }
    registry.prompt(input_required::prompt());
}

pub(crate) fn fixture(name: &'static str, description: &'static str) -> ToolDef {
    ToolDef::new(name, description)
        .profiles(&[PROFILE])
        .read_only()
}

fn constant(name: &'static str, description: &'static str, content: Vec<Content>) -> ToolDef {
    fixture(name, description).raw_handler(move |_ctx: CallContext, _args: JsonObject| {
        let content = content.clone();
        async move { Ok(ToolOutput::content(content)) }
    })
}

fn text(s: &str) -> Content {
    Content::Text(s.to_string())
}

fn image() -> Content {
    Content::Image {
        data: PNG.into(),
        mime_type: "image/png".into(),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
struct SamplingArgs {
    /// The prompt to send to the LLM
    prompt: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct ElicitationArgs {
    /// The message to show the user
    message: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct RegionArgs {
    /// Mirrored into Mcp-Param-Region
    #[schemars(extend("x-mcp-header" = "Region"))]
    region: String,
}

fn tools() -> Vec<ToolDef> {
    vec![
        constant(
            "test_simple_text",
            "Returns a fixed text block",
            vec![text("This is a simple text response for testing.")],
        ),
        constant("test_image_content", "Returns a PNG image", vec![image()]),
        constant(
            "test_audio_content",
            "Returns a WAV clip",
            vec![Content::Audio {
                data: WAV.into(),
                mime_type: "audio/wav".into(),
            }],
        ),
        constant(
            "test_embedded_resource",
            "Returns an embedded text resource",
            vec![Content::Resource {
                uri: "test://embedded-resource".into(),
                mime_type: Some("text/plain".into()),
                body: ResourceBody::Text("This is an embedded resource content.".into()),
            }],
        ),
        constant(
            "test_multiple_content_types",
            "Returns text, an image and a resource",
            vec![
                text("Multiple content types test:"),
                image(),
                Content::Resource {
                    uri: "test://mixed-content-resource".into(),
                    mime_type: Some("application/json".into()),
                    body: ResourceBody::Text(r#"{"test":"data","value":123}"#.into()),
                },
            ],
        ),
        fixture("test_error_handling", "Always fails, as a tool result").raw_handler(
            |_ctx: CallContext, _args: JsonObject| async {
                Ok(ToolOutput::error("This tool intentionally returns an error for testing"))
            },
        ),
        fixture("test_tool_with_progress", "Reports progress three times").raw_handler(
            |ctx: CallContext, _args: JsonObject| async move {
                for (i, step) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                    if i > 0 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    ctx.progress(step, Some(100.0), Some(format!("step {}", i + 1))).await;
                }
                let token = ctx.progress_token.clone().unwrap_or_default();
                Ok(ToolOutput::text(token))
            },
        ),
        fixture("test_tool_with_logging", "Sends three log messages").raw_handler(
            |ctx: CallContext, _args: JsonObject| async move {
                let lines = ["Tool execution started", "Tool processing data", "Tool execution completed"];
                for (i, line) in lines.into_iter().enumerate() {
                    if i > 0 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    ctx.log(LogLevel::Info, json!(line)).await;
                }
                Ok(ToolOutput::text("Tool with logging executed successfully"))
            },
        ),
        fixture("test_logging_tool", "Logs only when the request asks for a log level").raw_handler(
            |ctx: CallContext, _args: JsonObject| async move {
                ctx.log(LogLevel::Info, json!("test_logging_tool ran")).await;
                Ok(ToolOutput::text("logging tool done"))
            },
        ),
        fixture("test_sampling", "Asks the client's LLM to complete a prompt").handler(
            |ctx: CallContext, args: SamplingArgs| async move {
                let params = json!({
                    "messages": [{"role": "user", "content": {"type": "text", "text": args.prompt}}],
                    "maxTokens": 100,
                });
                let answer = ask(&ctx, "sampling/createMessage", params, ctx.client_caps.sampling).await?;
                let text = answer["content"]["text"].as_str().unwrap_or_default().to_string();
                Ok(ToolOutput::text(format!("LLM response: {text}")))
            },
        ),
        fixture("test_elicitation", "Asks the user for a name and email").handler(
            |ctx: CallContext, args: ElicitationArgs| async move {
                let params = json!({
                    "message": args.message,
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "username": {"type": "string", "description": "User's response"},
                            "email": {"type": "string", "description": "User's email address"},
                        },
                        "required": ["username", "email"],
                    },
                });
                let answer = ask(&ctx, "elicitation/create", params, ctx.client_caps.elicitation).await?;
                Ok(ToolOutput::text(format!(
                    "User response: action={}, content={}",
                    answer["action"].as_str().unwrap_or("unknown"),
                    answer.get("content").cloned().unwrap_or(Value::Null)
                )))
            },
        ),
        fixture("test_reconnection", "Answers after a short pause").raw_handler(
            |_ctx: CallContext, _args: JsonObject| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(ToolOutput::text("Reconnection test completed"))
            },
        ),
        fixture("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features")
            .input_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {"address": {"$anchor": "addressDef", "type": "object",
                    "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
                "properties": {
                    "name": {"type": "string"},
                    "address": {"$ref": "#/$defs/address"},
                    "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                    "phone": {"type": "string"},
                    "email": {"type": "string"}
                },
                "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
                "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
                "then": {"required": ["phone"]},
                "else": {"required": ["email"]},
                "additionalProperties": false
            }))
            .raw_handler(|_ctx: CallContext, args: JsonObject| async move {
                Ok(ToolOutput::text(format!("received {}", Value::Object(args))))
            }),
        fixture("test_mcp_param_header", "Echoes a parameter mirrored into an HTTP header").handler(
            |_ctx: CallContext, args: RegionArgs| async move {
                Ok(ToolOutput::text(format!("region={}", args.region)))
            },
        ),
    ]
}

/// Ask the client something over the session (2025-11-25 era).
pub(crate) async fn ask(
    ctx: &CallContext,
    method: &str,
    params: Value,
    declared: bool,
) -> Result<Value, ToolError> {
    if !declared {
        return Err(ToolError::failed(format!(
            "the client did not declare the capability `{method}` needs"
        )));
    }
    let Some(channel) = &ctx.channel else {
        return Err(ToolError::failed(format!(
            "`{method}` needs an MCP client; none is connected"
        )));
    };
    channel
        .request(method.to_string(), params)
        .await
        .map_err(ToolError::Failed)
}

fn resources() -> Vec<ResourceDef> {
    let fixed = |uri: &'static str,
                 name: &'static str,
                 description: &'static str,
                 mime: &'static str,
                 body: ResourceBody| {
        ResourceDef {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: Some(description.into()),
            mime_type: Some(mime.into()),
            profiles: vec![PROFILE.into()],
            handler: std::sync::Arc::new(
                move |_ctx: CallContext, uri: String, _vars: BTreeMap<String, String>| {
                    let body = body.clone();
                    async move {
                        Ok(vec![ResourceContent {
                            uri,
                            mime_type: Some(mime.to_string()),
                            body,
                        }])
                    }
                },
            ),
        }
    };
    vec![
        fixed(
            "test://static-text",
            "static-text",
            "A static text resource",
            "text/plain",
            ResourceBody::Text("This is the content of the static text resource.".into()),
        ),
        fixed(
            "test://static-binary",
            "static-binary",
            "A static binary resource (PNG)",
            "image/png",
            ResourceBody::Blob(PNG.into()),
        ),
        fixed(
            "test://watched-resource",
            "watched-resource",
            "A resource clients may subscribe to",
            "text/plain",
            ResourceBody::Text("Watched resource content".into()),
        ),
    ]
}

fn template() -> ResourceTemplateDef {
    ResourceTemplateDef {
        uri_template: "test://template/{id}/data".into(),
        name: "template".into(),
        title: None,
        description: Some("A resource template with parameter substitution".into()),
        mime_type: Some("application/json".into()),
        profiles: vec![PROFILE.into()],
        handler: std::sync::Arc::new(
            |_ctx: CallContext, uri: String, vars: BTreeMap<String, String>| async move {
                let id = vars.get("id").cloned().unwrap_or_default();
                let body =
                    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
                Ok(vec![ResourceContent {
                    uri,
                    mime_type: Some("application/json".to_string()),
                    body: ResourceBody::Text(body.to_string()),
                }])
            },
        ),
    }
}

fn prompt(
    name: &'static str,
    description: &'static str,
    arguments: &[&'static str],
    render: fn(&BTreeMap<String, String>) -> Vec<PromptMessage>,
) -> PromptDef {
    PromptDef {
        name: name.into(),
        title: None,
        description: Some(description.into()),
        arguments: arguments
            .iter()
            .map(|a| PromptArg {
                name: (*a).into(),
                description: Some(format!("Value for {a}").into()),
                required: true,
            })
            .collect(),
        profiles: vec![PROFILE.into()],
        handler: std::sync::Arc::new(move |_ctx: CallContext, args: BTreeMap<String, String>| {
            let messages = render(&args);
            async move {
                Ok(PromptOutput {
                    messages,
                    ..Default::default()
                })
            }
        }),
    }
}

fn user(content: Content) -> PromptMessage {
    PromptMessage {
        role: PromptRole::User,
        content,
    }
}

fn prompts() -> Vec<PromptDef> {
    vec![
        prompt(
            "test_simple_prompt",
            "A prompt without arguments",
            &[],
            |_| vec![user(text("This is a simple prompt for testing."))],
        ),
        prompt(
            "test_prompt_with_arguments",
            "A prompt with two required arguments",
            &["arg1", "arg2"],
            |args| {
                vec![user(text(&format!(
                    "Prompt with arguments: arg1='{}', arg2='{}'",
                    args.get("arg1").map(String::as_str).unwrap_or_default(),
                    args.get("arg2").map(String::as_str).unwrap_or_default()
                )))]
            },
        ),
        prompt(
            "test_prompt_with_embedded_resource",
            "A prompt that embeds a resource",
            &["resourceUri"],
            |args| {
                vec![
                    user(Content::Resource {
                        uri: args.get("resourceUri").cloned().unwrap_or_default(),
                        mime_type: Some("text/plain".into()),
                        body: ResourceBody::Text("Embedded resource content for testing.".into()),
                    }),
                    user(text("Please process the embedded resource above.")),
                ]
            },
        ),
        prompt(
            "test_prompt_with_image",
            "A prompt with an image",
            &[],
            |_| vec![user(image()), user(text("Please analyze the image above."))],
        ),
    ]
}
