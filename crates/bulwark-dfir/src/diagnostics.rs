//! Tools that show what a call carries, without revealing it: the tenant and a
//! fingerprint of the backend credentials resolved for this very request.

use bulwark_core::{CallContext, ToolDef, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Serialize, JsonSchema)]
struct Fingerprint {
    /// The tenant the call acts for, if any.
    tenant: Option<String>,
    /// Names of the credentials the call carries (never their values).
    credential_names: Vec<String>,
    /// SHA-256 over the sorted `name=value` lines of the credentials.
    fingerprint: Option<String>,
}

/// SHA-256 of `name=value\n` lines in name order.
pub fn fingerprint(credentials: &std::collections::BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, value) in credentials {
        hasher.update(name.as_bytes());
        hasher.update(b"=");
        hasher.update(value.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

pub fn tools() -> Vec<ToolDef> {
    vec![
        ToolDef::new(
            "tenant_fingerprint",
            "The tenant this call acts for and a SHA-256 fingerprint of the backend credentials it carries (never the credentials).",
        )
        .title("Tenant fingerprint")
        .profiles(&["diagnostics"])
        .read_only()
        .output::<Fingerprint>()
        .handler(|ctx: CallContext, _args: NoArgs| async move {
            let credentials = ctx.credentials.as_deref();
            let value = Fingerprint {
                tenant: ctx.tenant.clone(),
                credential_names: credentials.map(|c| c.keys().cloned().collect()).unwrap_or_default(),
                fingerprint: credentials.map(fingerprint),
            };
            serde_json::to_value(value)
                .map(ToolOutput::structured)
                .map_err(|e| ToolError::failed(format!("cannot encode the result: {e}")))
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn fingerprint_depends_on_names_and_values() {
        let a = BTreeMap::from([("api_key".to_string(), "x".to_string())]);
        let b = BTreeMap::from([("api_key".to_string(), "y".to_string())]);
        let c = BTreeMap::from([("api_kez".to_string(), "x".to_string())]);
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert_eq!(fingerprint(&a), fingerprint(&a.clone()));
    }
}
