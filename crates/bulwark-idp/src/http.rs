//! HTTP to identity providers: https only (unless told), short timeouts,
//! no redirects, and capped response sizes, because every byte here comes
//! from outside and arrives on the authentication path.

use std::time::Duration;

use serde::de::DeserializeOwned;
use url::Url;

use crate::IdpError;

/// Discovery documents, JWKS and token responses are small; anything bigger is hostile or wrong.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// Parses a configured URL and enforces https unless insecure http is allowed.
pub(crate) fn parse_url(
    field: &'static str,
    value: &str,
    allow_http: bool,
) -> Result<Url, IdpError> {
    let url = Url::parse(value).map_err(|e| {
        IdpError::config(
            field,
            format!("`{value}` is not a URL ({e}): use an absolute https:// URL"),
        )
    })?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(IdpError::InsecureUrl {
                field,
                url: value.to_string(),
            });
        }
        other => {
            return Err(IdpError::config(
                field,
                format!("`{value}` uses the scheme `{other}`: use an https:// URL"),
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(IdpError::config(field, format!("`{value}` has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(IdpError::config(
            field,
            format!("`{value}` carries credentials in the URL: remove them"),
        ));
    }
    Ok(url)
}

/// A client for talking to one provider.
pub(crate) fn client(allow_http: bool) -> Result<reqwest::Client, IdpError> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        // A redirect could lead a secret-bearing request somewhere else; configure final URLs.
        .redirect(reqwest::redirect::Policy::none())
        .https_only(!allow_http)
        .user_agent(concat!("bulwark-idp/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| IdpError::config("http client", format!("cannot build the HTTPS client: {e}")))
}

/// Reads a response body, refusing more than [`MAX_DOCUMENT_BYTES`].
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    what: &'static str,
) -> Result<Vec<u8>, IdpError> {
    let url = response.url().to_string();
    let too_big = || IdpError::BadDocument {
        what,
        url: url.clone(),
        reason: format!("larger than {} KiB", MAX_DOCUMENT_BYTES / 1024),
    };
    if response
        .content_length()
        .is_some_and(|len| len > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    loop {
        let chunk = response.chunk().await.map_err(|e| IdpError::Fetch {
            what,
            url: url.clone(),
            reason: describe(&e),
        })?;
        let Some(chunk) = chunk else { break };
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// GETs a JSON document that must answer 200.
pub(crate) async fn get_json<T: DeserializeOwned>(
    client: &reqwest::Client,
    url: &Url,
    what: &'static str,
) -> Result<T, IdpError> {
    let response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| IdpError::Fetch {
            what,
            url: url.to_string(),
            reason: describe(&e),
        })?;
    let status = response.status();
    if !status.is_success() {
        let reason = if status.is_redirection() {
            format!("HTTP {status} (redirects are not followed: configure the final URL)")
        } else {
            format!("HTTP {status}")
        };
        return Err(IdpError::Fetch {
            what,
            url: url.to_string(),
            reason,
        });
    }
    let body = read_capped(response, what).await?;
    serde_json::from_slice(&body).map_err(|e| IdpError::BadDocument {
        what,
        url: url.to_string(),
        reason: format!("not the expected JSON: {e}"),
    })
}

/// reqwest's Display hides the cause ("error sending request"); show the chain.
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        format!("timed out after {} s", TIMEOUT.as_secs())
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
