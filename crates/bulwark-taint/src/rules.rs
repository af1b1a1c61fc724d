//! The `BWK-CODE-*` rules: static data, listed by [`crate::rules`].

use bulwark_detect::{OwaspAgentic, Rule, Severity};

pub(crate) const CMD_INJECTION: &str = "BWK-CODE-CMD-INJECTION";
pub(crate) const CODE_INJECTION: &str = "BWK-CODE-CODE-INJECTION";
pub(crate) const PATH_TRAVERSAL: &str = "BWK-CODE-PATH-TRAVERSAL";
pub(crate) const SSRF: &str = "BWK-CODE-SSRF";
pub(crate) const SQL_INJECTION: &str = "BWK-CODE-SQL-INJECTION";
pub(crate) const XXE: &str = "BWK-CODE-XXE";
pub(crate) const REGEX_INJECTION: &str = "BWK-CODE-REGEX-INJECTION";
pub(crate) const DESERIALIZATION: &str = "BWK-CODE-INSECURE-DESERIALIZATION";
pub(crate) const PROTOTYPE_POLLUTION: &str = "BWK-CODE-PROTOTYPE-POLLUTION";
pub(crate) const REDOS: &str = "BWK-CODE-REDOS";
pub(crate) const WEAK_HASH: &str = "BWK-CODE-WEAK-HASH";
pub(crate) const WEAK_CIPHER: &str = "BWK-CODE-WEAK-CIPHER";
pub(crate) const TLS_VERIFY_DISABLED: &str = "BWK-CODE-TLS-VERIFY-DISABLED";
pub(crate) const NETWORK_BINDING: &str = "BWK-CODE-NETWORK-BINDING";
pub(crate) const DYNAMIC_DESCRIPTION: &str = "BWK-CODE-DYNAMIC-DESCRIPTION";

