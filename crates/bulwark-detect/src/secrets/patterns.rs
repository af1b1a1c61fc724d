//! The secret patterns: each names its rule, the literal keywords that must
//! occur for it to be tried (the prefilter), its regex and its check.
//!
//! Regexes are written with `\b`, which is compiled as an ASCII word
//! boundary; the secret is the named group `s`. Every repetition is bounded.

use super::checks::{self, Check};

/// How a pattern's regex is written.
pub(crate) enum Re {
    /// A full regex.
    Raw(&'static str),
    /// Keyword-bound: `(keyword regex)…[=:]…(value regex)`, for formats that
    /// have no prefix of their own and are only credible next to a name.
    Kw(&'static str, &'static str),
}

pub(crate) struct Pattern {
    pub rule: &'static str,
    /// Short name for evidence.
    pub name: &'static str,
    pub keywords: &'static [&'static str],
    /// Keywords match ignoring ASCII case.
    pub ci: bool,
    pub re: Re,
    /// Bytes of the line tried before and after a keyword hit.
    pub before: usize,
    pub after: usize,
    /// Minimum Shannon entropy of the whole secret.
    pub min_entropy: f64,
    /// Reject placeholders (markers, low variety, documentation keys).
    pub placeholder: bool,
    pub check: Check,
}

const P: Pattern = Pattern {
    rule: "",
    name: "",
    keywords: &[],
    ci: false,
    re: Re::Raw(""),
    before: 80,
    after: 320,
    min_entropy: 3.0,
    placeholder: true,
    check: checks::high,
};

/// Keyword-bound default: case-insensitive keywords, medium confidence.
const K: Pattern = Pattern {
    ci: true,
    before: 8,
    after: 200,
    min_entropy: 3.2,
    check: checks::keyword_bound,
    ..P
};

