use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{BoxFuture, CallContext, JsonObject, Severity, ToolOutput};

/// The MCP tool annotations. They are hints for clients, and bulwark also uses
/// `destructive` to decide which calls need the `tools:destructive` scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

/// Why a call failed. Every variant becomes an MCP tool result with `isError:
/// true` except [`ToolError::UnknownTool`], which is a protocol error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    #[error(
        "unknown tool `{name}` in profile `{profile}`; run `bulwark tools list --profile {profile}` to see the tools it offers"
    )]
    UnknownTool { name: String, profile: String },
    #[error("{0}")]
    Failed(String),
    /// The client lacks a capability the tool needs (MCP error -32021).
    #[error("this tool needs the client capability `{0}`; use a client that declares it")]
    MissingCapability(String),
    /// The caller lacks a scope the call needs.
    #[error("this call needs the scope `{0}`; ask for a token or key that carries it")]
    Forbidden(String),
    /// Too many calls; retry after this many seconds.
    #[error("rate limit reached for `{scope}`; retry in {retry_after_secs} s")]
    RateLimited {
        scope: String,
        retry_after_secs: u64,
    },
    #[error("the call was cancelled")]
    Cancelled,
    #[error(
        "the call did not finish within {0} seconds; narrow the request or raise `server.call_timeout_secs`"
    )]
    TimedOut(u64),
}

impl ToolError {
    pub fn failed(message: impl Into<String>) -> Self {
        ToolError::Failed(message.into())
    }
}

/// The async function behind a tool. Takes the raw JSON arguments; the typed
/// wrapper made by [`ToolDef::handler`] deserializes them first.
pub trait ToolHandler: Send + Sync + 'static {
    fn call(&self, ctx: CallContext, args: JsonObject) -> BoxFuture<Result<ToolOutput, ToolError>>;
}

impl<F, Fut> ToolHandler for F
where
    F: Fn(CallContext, JsonObject) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ToolOutput, ToolError>> + Send + 'static,
{
    fn call(&self, ctx: CallContext, args: JsonObject) -> BoxFuture<Result<ToolOutput, ToolError>> {
        Box::pin(self(ctx, args))
    }
}

/// A tool, declared once. Everything that lists or calls tools reads this.
#[derive(Clone)]
pub struct ToolDef {
    pub name: Cow<'static, str>,
    pub title: Option<Cow<'static, str>>,
    pub description: Cow<'static, str>,
    pub input_schema: Arc<JsonObject>,
    pub output_schema: Option<Arc<JsonObject>>,
    pub hints: Hints,
    pub severity: Severity,
    /// Built-in profiles this tool belongs to (a profiles file may regroup it).
    pub profiles: Vec<Cow<'static, str>>,
    pub handler: Arc<dyn ToolHandler>,
}

impl std::fmt::Debug for ToolDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolDef")
            .field("name", &self.name)
            .field("hints", &self.hints)
            .field("severity", &self.severity)
            .field("profiles", &self.profiles)
            .finish_non_exhaustive()
    }
}

