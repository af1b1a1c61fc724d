use serde_json::Value;

/// One block of a tool result. Mirrors MCP content without depending on a transport.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text(String),
    /// Base64-encoded image bytes and their MIME type.
    Image {
        data: String,
        mime_type: String,
    },
    /// Base64-encoded audio bytes and their MIME type.
    Audio {
        data: String,
        mime_type: String,
    },
    /// A resource embedded in the result.
    Resource {
        uri: String,
        mime_type: Option<String>,
        body: ResourceBody,
    },
    /// A link to a resource the client may read later.
    ResourceLink {
        uri: String,
        name: String,
        mime_type: Option<String>,
        description: Option<String>,
        size: Option<u64>,
    },
}

/// The body of a resource: text, or base64-encoded bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceBody {
    Text(String),
    Blob(String),
}

/// What a tool handler returns.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutput {
    /// The tool finished: content blocks, optional structured content, error flag.
    Done {
        content: Vec<Content>,
        structured: Option<Value>,
        is_error: bool,
    },
    /// The tool needs input from the client before it can finish (MCP 2026-07-28
    /// input-required results). Keys name each request; values are the MCP request
    /// objects (`{"method": "...", "params": {...}}`). `state` is handed back to the
    /// handler on the retry, sealed by the server so the client cannot alter it.
    InputRequired {
        requests: serde_json::Map<String, Value>,
        state: Option<String>,
    },
}

impl ToolOutput {
    pub fn text(text: impl Into<String>) -> Self {
        ToolOutput::Done {
            content: vec![Content::Text(text.into())],
            structured: None,
            is_error: false,
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        ToolOutput::Done {
            content: vec![Content::Text(message.into())],
            structured: None,
            is_error: true,
        }
    }

    pub fn content(content: Vec<Content>) -> Self {
        ToolOutput::Done {
            content,
            structured: None,
            is_error: false,
        }
    }

    /// Structured content with its JSON text as the content block, so clients
    /// that ignore `structuredContent` still see the data.
    pub fn structured(value: Value) -> Self {
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        ToolOutput::Done {
            content: vec![Content::Text(text)],
            structured: Some(value),
            is_error: false,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, ToolOutput::Done { is_error: true, .. })
    }
}
