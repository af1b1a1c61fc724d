//! MCP serving for bulwark: the call pipeline and the transports that feed it.
//!
//! [`Bulwark`] holds the frozen registry and the pipeline; [`Bulwark::serve_stdio`],
//! [`http::HttpServer`] and [`Bulwark::call`] (used by `bulwark tools call`) are
//! the three ways in, and all three run the same [`Pipeline`].

pub mod auth;
mod convert;
mod handler;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod pipeline;
mod sessions;

use std::collections::BTreeMap;
use std::sync::Arc;

use bulwark_core::{CallContext, JsonObject, Registry, RegistryError, ToolError, ToolOutput};
use rmcp::ServiceExt;

pub use auth::{
    AuthConfig, AuthTarget, Authenticator, Credentials, Principal, TenantContext, TenantCredentials,
};
pub use convert::output_json;
pub use handler::{McpServer, ProfileEndpoint, ServerCore};
pub use http::{ExtraRoutes, HttpOptions, HttpServer};
pub use metrics::{METRICS_SCOPE, MetricsAccess, MetricsEndpoint, ToolMetrics};
pub use pipeline::{CallRequest, Pipeline, PipelineOptions};

/// The server: registry, pipeline and one MCP endpoint per profile.
#[derive(Clone)]
pub struct Bulwark {
    registry: Arc<Registry>,
    core: Arc<ServerCore>,
    endpoints: Arc<BTreeMap<String, Arc<ProfileEndpoint>>>,
    limits: Arc<limits::RateLimits>,
    audit: Option<bulwark_audit::AuditLog>,
}

impl Bulwark {
    pub fn new(registry: Registry, options: PipelineOptions) -> Self {
        let endpoints = registry
            .profiles()
            .map(|p| (p.name.clone(), Arc::new(ProfileEndpoint::new(p.clone()))))
            .collect();
        let instructions = "bulwark: security operations over MCP. Tools take `sid` to name an endpoint; `local` is the host bulwark runs on.".to_string();
        let limits = options.limits.clone();
        let audit = options.audit.clone();
        Bulwark {
            limits,
            audit,
            registry: Arc::new(registry),
            core: Arc::new(ServerCore::new(Pipeline::new(options), Some(instructions))),
            endpoints: Arc::new(endpoints),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.core.pipeline
    }

    /// The audit log, when one is open (also for auth and rate-limit events).
    pub fn audit(&self) -> Option<&bulwark_audit::AuditLog> {
        self.audit.as_ref()
    }

    pub fn limits(&self) -> &Arc<limits::RateLimits> {
        &self.limits
    }

    /// The MCP handler for a profile.
    pub fn handler(&self, profile: &str) -> Result<McpServer, RegistryError> {
        match self.endpoints.get(profile) {
            Some(endpoint) => Ok(McpServer::new(self.core.clone(), endpoint.clone())),
            None => Err(RegistryError::UnknownProfile {
                name: profile.to_string(),
                valid: self.registry.profile_names(),
            }),
        }
    }

    /// Serve one client over stdin/stdout until it disconnects.
    pub async fn serve_stdio(&self, profile: &str) -> anyhow_free::Result<()> {
        let handler = self.handler(profile).map_err(|e| e.to_string())?;
        let running = handler
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| format!("stdio session failed to start: {e}"))?;
        running
            .waiting()
            .await
            .map_err(|e| format!("stdio session ended with an error: {e}"))?;
        Ok(())
    }

    /// Run one tool through the pipeline in this process (`bulwark tools call`).
    pub async fn call(
        &self,
        profile: &str,
        tool: &str,
        args: JsonObject,
    ) -> Result<ToolOutput, ToolError> {
        let resolved = self
            .registry
            .profile(profile)
            .map_err(|e| ToolError::failed(e.to_string()))?;
        let def = match resolved.tool(tool) {
            Some(def) => def.clone(),
            None => resolved
                .upstream_tool(tool)
                .ok_or_else(|| ToolError::UnknownTool {
                    name: tool.to_string(),
                    profile: profile.to_string(),
                })?,
        };
        self.core
            .pipeline
            .call(CallRequest {
                ctx: CallContext::in_process(profile),
                tool: def,
                args,
            })
            .await
    }
}

/// Errors as plain strings at this boundary: the binary wraps them in `anyhow`.
pub mod anyhow_free {
    pub type Result<T> = std::result::Result<T, String>;
}