impl ToolDef {
    /// Start a declaration. It takes no arguments and fails until a handler is set.
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        let name = name.into();
        let missing = name.clone();
        ToolDef {
            name,
            title: None,
            description: description.into(),
            input_schema: Arc::new(empty_object_schema()),
            output_schema: None,
            hints: Hints::default(),
            severity: Severity::Low,
            profiles: Vec::new(),
            handler: Arc::new(move |_ctx: CallContext, _args: JsonObject| {
                let missing = missing.clone();
                async move {
                    Err(ToolError::failed(format!(
                        "tool `{missing}` has no handler"
                    )))
                }
            }),
        }
    }

    pub fn title(mut self, title: impl Into<Cow<'static, str>>) -> Self {
        self.title = Some(title.into());
        self
    }

    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn hints(mut self, hints: Hints) -> Self {
        self.hints = hints;
        self
    }

    /// Read-only and idempotent: the common case for investigation tools.
    pub fn read_only(mut self) -> Self {
        self.hints.read_only = true;
        self.hints.idempotent = true;
        self
    }

    pub fn destructive(mut self) -> Self {
        self.hints.destructive = true;
        self.hints.read_only = false;
        self
    }

    pub fn open_world(mut self) -> Self {
        self.hints.open_world = true;
        self
    }

    pub fn profiles(mut self, profiles: &[&'static str]) -> Self {
        self.profiles = profiles.iter().map(|p| Cow::Borrowed(*p)).collect();
        self
    }

    /// Declare the output schema from a type; the handler should return
    /// [`ToolOutput::structured`] values of that type.
    pub fn output<O: JsonSchema>(mut self) -> Self {
        self.output_schema = Some(Arc::new(schema_of::<O>()));
        self
    }

    /// Set an input schema by hand, for handlers that take raw JSON.
    pub fn input_schema(mut self, schema: Value) -> Self {
        if let Value::Object(map) = schema {
            self.input_schema = Arc::new(map);
        }
        self
    }

    /// A handler over raw JSON arguments (the schema is whatever was set).
    pub fn raw_handler(mut self, handler: impl ToolHandler) -> Self {
        self.handler = Arc::new(handler);
        self
    }

    /// A typed handler: the input schema is derived from `A`, and arguments that
    /// do not deserialize into `A` become an `isError` result naming the field.
    pub fn handler<A, F, Fut>(mut self, f: F) -> Self
    where
        A: DeserializeOwned + JsonSchema + Send + 'static,
        F: Fn(CallContext, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ToolOutput, ToolError>> + Send + 'static,
    {
        self.input_schema = Arc::new(schema_of::<A>());
        let f = Arc::new(f);
        self.handler = Arc::new(move |ctx: CallContext, args: JsonObject| {
            let parsed = parse_args::<A>(args);
            let f = f.clone();
            async move { f(ctx, parsed?).await }
        });
        self
    }
}

/// Deserialize arguments, naming the offending field in the error.
pub fn parse_args<A: DeserializeOwned>(args: JsonObject) -> Result<A, ToolError> {
    let value = Value::Object(args);
    serde_path_to_error::deserialize::<_, A>(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        if path == "." || path.is_empty() {
            ToolError::InvalidArguments(inner)
        } else {
            ToolError::InvalidArguments(format!("field `{path}`: {inner}"))
        }
    })
}

/// The JSON Schema (2020-12) of a type, as an object with `"type": "object"`
/// (MCP requires an object schema for tool inputs).
pub fn schema_of<T: JsonSchema>() -> JsonObject {
    let schema = schemars::schema_for!(T);
    let mut map = match serde_json::to_value(schema) {
        Ok(Value::Object(map)) => map,
        _ => empty_object_schema(),
    };
    // The title is the Rust type name, which means nothing to a client.
    map.remove("title");
    strip_rust_formats(&mut map);
    map.entry("type")
        .or_insert_with(|| Value::String("object".into()));
    map
}

/// Remove schemars' Rust-specific `format`s (`uint64`, `int32`, `double`, ...):
/// they are not JSON Schema formats, and validators in clients (Ajv in Claude
/// Code, the Inspector) warn about every one. Bounds such as `minimum: 0` stay.
fn strip_rust_formats(map: &mut JsonObject) {
    let rust_format =
        |f: &str| f.starts_with("uint") || f.starts_with("int") || f == "float" || f == "double";
    if map
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(rust_format)
    {
        map.remove("format");
    }
    for value in map.values_mut() {
        match value {
            Value::Object(inner) => strip_rust_formats(inner),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        strip_rust_formats(inner);
                    }
                }
            }
            _ => {}
        }
    }
}

fn empty_object_schema() -> JsonObject {
    let mut map = JsonObject::new();
    map.insert("type".into(), Value::String("object".into()));
    map.insert("properties".into(), Value::Object(JsonObject::new()));
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Args {
        /// The sensor to ask.
        sid: String,
        limit: Option<u32>,
    }

    #[test]
    fn bad_arguments_name_the_field() {
        let args = serde_json::json!({"sid": "local", "limit": "ten"});
        let err = parse_args::<Args>(args.as_object().unwrap().clone())
            .err()
            .unwrap();
        let msg = err.to_string();
        assert!(msg.contains("field `limit`"), "{msg}");

        let err = parse_args::<Args>(JsonObject::new()).err().unwrap();
        assert!(err.to_string().contains("missing field `sid`"), "{err}");
    }

    #[test]
    fn schema_is_an_object_with_documented_properties() {
        let schema = schema_of::<Args>();
        assert_eq!(schema["type"], "object");
        assert_eq!(
            schema["properties"]["sid"]["description"],
            "The sensor to ask."
        );
        assert_eq!(schema["required"], serde_json::json!(["sid"]));
        assert!(!schema.contains_key("title"));
        let limit = &schema["properties"]["limit"];
        assert!(limit.get("format").is_none(), "{limit}");
        assert_eq!(limit["minimum"], 0);
    }
}
