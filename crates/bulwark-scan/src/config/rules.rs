//! The `BWK-CONFIG-*` rules.

use bulwark_detect::{OwaspAgentic, Rule, Severity};

pub(crate) const HARDCODED_SECRET: Rule = Rule {
    id: "BWK-CONFIG-HARDCODED-SECRET",
    title: "Hardcoded credential in an MCP client configuration",
    cwe: "CWE-798",
    owasp: OwaspAgentic::ASI03,
    severity: Severity::High,
    remediation: "Move the credential out of the config: reference it (`${input:...}` in VS Code, `${env:VAR}`/`$VAR` elsewhere) or use the OS keychain, then rotate the exposed value.",
};

pub(crate) const PLAIN_HTTP: Rule = Rule {
    id: "BWK-CONFIG-PLAIN-HTTP",
    title: "MCP traffic over plain HTTP to a remote host",
    cwe: "CWE-319",
    owasp: OwaspAgentic::ASI07,
    severity: Severity::High,
    remediation: "Use an https:// (or wss://) URL; anyone on the path can read the tool calls and rewrite tool descriptions and results over plain HTTP.",
};

pub(crate) const UNPINNED_PACKAGE: Rule = Rule {
    id: "BWK-CONFIG-UNPINNED-PACKAGE",
    title: "MCP server launched from an unpinned package",
    cwe: "CWE-1357",
    owasp: OwaspAgentic::ASI04,
    severity: Severity::Medium,
    remediation: "Pin an exact version (`npx -y pkg@1.2.3`, `uvx pkg==1.2.3`, `image@sha256:...`) so a compromised or hijacked release is not fetched and run on the next start.",
};

pub(crate) const TYPOSQUAT: Rule = Rule {
    id: "BWK-CONFIG-TYPOSQUAT",
    title: "MCP server package name imitates a popular package",
    cwe: "CWE-506",
    owasp: OwaspAgentic::ASI04,
    severity: Severity::High,
    remediation: "Check the package name character by character against the publisher's documentation; remove the server and rotate anything it could reach if it was a lookalike.",
};

pub(crate) const BROAD_FILESYSTEM: Rule = Rule {
    id: "BWK-CONFIG-BROAD-FILESYSTEM",
    title: "Filesystem access granted to a whole disk or home directory",
    cwe: "CWE-250",
    owasp: OwaspAgentic::ASI03,
    severity: Severity::High,
    remediation: "Give the server only the project directories it needs; a root or home directory exposes SSH keys, cloud credentials and browser profiles to every tool call.",
};

pub(crate) const TLS_DISABLED: Rule = Rule {
    id: "BWK-CONFIG-TLS-DISABLED",
    title: "TLS certificate verification turned off",
    cwe: "CWE-295",
    owasp: OwaspAgentic::ASI07,
    severity: Severity::High,
    remediation: "Remove the override and trust a private CA properly (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE) instead of disabling verification.",
};

pub(crate) const UNTRUSTED_PATH: Rule = Rule {
    id: "BWK-CONFIG-UNTRUSTED-PATH",
    title: "MCP server run from a temporary or writable location",
    cwe: "CWE-426",
    owasp: OwaspAgentic::ASI05,
    severity: Severity::High,
    remediation: "Install the server under a directory only you can write (not /tmp, Downloads or a world-writable directory) and point the config there.",
};

pub(crate) const DOCKER_PRIVILEGED: Rule = Rule {
    id: "BWK-CONFIG-DOCKER-PRIVILEGED",
    title: "MCP server container runs privileged",
    cwe: "CWE-250",
    owasp: OwaspAgentic::ASI05,
    severity: Severity::Critical,
    remediation: "Drop `--privileged`, broad `--cap-add`, host namespaces and disabled security profiles; a privileged container is root on the host.",
};

pub(crate) const DOCKER_HOST_MOUNT: Rule = Rule {
    id: "BWK-CONFIG-DOCKER-HOST-MOUNT",
    title: "MCP server container mounts the host root, home or Docker socket",
    cwe: "CWE-668",
    owasp: OwaspAgentic::ASI03,
    severity: Severity::High,
    remediation: "Mount only the directories the server needs, read-only where possible; never mount `/` or the Docker socket into a tool server.",
};

pub(crate) const INPUT_NOT_PASSWORD: Rule = Rule {
    id: "BWK-CONFIG-INPUT-NOT-PASSWORD",
    title: "VS Code input for a secret is not masked",
    cwe: "CWE-549",
    owasp: OwaspAgentic::ASI03,
    severity: Severity::Low,
    remediation: "Add `\"password\": true` to the input so the value is masked when typed and stored in the secret store.",
};

/// Every rule the config detector reports under.
pub const CONFIG_RULES: &[Rule] = &[
    HARDCODED_SECRET,
    PLAIN_HTTP,
    UNPINNED_PACKAGE,
    TYPOSQUAT,
    BROAD_FILESYSTEM,
    TLS_DISABLED,
    UNTRUSTED_PATH,
    DOCKER_PRIVILEGED,
    DOCKER_HOST_MOUNT,
    INPUT_NOT_PASSWORD,
];
