//! OpenID Connect discovery (`/.well-known/openid-configuration`).

use serde::{Deserialize, Serialize};
use url::Url;

use crate::IdpError;
use crate::http::{get_json, parse_url};

/// The parts of a provider's discovery document bulwark uses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProviderMetadata {
    pub issuer: String,
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    /// RFC 9207: the provider adds `iss` to authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Where the discovery document of `issuer` lives (OIDC Discovery §4: appended to the issuer path).
pub(crate) fn discovery_url(issuer: &Url) -> Url {
    let mut url = issuer.clone();
    let path = format!(
        "{}/.well-known/openid-configuration",
        issuer.path().trim_end_matches('/')
    );
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// Fetches the discovery document and checks it belongs to `issuer`.
pub(crate) async fn discover(
    client: &reqwest::Client,
    issuer: &str,
    allow_http: bool,
) -> Result<ProviderMetadata, IdpError> {
    let issuer_url = parse_url("issuer", issuer, allow_http)?;
    let url = discovery_url(&issuer_url);
    let metadata: ProviderMetadata =
        get_json(client, &url, "the OpenID discovery document").await?;
    // An exact match: a lookalike issuer would let another provider's tokens in.
    if metadata.issuer != issuer {
        return Err(IdpError::IssuerMismatch {
            url: url.to_string(),
            expected: issuer.to_string(),
            found: metadata.issuer,
        });
    }
    Ok(metadata)
}

/// A required endpoint of the discovery document, parsed and scheme-checked.
pub(crate) fn endpoint(
    metadata: &ProviderMetadata,
    field: &'static str,
    value: Option<&String>,
    allow_http: bool,
) -> Result<Url, IdpError> {
    let value = value.ok_or_else(|| IdpError::BadDocument {
        what: "the OpenID discovery document",
        url: metadata.issuer.clone(),
        reason: format!("it has no `{field}`; the provider must support OpenID Connect discovery"),
    })?;
    parse_url(field, value, allow_http)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_appends_to_the_issuer_path() {
        let at = |issuer: &str| discovery_url(&Url::parse(issuer).unwrap()).to_string();
        assert_eq!(
            at("https://idp.example"),
            "https://idp.example/.well-known/openid-configuration"
        );
        assert_eq!(
            at("https://idp.example/tenant/v2.0/"),
            "https://idp.example/tenant/v2.0/.well-known/openid-configuration"
        );
    }
}
