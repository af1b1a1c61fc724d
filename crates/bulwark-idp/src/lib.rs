//! Identity providers other than bulwark itself.
//!
//! - [`JwtAuthenticator`]: accepts bearer JWTs an external provider issued,
//!   verified against its published keys ([`RemoteJwks`]). Plugs into
//!   bulwark's HTTP transport as a [`bulwark_server::Authenticator`].
//! - [`OidcClient`]: an OpenID Connect relying party, to federate logins to
//!   an upstream provider (code flow, PKCE, state, nonce, RFC 9207 `iss`).
//!
//! All provider traffic is https (unless `allow_insecure_http` for loopback
//! tests), times out after 5 s, follows no redirects, and reads at most
//! 256 KiB per response; tokens over 16 KiB are refused unparsed.

mod discovery;
mod error;
mod http;
mod jwks;
mod jwt;
mod oidc;
mod verify;

pub use discovery::ProviderMetadata;
pub use error::IdpError;
pub use jsonwebtoken::Algorithm;
pub use jwks::{JwksPolicy, RemoteJwks};
pub use jwt::{JwtAuthenticator, JwtConfig};
pub use oidc::{OidcClient, OidcProviderConfig, PendingLogin};
pub use verify::MAX_TOKEN_BYTES;
