//! The vocabulary every bulwark crate shares: how a tool, resource or prompt is
//! declared, how profiles group them, and the context a call carries.
//!
//! Nothing here knows about MCP transports. Domain crates declare tools with
//! [`ToolDef`]; the server crate turns a resolved [`Profile`] into MCP lists and
//! calls.

mod content;
mod context;
pub mod csv;
mod profile;
mod prompt;
mod registry;
mod resource;
mod severity;
mod tool;

pub use content::{Content, ResourceBody, ToolOutput};
pub use context::{CallContext, ClientCaps, ClientChannel, InputState, LogLevel, ProtocolEra};
pub use profile::{
    ALL_PROFILE, CORE_PROFILE, ProfileDef, ProfileError, ProfileFile, ProfileSet,
    upstream_pattern_matches,
};
pub use prompt::{PromptArg, PromptDef, PromptHandler, PromptMessage, PromptOutput, PromptRole};
pub use registry::{Profile, Registry, RegistryBuilder, RegistryError, UpstreamTools};
pub use resource::{
    ReadResult, ResourceContent, ResourceDef, ResourceHandler, ResourceTemplateDef,
};
pub use severity::Severity;
pub use tool::{Hints, ToolDef, ToolError, ToolHandler};

/// A JSON object, the shape of tool arguments and schemas.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// The boxed future every handler returns, so handlers can be stored side by side.
pub type BoxFuture<T> = futures::future::BoxFuture<'static, T>;