pub(crate) static RULES: &[Rule] = &[
    Rule {
        id: CMD_INJECTION,
        title: "Command injection: caller-controlled text reaches a shell or program name",
        cwe: "CWE-78",
        owasp: OwaspAgentic::ASI05,
        severity: Severity::Critical,
        remediation: "Run programs with an argument list and no shell (subprocess.run([...]), execFile, exec.Command(prog, args...)); never build a shell command from tool input, or quote every value with shlex.quote and allow-list the program.",
    },
    Rule {
        id: CODE_INJECTION,
        title: "Code injection: dynamic evaluation of code (eval, exec, new Function, vm)",
        cwe: "CWE-95",
        owasp: OwaspAgentic::ASI05,
        severity: Severity::Critical,
        remediation: "Do not evaluate code built from input; parse data with a real parser (json.loads, ast.literal_eval, JSON.parse) or dispatch to a fixed table of operations.",
    },
    Rule {
        id: PATH_TRAVERSAL,
        title: "Path traversal: a caller-controlled path reaches a file operation without a containment check",
        cwe: "CWE-22",
        owasp: OwaspAgentic::ASI02,
        severity: Severity::High,
        remediation: "Resolve the path (Path.resolve / path.resolve / filepath.Clean / canonicalize) and refuse it unless it stays under the allowed base directory (is_relative_to, startsWith(base + sep), strings.HasPrefix, starts_with).",
    },
    Rule {
        id: SSRF,
        title: "Server-side request forgery: the caller chooses the URL a tool fetches",
        cwe: "CWE-918",
        owasp: OwaspAgentic::ASI02,
        severity: Severity::High,
        remediation: "Fix the scheme and host in code and let input choose only path or query parts (URL-encoded), or check the host against an allow-list and refuse private, loopback and link-local addresses after DNS resolution.",
    },
    Rule {
        id: SQL_INJECTION,
        title: "SQL injection: a query built by string formatting from tool input",
        cwe: "CWE-89",
        owasp: OwaspAgentic::ASI02,
        severity: Severity::High,
        remediation: "Use parameterised queries (execute(sql, params), $1/? placeholders, sqlx::query().bind()); never format values into SQL text.",
    },
    Rule {
        id: XXE,
        title: "XML external entities: a parser that resolves external entities or DTDs",
        cwe: "CWE-611",
        owasp: OwaspAgentic::ASI02,
        severity: Severity::High,
        remediation: "Parse untrusted XML with defusedxml (Python) or with entity resolution and DTD loading disabled (lxml resolve_entities=False, no_network=True; libxmljs without noent).",
    },
    Rule {
        id: REGEX_INJECTION,
        title: "Regex injection: a caller-controlled regular expression",
        cwe: "CWE-1333",
        owasp: OwaspAgentic::ASI02,
        severity: Severity::Medium,
        remediation: "Escape input before putting it in a pattern (re.escape, escapeRegExp), or use a linear-time engine (RE2) with a length limit.",
    },
    Rule {
        id: DESERIALIZATION,
        title: "Insecure deserialization: pickle, marshal, unsafe YAML or node-serialize",
        cwe: "CWE-502",
        owasp: OwaspAgentic::ASI05,
        severity: Severity::High,
        remediation: "Deserialize untrusted data only with data-only formats (json, yaml.safe_load / SafeLoader); never pickle.loads, marshal.loads or node-serialize unserialize input that a caller can influence.",
    },
    Rule {
        id: PROTOTYPE_POLLUTION,
        title: "Prototype pollution: caller-controlled keys written into objects without a __proto__ guard",
        cwe: "CWE-1321",
        owasp: OwaspAgentic::ASI02,
        severity: Severity::High,
        remediation: "Refuse the keys __proto__, constructor and prototype before writing, build maps with Object.create(null) or Map, and do not deep-merge or _.set caller-controlled objects and paths.",
    },
    Rule {
        id: REDOS,
        title: "ReDoS-prone regular expression: nested or overlapping quantifiers",
        cwe: "CWE-1333",
        owasp: OwaspAgentic::ASI08,
        severity: Severity::Medium,
        remediation: "Rewrite the pattern without a quantified group whose body can match the same text in more than one way (e.g. (a+)+ → a+), bound the input length, or use a linear-time engine.",
    },
    Rule {
        id: WEAK_HASH,
        title: "Weak hash (MD5/SHA-1) used for a password, token or signature",
        cwe: "CWE-328",
        owasp: OwaspAgentic::ASI03,
        severity: Severity::Medium,
        remediation: "Hash passwords with a password hash (argon2, scrypt, bcrypt, PBKDF2) and sign with HMAC-SHA-256 or a real signature scheme; keep MD5/SHA-1 for non-security checksums only.",
    },
    Rule {
        id: WEAK_CIPHER,
        title: "Broken cipher or mode (DES, 3DES, RC4, Blowfish, ECB)",
        cwe: "CWE-327",
        owasp: OwaspAgentic::ASI03,
        severity: Severity::High,
        remediation: "Use an authenticated cipher (AES-GCM, ChaCha20-Poly1305) with a fresh nonce per message.",
    },
    Rule {
        id: TLS_VERIFY_DISABLED,
        title: "TLS certificate verification disabled",
        cwe: "CWE-295",
        owasp: OwaspAgentic::ASI07,
        severity: Severity::High,
        remediation: "Keep certificate verification on (verify=True, rejectUnauthorized: true, InsecureSkipVerify: false); trust a private CA by adding it to the trust store instead.",
    },
    Rule {
        id: NETWORK_BINDING,
        title: "Server bound to all interfaces with no visible authentication",
        cwe: "CWE-1327",
        owasp: OwaspAgentic::ASI03,
        severity: Severity::Medium,
        remediation: "Bind local MCP servers to 127.0.0.1; a server that must be reachable from the network needs authentication (OAuth / bearer tokens) in front of every tool.",
    },
    Rule {
        id: DYNAMIC_DESCRIPTION,
        title: "Tool description built at run time (rug-pull risk)",
        cwe: "CWE-345",
        owasp: OwaspAgentic::ASI04,
        severity: Severity::Medium,
        remediation: "Give tools literal descriptions fixed in the source, so that what a user approved is what the model sees; a description read from a file, the environment or the network can change after approval.",
    },
];

pub(crate) fn rule(id: &str) -> &'static Rule {
    RULES.iter().find(|r| r.id == id).unwrap_or(&RULES[0])
}
