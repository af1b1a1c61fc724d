//! Errors of this crate. Each message names what went wrong and what to do.

/// What can go wrong talking to, or configuring, an external identity provider.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IdpError {
    /// A configuration value is unusable.
    #[error("{field}: {problem}")]
    Config {
        field: &'static str,
        problem: String,
    },

    /// A URL uses plain http while `allow_insecure_http` is off.
    #[error(
        "{field} `{url}` uses http://: identity provider traffic must use https://; \
         set allow_insecure_http = true only for loopback tests"
    )]
    InsecureUrl { field: &'static str, url: String },

    /// The provider could not be reached or answered with an HTTP error.
    #[error(
        "could not fetch {what} from {url}: {reason}; check that the identity provider is up and the URL is right"
    )]
    Fetch {
        what: &'static str,
        url: String,
        reason: String,
    },

    /// The provider answered, but not with a usable document.
    #[error("{what} from {url} is unusable: {reason}")]
    BadDocument {
        what: &'static str,
        url: String,
        reason: String,
    },

    /// The discovery document names another issuer than the one configured.
    #[error(
        "the discovery document at {url} names issuer `{found}`, not the configured `{expected}`: \
         set the issuer to exactly the provider's issuer (scheme, host, path, trailing slash)"
    )]
    IssuerMismatch {
        url: String,
        expected: String,
        found: String,
    },

    /// The callback's `state` is not the one this login started with.
    #[error(
        "the login callback's state does not match the login that was started \
         (a stale or forged callback): start the login again"
    )]
    StateMismatch,

    /// The callback's `iss` (RFC 9207) names another provider: a mix-up attack or a misrouted callback.
    #[error(
        "the login callback came from issuer `{found}`, not `{expected}`: \
         the response was meant for another provider; start the login again"
    )]
    IssuerParameterMismatch { expected: String, found: String },

    /// The provider promises `iss` in callbacks (RFC 9207) but this one has none.
    #[error(
        "the login callback has no `iss` parameter although {issuer} promises one (RFC 9207): \
         pass the callback's `iss` query parameter to finish(), or start the login again"
    )]
    MissingIssuerParameter { issuer: String },

    /// The token endpoint refused the authorization code.
    #[error("the token endpoint {url} refused the code ({status}): {detail}")]
    TokenEndpoint {
        url: String,
        status: u16,
        detail: String,
    },

    /// The ID token failed verification.
    #[error(
        "the ID token from {issuer} is not valid: {reason}; start the login again, and if it persists check the client id and the provider's signing keys"
    )]
    InvalidIdToken { issuer: String, reason: String },
}

impl IdpError {
    pub(crate) fn config(field: &'static str, problem: impl Into<String>) -> Self {
        IdpError::Config {
            field,
            problem: problem.into(),
        }
    }
}