/// Ordered by priority: where two matches overlap, the earlier pattern wins.
pub(crate) static PATTERNS: &[Pattern] = &[
    // ---- multi-line and structured ----
    Pattern {
        rule: "BWK-SECRET-PRIVATE-KEY",
        name: "pem-private-key",
        keywords: &["-----BEGIN "],
        re: Re::Raw(
            r"-----BEGIN (?P<label>(?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED |SSH2 ENCRYPTED )?PRIVATE KEY(?: BLOCK)?)-----",
        ),
        placeholder: false,
        min_entropy: 0.0,
        check: checks::private_key,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-DATABASE-URL",
        name: "url-with-password",
        keywords: &[
            "postgres://",
            "postgresql://",
            "mysql://",
            "mariadb://",
            "mongodb://",
            "mongodb+srv://",
            "redis://",
            "rediss://",
            "amqp://",
            "amqps://",
            "mssql://",
            "sqlserver://",
            "cockroachdb://",
        ],
        ci: true,
        re: Re::Raw(
            r#"(?i:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|cockroachdb)://(?P<user>[!-~&&[^:@/'"`<>]]{0,64}):(?P<s>[!-~&&[^@/'"`<>]]{1,128})@(?P<host>[A-Za-z0-9._\-\[\]]{1,128})"#,
        ),
        before: 0,
        placeholder: false,
        min_entropy: 0.0,
        check: checks::database_url,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-JWT",
        name: "jwt",
        keywords: &["eyJ"],
        // Unbounded runs of a token class (never `.`, never across a line):
        // a counted {10,2048} would make the lazy DFA count; lengths are
        // checked in `checks::jwt`.
        re: Re::Raw(
            r"\b(?P<s>eyJ[A-Za-z0-9_\-]{10}[A-Za-z0-9_\-]*\.eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]{16}[A-Za-z0-9_\-]*)(?:[^A-Za-z0-9_\-.]|$)",
        ),
        before: 4,
        after: 5200,
        placeholder: false,
        check: checks::jwt,
        ..P
    },
    // ---- cloud ----
    Pattern {
        rule: "BWK-SECRET-AWS-ACCESS-KEY",
        name: "aws-access-key-id",
        keywords: &["AKIA", "ASIA", "ABIA", "ACCA"],
        re: Re::Raw(r"\b(?P<s>(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b"),
        check: checks::aws_key_id,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-AWS-SECRET-KEY",
        name: "aws-secret-access-key",
        keywords: &[
            "aws",
            "amazon",
            "secretaccesskey",
            "secret_access_key",
            "secret-access-key",
        ],
        re: Re::Kw(
            r"(?:(?:aws|amazon)[A-Za-z0-9_.\-]{0,30}(?:secret|sk)|secret_?access_?key|secret-access-key)",
            r"[A-Za-z0-9/+]{40}",
        ),
        min_entropy: 4.0,
        check: checks::aws_secret,
        ..K
    },
    Pattern {
        rule: "BWK-SECRET-GOOGLE-API-KEY",
        name: "google-api-key",
        keywords: &["AIza"],
        re: Re::Raw(r"\b(?P<s>AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-GOOGLE-OAUTH-SECRET",
        name: "google-oauth-client-secret",
        keywords: &["GOCSPX-"],
        re: Re::Raw(r"\b(?P<s>GOCSPX-[A-Za-z0-9_\-]{28})(?:[^A-Za-z0-9_\-]|$)"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-AZURE-STORAGE-KEY",
        name: "azure-storage-account-key",
        keywords: &["AccountKey="],
        ci: true,
        re: Re::Raw(r"(?i:AccountKey)=(?P<s>[A-Za-z0-9+/]{86}==)"),
        min_entropy: 4.0,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-AZURE-SAS-TOKEN",
        name: "azure-sas-signature",
        keywords: &["sig="],
        re: Re::Raw(r"(?:[?&;]|\b)sig=(?P<s>[A-Za-z0-9%+/]{40,120}(?:%3[Dd]|=){0,2})"),
        before: 600,
        after: 400,
        min_entropy: 3.5,
        check: checks::azure_sas,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-AZURE-AD-CLIENT-SECRET",
        name: "entra-client-secret",
        keywords: &["Q~"],
        re: Re::Raw(
            r"(?:^|[^A-Za-z0-9_~.\-])(?P<s>[A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34})(?:[^A-Za-z0-9_~.\-]|$)",
        ),
        min_entropy: 3.5,
        check: checks::medium,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-ALIBABA-ACCESS-KEY",
        name: "alibaba-access-key-id",
        keywords: &["LTAI"],
        re: Re::Raw(r"\b(?P<s>LTAI[A-Za-z0-9]{12,20})\b"),
        check: checks::mixed_case_digits,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-DIGITALOCEAN-TOKEN",
        name: "digitalocean-token",
        keywords: &["dop_v1_", "doo_v1_", "dor_v1_"],
        re: Re::Raw(r"\b(?P<s>do[opr]_v1_[a-f0-9]{64})\b"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-HEROKU-KEY",
        name: "heroku-api-key",
        keywords: &["heroku"],
        re: Re::Kw(
            r"heroku",
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        ),
        min_entropy: 3.0,
        ..K
    },
    Pattern {
        rule: "BWK-SECRET-HEROKU-KEY",
        name: "heroku-platform-key",
        keywords: &["HRKU-"],
        re: Re::Raw(r"\b(?P<s>HRKU-[A-Za-z0-9_\-]{58,64})(?:[^A-Za-z0-9_\-]|$)"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-CLOUDFLARE-TOKEN",
        name: "cloudflare-api-token",
        keywords: &[
            "cloudflare",
            "cf_api",
            "cf-api",
            "cf_token",
            "cf_key",
            "cf-token",
            "cf-key",
        ],
        re: Re::Kw(
            r"(?:cloudflare|cf)[A-Za-z0-9_.\-]{0,20}(?:token|key)",
            r"[A-Za-z0-9_\-]{40}|[a-f0-9]{37}",
        ),
        min_entropy: 3.5,
        ..K
    },
    Pattern {
        rule: "BWK-SECRET-CLOUDFLARE-TOKEN",
        name: "cloudflare-origin-ca-key",
        keywords: &["v1.0-"],
        re: Re::Raw(r"\b(?P<s>v1\.0-[a-f0-9]{24}-[a-f0-9]{146})\b"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-VERCEL-TOKEN",
        name: "vercel-token",
        keywords: &["vercel"],
        re: Re::Kw(
            r"vercel[A-Za-z0-9_.\-]{0,20}(?:token|key|secret)",
            r"[A-Za-z0-9]{24}",
        ),
        min_entropy: 3.5,
        ..K
    },
    Pattern {
        rule: "BWK-SECRET-SUPABASE-KEY",
        name: "supabase-access-token",
        keywords: &["sbp_"],
        re: Re::Raw(r"\b(?P<s>sbp_[a-f0-9]{40})\b"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-SUPABASE-KEY",
        name: "supabase-secret-key",
        keywords: &["sb_secret_"],
        re: Re::Raw(r"\b(?P<s>sb_secret_[A-Za-z0-9_\-]{31,64})(?:[^A-Za-z0-9_\-]|$)"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-DATABRICKS-TOKEN",
        name: "databricks-pat",
        keywords: &["dapi"],
        re: Re::Raw(r"\b(?P<s>dapi[a-f0-9]{32})(?:-[0-9])?\b"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-VAULT-TOKEN",
        name: "vault-token",
        keywords: &["hvs.", "hvb.", "hvr."],
        re: Re::Raw(r"\b(?P<s>hv[sbr]\.[A-Za-z0-9_\-]{24,300})(?:[^A-Za-z0-9_\-.]|$)"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-TERRAFORM-TOKEN",
        name: "terraform-cloud-token",
        keywords: &[".atlasv1."],
        re: Re::Raw(
            r"\b(?P<s>[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,70})(?:[^A-Za-z0-9_=\-]|$)",
        ),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-PULUMI-TOKEN",
        name: "pulumi-token",
        keywords: &["pul-"],
        re: Re::Raw(r"\b(?P<s>pul-[a-f0-9]{40})\b"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-DOPPLER-TOKEN",
        name: "doppler-token",
        keywords: &[
            "dp.st.",
            "dp.ct.",
            "dp.sa.",
            "dp.pt.",
            "dp.scim.",
            "dp.audit.",
        ],
        re: Re::Raw(
            r"\b(?P<s>dp\.(?:st|ct|sa|pt|scim|audit)\.(?:[a-z0-9_\-]{2,35}\.)?[A-Za-z0-9]{40,44})\b",
        ),
        ..P
    },
    // ---- AI providers ----
    Pattern {
        rule: "BWK-SECRET-ANTHROPIC-KEY",
        name: "anthropic-api-key",
        keywords: &["sk-ant-"],
        re: Re::Raw(
            r"\b(?P<s>sk-ant-(?:api|admin|oat|ort|sid)[0-9]{2}-[A-Za-z0-9_\-]{80,120})(?:[^A-Za-z0-9_\-]|$)",
        ),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-OPENROUTER-KEY",
        name: "openrouter-api-key",
        keywords: &["sk-or-v1-"],
        re: Re::Raw(r"\b(?P<s>sk-or-v1-[a-f0-9]{64})\b"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-OPENAI-KEY",
        name: "openai-project-key",
        keywords: &["sk-proj-", "sk-svcacct-", "sk-admin-"],
        re: Re::Raw(
            r"\b(?P<s>sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,200})(?:[^A-Za-z0-9_\-]|$)",
        ),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-OPENAI-KEY",
        name: "openai-legacy-key",
        keywords: &["T3BlbkFJ"],
        re: Re::Raw(
            r"\b(?P<s>sk-[A-Za-z0-9_\-]{20,74}T3BlbkFJ[A-Za-z0-9_\-]{20,74})(?:[^A-Za-z0-9_\-]|$)",
        ),
        before: 100,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-OPENAI-KEY",
        name: "openai-shaped-key",
        keywords: &["sk-"],
        re: Re::Raw(r"\b(?P<s>sk-[A-Za-z0-9]{48})\b"),
        min_entropy: 4.0,
        check: checks::mixed_case_digits,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-HUGGINGFACE-TOKEN",
        name: "huggingface-token",
        keywords: &["hf_", "api_org_"],
        re: Re::Raw(r"\b(?P<s>(?:hf_|api_org_)[A-Za-z0-9]{34,40})\b"),
        min_entropy: 3.5,
        check: checks::mixed_case,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-COHERE-KEY",
        name: "cohere-api-key",
        keywords: &["cohere", "co_api_key"],
        re: Re::Kw(r"(?:cohere|co_api_key)", r"[A-Za-z0-9]{40}"),
        min_entropy: 3.8,
        ..K
    },
    Pattern {
        rule: "BWK-SECRET-MISTRAL-KEY",
        name: "mistral-api-key",
        keywords: &["mistral"],
        re: Re::Kw(r"mistral", r"[A-Za-z0-9]{32}"),
        min_entropy: 3.8,
        ..K
    },
    Pattern {
        rule: "BWK-SECRET-GROQ-KEY",
        name: "groq-api-key",
        keywords: &["gsk_"],
        re: Re::Raw(r"\b(?P<s>gsk_[A-Za-z0-9]{52})\b"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-REPLICATE-TOKEN",
        name: "replicate-api-token",
        keywords: &["r8_"],
        re: Re::Raw(r"\b(?P<s>r8_[A-Za-z0-9]{37})\b"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-PERPLEXITY-KEY",
        name: "perplexity-api-key",
        keywords: &["pplx-"],
        re: Re::Raw(r"\b(?P<s>pplx-[A-Za-z0-9]{48})\b"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-XAI-KEY",
        name: "xai-api-key",
        keywords: &["xai-"],
        re: Re::Raw(r"\b(?P<s>xai-[A-Za-z0-9]{80})\b"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-LANGSMITH-KEY",
        name: "langsmith-api-key",
        keywords: &["lsv2_"],
        re: Re::Raw(r"\b(?P<s>lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10})\b"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-TAVILY-KEY",
        name: "tavily-api-key",
        keywords: &["tvly-"],
        re: Re::Raw(r"\b(?P<s>tvly-(?:dev-|prod-)?[A-Za-z0-9]{32})\b"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-ELEVENLABS-KEY",
        name: "elevenlabs-api-key",
        keywords: &["sk_"],
        re: Re::Raw(r"\b(?P<s>sk_[a-f0-9]{48})\b"),
        ..P
    },
    // ---- code hosting and packages ----
    Pattern {
        rule: "BWK-SECRET-GITHUB-TOKEN",
        name: "github-token",
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        re: Re::Raw(r"\b(?P<s>gh[pousr]_[A-Za-z0-9]{36,251})\b"),
        min_entropy: 3.5,
        check: checks::github,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-GITHUB-TOKEN",
        name: "github-fine-grained-pat",
        keywords: &["github_pat_"],
        re: Re::Raw(r"\b(?P<s>github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-GITLAB-TOKEN",
        name: "gitlab-token",
        keywords: &[
            "glpat-", "glptt-", "gldt-", "glrt-", "glsoat-", "glcbt-", "glft-", "glimt-",
            "glagent-", "gloas-",
        ],
        re: Re::Raw(
            r"\b(?P<s>gl(?:pat|ptt|dt|rt|soat|cbt|ft|imt|agent|oas)-[A-Za-z0-9_\-]{20,64}(?:\.[A-Za-z0-9_\-]{2,20}){0,2})(?:[^A-Za-z0-9_\-]|$)",
        ),
        min_entropy: 3.3,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-BITBUCKET-APP-PASSWORD",
        name: "bitbucket-app-password",
        keywords: &["ATBB"],
        re: Re::Raw(r"\b(?P<s>ATBB[A-Za-z0-9_=.\-]{28,60})(?:[^A-Za-z0-9_=.\-]|$)"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-ATLASSIAN-TOKEN",
        name: "atlassian-api-token",
        keywords: &["ATATT3"],
        re: Re::Raw(r"\b(?P<s>ATATT3[A-Za-z0-9_=\-]{150,250})(?:[^A-Za-z0-9_=\-]|$)"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-NPM-TOKEN",
        name: "npm-access-token",
        keywords: &["npm_"],
        re: Re::Raw(r"\b(?P<s>npm_[A-Za-z0-9]{36})\b"),
        min_entropy: 3.5,
        check: checks::mixed_case_digits,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-PYPI-TOKEN",
        name: "pypi-upload-token",
        keywords: &["pypi-AgE"],
        re: Re::Raw(r"\b(?P<s>pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_\-]{50,400})"),
        check: checks::pypi,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-DOCKERHUB-TOKEN",
        name: "dockerhub-pat",
        keywords: &["dckr_pat_", "dckr_oat_"],
        re: Re::Raw(r"\b(?P<s>dckr_(?:pat|oat)_[A-Za-z0-9_\-]{27,40})(?:[^A-Za-z0-9_\-]|$)"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-POSTMAN-KEY",
        name: "postman-api-key",
        keywords: &["PMAK-"],
        re: Re::Raw(r"\b(?P<s>PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-FIGMA-TOKEN",
        name: "figma-pat",
        keywords: &["figd_"],
        re: Re::Raw(r"\b(?P<s>figd_[A-Za-z0-9_\-]{40,64})(?:[^A-Za-z0-9_\-]|$)"),
        min_entropy: 3.5,
        ..P
    },
    // ---- messaging ----
    Pattern {
        rule: "BWK-SECRET-SLACK-TOKEN",
        name: "slack-token",
        keywords: &["xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxs-", "xoxr-"],
        re: Re::Raw(r"\b(?P<s>xox[abposr]-(?:[0-9]{1,14}-){1,3}[0-9A-Za-z]{16,64})\b"),
        min_entropy: 3.3,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-SLACK-TOKEN",
        name: "slack-app-token",
        keywords: &["xapp-"],
        re: Re::Raw(r"\b(?P<s>xapp-[0-9]-[A-Z0-9]{9,12}-[0-9]{10,14}-[a-f0-9]{64})\b"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-SLACK-WEBHOOK",
        name: "slack-webhook-url",
        keywords: &["hooks.slack.com"],
        ci: true,
        re: Re::Raw(
            r"(?P<s>https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_\-]{8,12}/[A-Za-z0-9_\-]{8,40}/[A-Za-z0-9_\-]{16,64})",
        ),
        check: checks::url_tail,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-DISCORD-WEBHOOK",
        name: "discord-webhook-url",
        keywords: &["discord.com/api/webhooks/", "discordapp.com/api/webhooks/"],
        ci: true,
        re: Re::Raw(
            r"(?P<s>https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_\-]{60,68})",
        ),
        before: 40,
        check: checks::url_tail,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-DISCORD-BOT-TOKEN",
        name: "discord-bot-token",
        keywords: &["discord"],
        ci: true,
        re: Re::Raw(
            r"(?:^|[^A-Za-z0-9_\-])(?P<s>[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38})(?:[^A-Za-z0-9_\-]|$)",
        ),
        before: 200,
        after: 200,
        check: checks::discord_bot,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-TELEGRAM-BOT-TOKEN",
        name: "telegram-bot-token",
        keywords: &[":AA"],
        re: Re::Raw(r"(?:^|[^0-9])(?P<s>[0-9]{8,10}:AA[A-Za-z0-9_\-]{33})(?:[^A-Za-z0-9_\-]|$)"),
        before: 16,
        after: 48,
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-TWILIO-AUTH-TOKEN",
        name: "twilio-auth-token",
        keywords: &["twilio"],
        re: Re::Kw(
            r"twilio[A-Za-z0-9_.\-]{0,20}(?:auth|token|secret)",
            r"[a-f0-9]{32}",
        ),
        ..K
    },
    Pattern {
        rule: "BWK-SECRET-TWILIO-API-KEY",
        name: "twilio-api-key-sid",
        keywords: &["SK"],
        re: Re::Raw(r"\b(?P<s>SK[0-9a-f]{32})\b"),
        before: 4,
        after: 40,
        check: checks::hex_mixed,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-SENDGRID-KEY",
        name: "sendgrid-api-key",
        keywords: &["SG."],
        re: Re::Raw(r"\b(?P<s>SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})(?:[^A-Za-z0-9_\-]|$)"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-MAILGUN-KEY",
        name: "mailgun-api-key",
        keywords: &["key-"],
        re: Re::Raw(r"\b(?P<s>key-[0-9a-f]{32})\b"),
        before: 4,
        after: 48,
        check: checks::hex_mixed,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-MAILGUN-KEY",
        name: "mailgun-private-key",
        keywords: &["mailgun"],
        re: Re::Kw(r"mailgun", r"[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}"),
        ..K
    },
    Pattern {
        rule: "BWK-SECRET-MAILCHIMP-KEY",
        name: "mailchimp-api-key",
        keywords: &["-us"],
        re: Re::Raw(r"\b(?P<s>[0-9a-f]{32}-us[0-9]{1,2})\b"),
        before: 40,
        after: 8,
        check: checks::hex_mixed,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-RESEND-KEY",
        name: "resend-api-key",
        keywords: &["re_"],
        re: Re::Raw(r"\b(?P<s>re_[A-Za-z0-9]{8}_[A-Za-z0-9]{24})\b"),
        before: 4,
        after: 48,
        min_entropy: 3.5,
        check: checks::mixed_case_digits,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-BREVO-KEY",
        name: "brevo-api-key",
        keywords: &["xkeysib-", "xsmtpsib-"],
        re: Re::Raw(r"\b(?P<s>x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16})\b"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-FIREBASE-FCM-KEY",
        name: "fcm-server-key",
        keywords: &[":APA91b"],
        re: Re::Raw(
            r"\b(?P<s>AAAA[A-Za-z0-9_\-]{7}:APA91b[A-Za-z0-9_\-]{134})(?:[^A-Za-z0-9_\-]|$)",
        ),
        before: 16,
        ..P
    },
    // ---- payments ----
    Pattern {
        rule: "BWK-SECRET-STRIPE-KEY",
        name: "stripe-live-key",
        keywords: &["sk_live_", "rk_live_"],
        re: Re::Raw(r"\b(?P<s>[sr]k_live_[A-Za-z0-9]{24,247})\b"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-STRIPE-TEST-KEY",
        name: "stripe-test-key",
        keywords: &["sk_test_", "rk_test_"],
        re: Re::Raw(r"\b(?P<s>[sr]k_test_[A-Za-z0-9]{24,247})\b"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-STRIPE-WEBHOOK-SECRET",
        name: "stripe-webhook-secret",
        keywords: &["whsec_"],
        re: Re::Raw(r"\b(?P<s>whsec_[A-Za-z0-9+/=]{32,64})(?:[^A-Za-z0-9+/=]|$)"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-SQUARE-TOKEN",
        name: "square-access-token",
        keywords: &["EAAA"],
        re: Re::Raw(r"\b(?P<s>EAAA[A-Za-z0-9_\-]{60})(?:[^A-Za-z0-9_\-]|$)"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-SQUARE-TOKEN",
        name: "square-oauth-token",
        keywords: &["sq0atp-", "sq0csp-"],
        re: Re::Raw(r"\b(?P<s>sq0(?:atp|csp)-[A-Za-z0-9_\-]{22,43})(?:[^A-Za-z0-9_\-]|$)"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-BRAINTREE-TOKEN",
        name: "braintree-access-token",
        keywords: &["access_token$"],
        re: Re::Raw(r"(?P<s>access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32})"),
        placeholder: false,
        check: checks::braintree,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-SHOPIFY-TOKEN",
        name: "shopify-token",
        keywords: &["shpat_", "shpss_", "shpca_", "shppa_"],
        re: Re::Raw(r"\b(?P<s>shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32})\b"),
        ..P
    },
    // ---- SaaS and observability ----
    Pattern {
        rule: "BWK-SECRET-LINEAR-KEY",
        name: "linear-api-key",
        keywords: &["lin_api_", "lin_oauth_"],
        re: Re::Raw(r"\b(?P<s>lin_(?:api|oauth)_[A-Za-z0-9]{40,64})\b"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-NOTION-TOKEN",
        name: "notion-integration-token",
        keywords: &["secret_"],
        re: Re::Raw(r"\b(?P<s>secret_[A-Za-z0-9]{43})\b"),
        before: 4,
        after: 60,
        min_entropy: 3.5,
        check: checks::mixed_case_digits,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-NOTION-TOKEN",
        name: "notion-token",
        keywords: &["ntn_"],
        re: Re::Raw(r"\b(?P<s>ntn_[A-Za-z0-9]{40,50})\b"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-AIRTABLE-TOKEN",
        name: "airtable-pat",
        keywords: &["pat"],
        re: Re::Raw(r"\b(?P<s>pat[A-Za-z0-9]{14}\.[a-f0-9]{64})\b"),
        before: 4,
        after: 90,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-DATADOG-KEY",
        name: "datadog-key",
        keywords: &[
            "datadog", "dd_api", "dd_app", "dd-api", "dd-app", "ddapi", "ddapp",
        ],
        re: Re::Kw(
            r"(?:datadog|dd)[A-Za-z0-9_.\-]{0,20}(?:api|app)[A-Za-z0-9_.\-]{0,12}key",
            r"[a-f0-9]{40}|[a-f0-9]{32}",
        ),
        min_entropy: 3.0,
        ..K
    },
    Pattern {
        rule: "BWK-SECRET-NEWRELIC-KEY",
        name: "newrelic-user-key",
        keywords: &["NRAK-", "NRII-"],
        re: Re::Raw(r"\b(?P<s>NR(?:AK-[A-Z0-9]{27}|II-[A-Za-z0-9_\-]{32}))(?:[^A-Za-z0-9_\-]|$)"),
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-SENTRY-TOKEN",
        name: "sentry-auth-token",
        keywords: &["sntrys_", "sntryu_"],
        re: Re::Raw(
            r"\b(?P<s>sntry(?:s_[A-Za-z0-9+/=_]{60,250}|u_[a-f0-9]{64}))(?:[^A-Za-z0-9+/=_]|$)",
        ),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-SENTRY-DSN",
        name: "sentry-dsn",
        keywords: &["sentry"],
        ci: true,
        re: Re::Raw(
            r"(?P<s>https?://(?P<pub>[0-9a-f]{32})(?::(?P<sec>[0-9a-f]{32}))?@[A-Za-z0-9.\-]{1,100}(?::[0-9]{1,5})?/[0-9]{1,12})",
        ),
        before: 200,
        after: 200,
        placeholder: false,
        check: checks::sentry_dsn,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-PAGERDUTY-KEY",
        name: "pagerduty-api-key",
        keywords: &["pagerduty", "pd_api", "pd_token", "pd-api"],
        re: Re::Kw(
            r"(?:pagerduty|pd)[A-Za-z0-9_.\-]{0,20}(?:token|key)",
            r"[A-Za-z0-9_+\-]{20}",
        ),
        min_entropy: 3.5,
        check: checks::keyword_bound_mixed,
        ..K
    },
    Pattern {
        rule: "BWK-SECRET-GRAFANA-TOKEN",
        name: "grafana-service-account-token",
        keywords: &["glsa_"],
        re: Re::Raw(r"\b(?P<s>glsa_[A-Za-z0-9]{32}_[a-f0-9]{8})\b"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-GRAFANA-TOKEN",
        name: "grafana-cloud-token",
        keywords: &["glc_"],
        re: Re::Raw(r"\b(?P<s>glc_[A-Za-z0-9+/]{32,400}={0,2})"),
        min_entropy: 3.5,
        ..P
    },
    Pattern {
        rule: "BWK-SECRET-AGE-KEY",
        name: "age-secret-key",
        keywords: &["AGE-SECRET-KEY-1"],
        re: Re::Raw(r"\b(?P<s>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b"),
        ..P
    },
    // ---- generic assignments (last: anything more specific wins) ----
    Pattern {
        rule: "BWK-SECRET-GENERIC",
        name: "quoted-assignment",
        keywords: &[
            "password",
            "passwd",
            "pwd",
            "secret",
            "token",
            "api_key",
            "apikey",
            "api-key",
            "access_key",
            "accesskey",
            "auth_key",
            "authkey",
            "private_key",
            "privatekey",
            "credential",
        ],
        ci: true,
        re: Re::Raw(
            r#"(?P<key>[A-Za-z0-9_.\-]{0,40}(?i:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|auth[_\-]?key|private[_\-]?key|credentials?)[A-Za-z0-9_.\-]{0,24})["'`\]]{0,2}\s{0,5}(?::=|=>|\?\?=|=|:)\s{0,5}(?P<q>["'`])(?P<s>[!-~&&[^"'`\\]]{8,200})(?P<q2>["'`])"#,
        ),
        before: 72,
        after: 300,
        placeholder: false,
        min_entropy: 0.0,
        check: checks::generic,
    },
    Pattern {
        rule: "BWK-SECRET-GENERIC",
        name: "env-assignment",
        keywords: &[
            "PASSWORD",
            "PASSWD",
            "SECRET",
            "TOKEN",
            "API_KEY",
            "APIKEY",
            "ACCESS_KEY",
            "AUTH_KEY",
            "PRIVATE_KEY",
            "CREDENTIAL",
        ],
        re: Re::Raw(
            r#"(?m)^[ \t]{0,8}(?:export[ \t]{1,4})?(?P<key>[A-Z0-9_]{0,40}(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|AUTH_?KEY|PRIVATE_?KEY|CREDENTIALS?)[A-Z0-9_]{0,24})[ \t]{0,3}=[ \t]{0,3}(?P<s>[!-~&&[^"'`#$]]{12,200})[ \t]{0,10}(?:#[^\n]{0,160})?$"#,
        ),
        before: 60,
        after: 300,
        placeholder: false,
        min_entropy: 0.0,
        check: checks::generic,
        ..P
    },
];
