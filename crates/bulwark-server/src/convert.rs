//! Turning bulwark's transport-free declarations and outputs into rmcp types.
//!
//! Most rmcp model types are `#[non_exhaustive]`, so they are built from their
//! JSON wire form, which is also the form the spec defines.

use bulwark_core::{
    Content, PromptDef, PromptOutput, PromptRole, ResourceBody, ResourceDef, ResourceTemplateDef,
    ToolDef,
};
use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};
use serde_json::{Map, Value, json};

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value)
        .expect("bulwark builds rmcp types from their documented wire form")
}

pub fn tool(def: &ToolDef) -> Tool {
    let mut annotations = Map::new();
    annotations.insert("readOnlyHint".into(), def.hints.read_only.into());
    annotations.insert("destructiveHint".into(), def.hints.destructive.into());
    annotations.insert("idempotentHint".into(), def.hints.idempotent.into());
    annotations.insert("openWorldHint".into(), def.hints.open_world.into());
    if let Some(title) = &def.title {
        annotations.insert("title".into(), title.as_ref().into());
    }
    let mut tool = json!({
        "name": def.name,
        "description": def.description,
        "inputSchema": &*def.input_schema,
        "annotations": annotations,
    });
    if let Some(title) = &def.title {
        tool["title"] = title.as_ref().into();
    }
    if let Some(schema) = &def.output_schema {
        tool["outputSchema"] = Value::Object((**schema).clone());
    }
    from_json(tool)
}

pub fn resource(def: &ResourceDef) -> Resource {
    let mut value = json!({ "uri": def.uri, "name": def.name });
    set_opt(&mut value, "title", def.title.as_deref());
    set_opt(&mut value, "description", def.description.as_deref());
    set_opt(&mut value, "mimeType", def.mime_type.as_deref());
    from_json(value)
}

pub fn resource_template(def: &ResourceTemplateDef) -> ResourceTemplate {
    let mut value = json!({ "uriTemplate": def.uri_template, "name": def.name });
    set_opt(&mut value, "title", def.title.as_deref());
    set_opt(&mut value, "description", def.description.as_deref());
    set_opt(&mut value, "mimeType", def.mime_type.as_deref());
    from_json(value)
}

pub fn prompt(def: &PromptDef) -> Prompt {
    let arguments: Vec<Value> = def
        .arguments
        .iter()
        .map(|a| {
            let mut v = json!({ "name": a.name, "required": a.required });
            set_opt(&mut v, "description", a.description.as_deref());
            v
        })
        .collect();
    let mut value = json!({ "name": def.name, "arguments": arguments });
    set_opt(&mut value, "title", def.title.as_deref());
    set_opt(&mut value, "description", def.description.as_deref());
    from_json(value)
}

fn set_opt(value: &mut Value, key: &str, field: Option<&str>) {
    if let Some(field) = field {
        value[key] = field.into();
    }
}

/// One content block in wire form.
pub fn content_json(content: &Content) -> Value {
    match content {
        Content::Text(text) => json!({ "type": "text", "text": text }),
        Content::Image { data, mime_type } => {
            json!({ "type": "image", "data": data, "mimeType": mime_type })
        }
        Content::Audio { data, mime_type } => {
            json!({ "type": "audio", "data": data, "mimeType": mime_type })
        }
        Content::Resource {
            uri,
            mime_type,
            body,
        } => {
            json!({ "type": "resource", "resource": resource_contents_json(uri, mime_type.as_deref(), body) })
        }
        Content::ResourceLink {
            uri,
            name,
            mime_type,
            description,
            size,
        } => {
            let mut v = json!({ "type": "resource_link", "uri": uri, "name": name });
            set_opt(&mut v, "mimeType", mime_type.as_deref());
            set_opt(&mut v, "description", description.as_deref());
            if let Some(size) = size {
                v["size"] = (*size).into();
            }
            v
        }
    }
}

pub fn resource_contents_json(uri: &str, mime_type: Option<&str>, body: &ResourceBody) -> Value {
    let mut v = json!({ "uri": uri });
    set_opt(&mut v, "mimeType", mime_type);
    match body {
        ResourceBody::Text(text) => v["text"] = text.as_str().into(),
        ResourceBody::Blob(blob) => v["blob"] = blob.as_str().into(),
    }
    v
}

pub fn prompt_output_json(output: &PromptOutput) -> Value {
    let messages: Vec<Value> = output
        .messages
        .iter()
        .map(|m| {
            let role = match m.role {
                PromptRole::User => "user",
                PromptRole::Assistant => "assistant",
            };
            json!({ "role": role, "content": content_json(&m.content) })
        })
        .collect();
    let mut value = json!({ "messages": messages });
    set_opt(&mut value, "description", output.description.as_deref());
    value
}

/// A tool output in the wire form of a `tools/call` result.
pub fn output_json(output: &bulwark_core::ToolOutput) -> Value {
    match output {
        bulwark_core::ToolOutput::Done {
            content,
            structured,
            is_error,
        } => {
            let content: Vec<Value> = content.iter().map(content_json).collect();
            let mut v = json!({ "content": content });
            if let Some(s) = structured {
                v["structuredContent"] = s.clone();
            }
            if *is_error {
                v["isError"] = true.into();
            }
            v
        }
        bulwark_core::ToolOutput::InputRequired { requests, .. } => {
            json!({ "resultType": "input_required", "inputRequests": requests })
        }
    }
}
