//! Endpoints and the tools that investigate them. For now the one endpoint is
//! `local`, the host bulwark runs on; LimaCharlie sensors and Velociraptor
//! clients arrive as further backends behind the same tool names.

mod diagnostics;
mod host;
pub mod live;
mod sensors;

use bulwark_core::RegistryBuilder;

pub use host::HostInfo;
pub use live::{Limits, LiveConfig, register as register_live};

/// The endpoint id of the machine bulwark runs on.
pub const LOCAL_SID: &str = "local";

/// Add the endpoint tools to the registry.
pub fn register(registry: &mut RegistryBuilder) {
    registry.profile(
        "core",
        "Always included: liveness check and endpoint discovery",
        false,
    );
    registry.tools(sensors::tools());
    registry.profile(
        "diagnostics",
        "Checks of what a call carries: tenant and credential fingerprints",
        false,
    );
    registry.tools(diagnostics::tools());
}
