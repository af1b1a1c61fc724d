//! Sandboxes for the stdio MCP servers bulwark starts.
//!
//! A [`Policy`] says what a server may touch: read-only system paths, writable paths, a
//! working directory, network on or off, an environment reduced to an allowlist plus the
//! declared variables, and rlimits. A [`Backend`] enforces it:
//!
//! - [`bwrap`](bwrap::Bwrap): bubblewrap, when `bwrap` is installed and can create namespaces;
//! - [`landlock`](direct::Direct): Landlock + seccomp + rlimits applied directly in the child;
//! - none, only when asked for (`sandbox = "none"`) or when `auto` finds neither (then the
//!   [`Report`] says so in its `warning`).
//!
//! ```no_run
//! # fn demo() -> Result<(), bulwark_sandbox::SandboxError> {
//! use bulwark_sandbox::{Policy, Sandbox, SandboxKind};
//! let sandbox = Sandbox::new(SandboxKind::Auto, Policy::new("/srv/mcp/work", false));
//! let launch = sandbox.launch("/usr/bin/python3", &["server.py".into()])?;
//! println!("{} {:?} ({})", launch.program, launch.args, sandbox.report()?.backend);
//! # Ok(()) }
//! ```

mod bwrap;
mod direct;
mod error;
mod kind;
pub mod path;
mod policy;
pub mod probe;
mod rlimits;
mod server;

use std::path::PathBuf;

use serde::Serialize;

pub use error::SandboxError;
pub use kind::SandboxKind;
pub use policy::{ENV_ALLOWLIST, Policy, Rlimits, command_paths, system_paths};
pub use server::{create_server_dirs, default_network, server_policy};

/// One way of enforcing a [`Policy`].
pub trait Backend: Send + Sync {
    /// `bwrap`, `landlock` or `none`.
    fn name(&self) -> &'static str;
    /// What it enforces for `policy`, one phrase each, for `upstream inspect` and the status.
    fn enforces(&self, policy: &Policy) -> Vec<String>;
    /// How to start `program args…` under it.
    fn launch(
        &self,
        policy: &Policy,
        program: &str,
        args: &[String],
    ) -> Result<Launch, SandboxError>;
}

/// A function run in the child between fork and exec.
pub struct PreExec(pub Box<dyn FnMut() -> std::io::Result<()> + Send + Sync>);

impl std::fmt::Debug for PreExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreExec(..)")
    }
}

/// What to execute: the program (bwrap itself, or the server), its arguments, and the hook to
/// run in the child before exec.
#[derive(Debug)]
pub struct Launch {
    pub program: String,
    pub args: Vec<String>,
    pub pre_exec: Option<PreExec>,
}

/// The status of a server's sandbox, for `upstream inspect` and `upstream_servers list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What the configuration asked for.
    pub requested: SandboxKind,
    /// What runs: `bwrap`, `landlock` or `none`.
    pub backend: &'static str,
    /// What is enforced, one phrase each (empty for `none`).
    pub enforces: Vec<String>,
    pub network: bool,
    pub read_only: Vec<PathBuf>,
    pub writable: Vec<PathBuf>,
    pub workdir: PathBuf,
    /// Names of the variables the server may get (values are not shown).
    pub env: Vec<String>,
    /// Set when the server runs with less protection than asked for, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A policy and the backend chosen for it.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub kind: SandboxKind,
    pub policy: Policy,
}

enum Choice {
    Run(Box<dyn Backend>),
    /// No sandbox, and the warning to show when that is not what was asked.
    Unsandboxed(Option<String>),
}

impl Sandbox {
    pub fn new(kind: SandboxKind, policy: Policy) -> Self {
        Sandbox { kind, policy }
    }

    fn choose(&self) -> Result<Choice, SandboxError> {
        let landlock = || -> Result<Box<dyn Backend>, String> {
            let abi = probe::landlock_abi()?;
            if !self.policy.network {
                probe::seccomp()
                    .map_err(|e| format!("{e}; it is needed to turn the network off"))?;
            }
            Ok(Box::new(direct::Direct { abi }))
        };
        match self.kind {
            SandboxKind::None => Ok(Choice::Unsandboxed(None)),
            SandboxKind::Bwrap => probe::bwrap()
                .map(|program| Choice::Run(Box::new(bwrap::Bwrap { program })))
                .map_err(|reason| SandboxError::Unavailable {
                    backend: "bwrap",
                    reason: format!("{reason}; or use sandbox = \"landlock\" or \"auto\""),
                }),
            SandboxKind::Landlock => {
                landlock()
                    .map(Choice::Run)
                    .map_err(|reason| SandboxError::Unavailable {
                        backend: "landlock",
                        reason: format!(
                            "{reason}; install bubblewrap and use sandbox = \"bwrap\" or \"auto\""
                        ),
                    })
            }
            SandboxKind::Auto => match probe::bwrap() {
                Ok(program) => Ok(Choice::Run(Box::new(bwrap::Bwrap { program }))),
                Err(no_bwrap) => match landlock() {
                    Ok(backend) => {
                        tracing::debug!("no bubblewrap ({no_bwrap}); using Landlock + seccomp");
                        Ok(Choice::Run(backend))
                    }
                    Err(no_landlock) => Ok(Choice::Unsandboxed(Some(format!(
                        "NOT SANDBOXED: the server runs with bulwark's own rights, because {no_bwrap}, \
                         and {no_landlock}. Install bubblewrap, or set sandbox = \"none\" to accept this"
                    )))),
                },
            },
        }
    }

    /// What will run and what it enforces, without starting anything. Fails like
    /// [`Sandbox::launch`] would (bad paths, a backend that is not there).
    pub fn report(&self) -> Result<Report, SandboxError> {
        let choice = self.choose()?;
        if !matches!(choice, Choice::Unsandboxed(None)) {
            self.policy.check()?;
        }
        let policy = &self.policy;
        let (backend, enforces, warning) = match &choice {
            Choice::Run(b) => (b.name(), b.enforces(policy), None),
            Choice::Unsandboxed(warning) => ("none", Vec::new(), warning.clone()),
        };
        let mut env: Vec<String> = policy
            .env_allow
            .iter()
            .filter(|k| std::env::var_os(k).is_some())
            .chain(policy.env.keys())
            .cloned()
            .collect();
        env.sort();
        env.dedup();
        Ok(Report {
            requested: self.kind,
            backend,
            enforces,
            network: backend == "none" || policy.network,
            read_only: policy.read_only.clone(),
            writable: policy.writable.clone(),
            workdir: policy.workdir.clone(),
            env,
            warning,
        })
    }

    /// How to start `program args…` in this sandbox. With no sandbox the command is returned
    /// as it is and no hook runs.
    pub fn launch(&self, program: &str, args: &[String]) -> Result<Launch, SandboxError> {
        match self.choose()? {
            Choice::Run(backend) => {
                self.policy.check()?;
                tracing::debug!(backend = backend.name(), program, "sandboxed start");
                backend.launch(&self.policy, program, args)
            }
            Choice::Unsandboxed(warning) => {
                if let Some(w) = warning {
                    tracing::warn!("{program}: {w}");
                }
                Ok(Launch {
                    program: program.to_owned(),
                    args: args.to_vec(),
                    pre_exec: None,
                })
            }
        }
    }

    /// Whether [`Sandbox::launch`] will sandbox (so the environment must be replaced).
    pub fn is_enforced(&self) -> bool {
        matches!(self.choose(), Ok(Choice::Run(_)))
    }
}

pub(crate) fn rlimit_hook(limits: Rlimits) -> PreExec {
    PreExec(Box::new(move || rlimits::apply(&limits)))
}
