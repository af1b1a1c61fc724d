//! Session-era elicitation fixtures (SEP-1034 defaults, SEP-1330 enums).

use bulwark_core::{CallContext, JsonObject, ToolDef, ToolOutput};
use serde_json::{Value, json};

use crate::{ask, fixture};

fn elicitation_tool(name: &'static str, description: &'static str, schema: Value) -> ToolDef {
    fixture(name, description).raw_handler(move |ctx: CallContext, _args: JsonObject| {
        let schema = schema.clone();
        async move {
            let params = json!({ "message": "Please review and update the form fields", "requestedSchema": schema });
            let answer = ask(&ctx, "elicitation/create", params, ctx.client_caps.elicitation).await?;
            Ok(ToolOutput::text(format!(
                "Elicitation completed: action={}, content={}",
                answer["action"].as_str().unwrap_or("unknown"),
                answer.get("content").cloned().unwrap_or(Value::Null)
            )))
        }
    })
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        elicitation_tool(
            "test_elicitation_sep1034_defaults",
            "Elicits a form whose fields all have defaults",
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "User name", "default": "John Doe"},
                    "age": {"type": "integer", "description": "User age", "default": 30},
                    "score": {"type": "number", "description": "User score", "default": 95.5},
                    "status": {"type": "string", "description": "User status",
                        "enum": ["active", "inactive", "pending"], "default": "active"},
                    "verified": {"type": "boolean", "description": "Verification status", "default": true}
                },
                "required": []
            }),
        ),
        elicitation_tool(
            "test_elicitation_sep1330_enums",
            "Elicits every enum shape",
            json!({
                "type": "object",
                "properties": {
                    "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                    "titledSingle": {"type": "string", "oneOf": [
                        {"const": "value1", "title": "First Option"},
                        {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"}]},
                    "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"],
                        "enumNames": ["Option One", "Option Two", "Option Three"]},
                    "untitledMulti": {"type": "array", "minItems": 1, "maxItems": 3,
                        "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                    "titledMulti": {"type": "array", "minItems": 1, "maxItems": 3,
                        "items": {"anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"}]}}
                },
                "required": []
            }),
        ),
    ]
}
