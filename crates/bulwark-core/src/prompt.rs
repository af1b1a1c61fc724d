use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use crate::{BoxFuture, CallContext, Content, ToolError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptRole {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PromptMessage {
    pub role: PromptRole,
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromptOutput {
    pub description: Option<String>,
    pub messages: Vec<PromptMessage>,
    /// Set when the prompt needs client input first (MCP 2026-07-28); same
    /// meaning as [`crate::ToolOutput::InputRequired`]: requests by key, and state.
    pub input_required: Option<(serde_json::Map<String, serde_json::Value>, Option<String>)>,
}

/// Renders a prompt from its arguments.
pub trait PromptHandler: Send + Sync + 'static {
    fn get(
        &self,
        ctx: CallContext,
        args: BTreeMap<String, String>,
    ) -> BoxFuture<Result<PromptOutput, ToolError>>;
}

impl<F, Fut> PromptHandler for F
where
    F: Fn(CallContext, BTreeMap<String, String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<PromptOutput, ToolError>> + Send + 'static,
{
    fn get(
        &self,
        ctx: CallContext,
        args: BTreeMap<String, String>,
    ) -> BoxFuture<Result<PromptOutput, ToolError>> {
        Box::pin(self(ctx, args))
    }
}

#[derive(Debug, Clone)]
pub struct PromptArg {
    pub name: Cow<'static, str>,
    pub description: Option<Cow<'static, str>>,
    pub required: bool,
}

/// A prompt, declared once.
#[derive(Clone)]
pub struct PromptDef {
    pub name: Cow<'static, str>,
    pub title: Option<Cow<'static, str>>,
    pub description: Option<Cow<'static, str>>,
    pub arguments: Vec<PromptArg>,
    pub profiles: Vec<Cow<'static, str>>,
    pub handler: Arc<dyn PromptHandler>,
}

impl PromptDef {
    /// Check that every required argument is present, naming the first missing one.
    pub fn check_args(&self, args: &BTreeMap<String, String>) -> Result<(), ToolError> {
        for arg in &self.arguments {
            if arg.required && !args.contains_key(arg.name.as_ref()) {
                return Err(ToolError::InvalidArguments(format!(
                    "prompt `{}` needs argument `{}`",
                    self.name, arg.name
                )));
            }
        }
        Ok(())
    }
}
