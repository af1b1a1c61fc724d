//! The direct backend, for machines without bubblewrap: in the child, between fork and exec,
//! set rlimits, then `PR_SET_NO_NEW_PRIVS` and a Landlock ruleset (file access, TCP when the
//! network is off, signals and abstract sockets scoped to the sandbox), then a seccomp filter
//! that refuses `socket(AF_INET/AF_INET6, …)` when the network is off.
//!
//! The ruleset and the BPF program are built in the parent (that opens files and allocates);
//! the child only makes the system calls that apply them.

use std::sync::Mutex;

use crate::{Backend, Launch, Policy, PreExec, SandboxError};

/// The Landlock ABI this code asks for. Newer kernels run it as is; older ones enforce the
/// subset they know (reported in the status, from the probed ABI).
#[cfg(target_os = "linux")]
const TARGET_ABI: landlock::ABI = landlock::ABI::V6;

pub struct Direct {
    pub(crate) abi: u32,
}

impl Backend for Direct {
    fn name(&self) -> &'static str {
        "landlock"
    }

    fn enforces(&self, policy: &Policy) -> Vec<String> {
        let mut out = vec![format!(
            "filesystem: Landlock ABI {} allows only the listed paths (read-only, except `writable`)",
            self.abi
        )];
        if policy.network {
            out.push("network: on".into());
        } else {
            let mut s = "network: off (seccomp refuses AF_INET/AF_INET6 sockets".to_owned();
            if self.abi >= 4 {
                s.push_str("; Landlock refuses TCP bind and connect");
            }
            s.push(')');
            out.push(s);
        }
        if self.abi >= 6 {
            out.push("signals and abstract UNIX sockets scoped to the sandbox (Landlock)".into());
        }
        out.push("no new privileges".into());
        out.push("environment: the allowlist plus the declared variables".into());
        out.push(crate::bwrap::rlimit_phrase(policy));
        out.push(
            "not isolated: the process list and /proc of the same user's processes (their command lines and environments), and IPC (use bwrap for namespaces)"
                .into(),
        );
        out
    }

    fn launch(
        &self,
        policy: &Policy,
        program: &str,
        args: &[String],
    ) -> Result<Launch, SandboxError> {
        let hook = prepare(policy)?;
        Ok(Launch {
            program: program.to_owned(),
            args: args.to_vec(),
            pre_exec: Some(hook),
        })
    }
}

#[cfg(target_os = "linux")]
fn prepare(policy: &Policy) -> Result<PreExec, SandboxError> {
    use landlock::{
        Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
        Scope, path_beneath_rules,
    };

    let setup = |reason: String| SandboxError::Setup {
        backend: "landlock",
        reason,
    };
    let abi = TARGET_ABI;
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .map_err(|e| setup(e.to_string()))?;
    if !policy.network {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(|e| setup(e.to_string()))?;
    }
    // Devices every runtime opens: read and write, nothing else under /dev.
    let devices = [
        "/dev/null",
        "/dev/zero",
        "/dev/random",
        "/dev/urandom",
        "/dev/full",
    ];
    let created = ruleset
        .create()
        .and_then(|r| {
            r.add_rules(path_beneath_rules(
                &policy.read_only,
                AccessFs::from_read(abi),
            ))
        })
        .and_then(|r| {
            r.add_rules(path_beneath_rules(
                &policy.writable,
                AccessFs::from_all(abi),
            ))
        })
        .and_then(|r| {
            r.add_rules(path_beneath_rules(
                devices,
                AccessFs::from_read(abi) | AccessFs::WriteFile,
            ))
        })
        // Runtimes read /proc/self (node: /proc/self/exe, python: /proc/self/fd). This also
        // leaves other processes of the same user readable there (see docs/sandbox.md).
        .and_then(|r| r.add_rules(path_beneath_rules(["/proc"], AccessFs::from_read(abi))))
        .map_err(|e| setup(e.to_string()))?;
    let filter = if policy.network {
        None
    } else {
        Some(socket_filter().map_err(setup)?)
    };
    let ruleset = Mutex::new(Some(created));
    let limits = policy.rlimits.clone();
    Ok(PreExec(Box::new(move || {
        crate::rlimits::apply(&limits)?;
        let created = ruleset
            .lock()
            .map_err(|_| std::io::Error::other("sandbox state poisoned"))?
            .take()
            .ok_or_else(|| std::io::Error::other("the sandbox hook ran twice"))?;
        let status = created
            .restrict_self()
            .map_err(|e| std::io::Error::other(format!("Landlock: {e}")))?;
        if status.ruleset == RulesetStatus::NotEnforced || !status.no_new_privs {
            return Err(std::io::Error::other(
                "Landlock was not enforced in the child; refusing to start the server unsandboxed",
            ));
        }
        if let Some(filter) = &filter {
            seccompiler::apply_filter(filter)
                .map_err(|e| std::io::Error::other(format!("seccomp: {e}")))?;
        }
        Ok(())
    })))
}

#[cfg(not(target_os = "linux"))]
fn prepare(_policy: &Policy) -> Result<PreExec, SandboxError> {
    Err(SandboxError::Unavailable {
        backend: "landlock",
        reason: "Landlock exists on Linux only".into(),
    })
}

/// A BPF program: `socket()` with domain AF_INET or AF_INET6 fails with EACCES, every other
/// call passes.
#[cfg(target_os = "linux")]
fn socket_filter() -> Result<seccompiler::BpfProgram, String> {
    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let domain_is = |family: libc::c_int| {
        SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, family as u64)
            .and_then(|c| SeccompRule::new(vec![c]))
    };
    let rules = vec![
        domain_is(libc::AF_INET).map_err(|e| e.to_string())?,
        domain_is(libc::AF_INET6).map_err(|e| e.to_string())?,
    ];
    let filter = SeccompFilter::new(
        [(libc::SYS_socket, rules)].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    seccompiler::BpfProgram::try_from(filter).map_err(|e| e.to_string())
}
