//! One real-looking positive and one placeholder negative per secret format,
//! plus locations, masking, suppression and overlap resolution.
//!
//! Test credentials are generated at run time from a fixed seed so that no
//! credential-shaped literal sits in this file.

use bulwark_detect::{Confidence, Finding, Location, Severity, scan_secrets};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick(&mut self, alphabet: &str, n: usize) -> String {
        let a: Vec<char> = alphabet.chars().collect();
        (0..n)
            .map(|_| a[(self.next() % a.len() as u64) as usize])
            .collect()
    }
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const ALPHA: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HEX: &str = "0123456789abcdef";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URLSAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
const BASE32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const UPNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const DIGITS: &str = "0123456789";

fn rng(seed: u64) -> Rng {
    Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn base62(mut n: u32) -> String {
    let a: Vec<char> = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        .chars()
        .collect();
    let mut d = Vec::new();
    while n > 0 {
        d.push(a[(n % 62) as usize]);
        n /= 62;
    }
    while d.len() < 6 {
        d.push('0');
    }
    d.iter().rev().collect()
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn rules(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.rule_id.as_str()).collect()
}

/// Asserts `text` yields `rule` and that the secret never shows unmasked.
fn positive(rule: &str, text: &str, secret: &str) -> Finding {
    let findings = scan_secrets("src/config.py", text);
    let f = findings
        .iter()
        .find(|f| f.rule_id == rule)
        .unwrap_or_else(|| panic!("{rule} not found in {text:?}; got {:?}", rules(&findings)))
        .clone();
    for g in &findings {
        for shown in [&g.snippet, &g.evidence, &g.message] {
            assert!(
                !shown.contains(secret),
                "{rule}: secret leaked in {shown:?}"
            );
        }
    }
    f
}

fn negative(rule: &str, text: &str) {
    let findings = scan_secrets("src/config.py", text);
    assert!(
        !findings.iter().any(|f| f.rule_id == rule),
        "{rule} must not fire on {text:?}: {findings:#?}"
    );
}

/// Table of (rule, positive line with the secret, the secret, placeholder line).
fn cases() -> Vec<(&'static str, String, String, String)> {
    let mut r = rng(7);
    let mut v = Vec::new();
    let mut add = |rule: &'static str, line: String, secret: String, neg: String| {
        v.push((rule, line, secret, neg))
    };

    let s = format!("AKIA{}", r.pick(BASE32, 16));
    add(
        "BWK-SECRET-AWS-ACCESS-KEY",
        format!("aws_access_key_id = {s}"),
        s,
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE".into(),
    );
    let s = r.pick(B64, 40);
    add(
        "BWK-SECRET-AWS-SECRET-KEY",
        format!("aws_secret_access_key = \"{s}\""),
        s,
        "aws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"".into(),
    );
    let s = format!("AIza{}", r.pick(URLSAFE, 35));
    add(
        "BWK-SECRET-GOOGLE-API-KEY",
        format!("const key = '{s}';"),
        s,
        format!("const key = 'AIza{}';", "X".repeat(35)),
    );
    let s = format!("GOCSPX-{}", r.pick(URLSAFE, 28));
    add(
        "BWK-SECRET-GOOGLE-OAUTH-SECRET",
        format!("client_secret: {s}"),
        s,
        format!("client_secret: GOCSPX-{}", "x".repeat(28)),
    );
    let s = format!("{}==", r.pick(B64, 86));
    add(
        "BWK-SECRET-AZURE-STORAGE-KEY",
        format!("DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={s};EndpointSuffix=core.windows.net"),
        s,
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;".into(),
    );
    let s = format!("{}%3D", r.pick(ALNUM, 43));
    add(
        "BWK-SECRET-AZURE-SAS-TOKEN",
        format!(
            "url = \"https://acme.blob.core.windows.net/c/f.txt?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-01-01T00:00:00Z&sig={s}\""
        ),
        s.clone(),
        format!("url = \"https://example.net/render?sig={s}\""),
    );
    let s = format!("{}8Q~{}", r.pick(ALNUM, 3), r.pick(ALNUM, 34));
    add(
        "BWK-SECRET-AZURE-AD-CLIENT-SECRET",
        format!("AZURE_CLIENT_SECRET={s}"),
        s,
        format!("AZURE_CLIENT_SECRET=xxx8Q~{}", "x".repeat(34)),
    );
    let s = format!("LTAI{}", r.pick(ALNUM, 20));
    add(
        "BWK-SECRET-ALIBABA-ACCESS-KEY",
        format!("access_key_id: {s}"),
        s,
        "access_key_id: LTAIXXXXXXXXXXXXXXXXXXXX".into(),
    );
    let s = format!("dop_v1_{}", r.pick(HEX, 64));
    add(
        "BWK-SECRET-DIGITALOCEAN-TOKEN",
        format!("token: {s}"),
        s,
        format!("token: dop_v1_{}", "0".repeat(64)),
    );
    let s = format!(
        "{}-{}-{}-{}-{}",
        r.pick(HEX, 8),
        r.pick(HEX, 4),
        r.pick(HEX, 4),
        r.pick(HEX, 4),
        r.pick(HEX, 12)
    );
    add(
        "BWK-SECRET-HEROKU-KEY",
        format!("HEROKU_API_KEY={s}"),
        s,
        "HEROKU_API_KEY=00000000-0000-0000-0000-000000000000".into(),
    );
    let s = r.pick(URLSAFE, 40);
    add(
        "BWK-SECRET-CLOUDFLARE-TOKEN",
        format!("CLOUDFLARE_API_TOKEN=\"{s}\""),
        s,
        "CLOUDFLARE_API_TOKEN=\"your-cloudflare-api-token-goes-here-1234\"".into(),
    );
    let s = r.pick(ALNUM, 24);
    add(
        "BWK-SECRET-VERCEL-TOKEN",
        format!("VERCEL_TOKEN={s}"),
        s,
        "VERCEL_TOKEN=xxxxxxxxxxxxxxxxxxxxxxxx".into(),
    );
    let s = format!("sbp_{}", r.pick(HEX, 40));
    add(
        "BWK-SECRET-SUPABASE-KEY",
        format!("SUPABASE_ACCESS_TOKEN={s}"),
        s,
        format!("SUPABASE_ACCESS_TOKEN=sbp_{}", "a".repeat(40)),
    );
    let s = format!("dapi{}", r.pick(HEX, 32));
    add(
        "BWK-SECRET-DATABRICKS-TOKEN",
        format!("token = \"{s}\""),
        s,
        format!("token = \"dapi{}\"", "0".repeat(32)),
    );
    let s = format!("hvs.{}", r.pick(URLSAFE, 90));
    add(
        "BWK-SECRET-VAULT-TOKEN",
        format!("VAULT_TOKEN={s}"),
        s,
        "VAULT_TOKEN=hvs.your-vault-token-here-xxxxxxxxxxxxxxxxxxxxxxx".into(),
    );
    let s = format!("{}.atlasv1.{}", r.pick(ALNUM, 14), r.pick(ALNUM, 67));
    add(
        "BWK-SECRET-TERRAFORM-TOKEN",
        format!("token = \"{s}\""),
        s,
        format!("token = \"{}.atlasv1.{}\"", "x".repeat(14), "x".repeat(67)),
    );
    let s = format!("pul-{}", r.pick(HEX, 40));
    add(
        "BWK-SECRET-PULUMI-TOKEN",
        format!("PULUMI_ACCESS_TOKEN={s}"),
        s,
        format!("PULUMI_ACCESS_TOKEN=pul-{}", "a".repeat(40)),
    );
    let s = format!("dp.st.{}", r.pick(ALNUM, 40));
    add(
        "BWK-SECRET-DOPPLER-TOKEN",
        format!("DOPPLER_TOKEN={s}"),
        s,
        format!("DOPPLER_TOKEN=dp.st.{}", "x".repeat(40)),
    );
    let s = format!("sk-proj-{}", r.pick(URLSAFE, 120));
    add(
        "BWK-SECRET-OPENAI-KEY",
        format!("openai.api_key = \"{s}\""),
        s,
        "openai.api_key = \"sk-proj-your-openai-api-key-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"".into(),
    );
    let s = format!("sk-ant-api03-{}AA", r.pick(URLSAFE, 93));
    add(
        "BWK-SECRET-ANTHROPIC-KEY",
        format!("ANTHROPIC_API_KEY={s}"),
        s,
        format!("ANTHROPIC_API_KEY=sk-ant-api03-{}AA", "x".repeat(93)),
    );
    let s = format!("hf_{}", r.pick(ALPHA, 34));
    add(
        "BWK-SECRET-HUGGINGFACE-TOKEN",
        format!("HF_TOKEN={s}"),
        s,
        format!("HF_TOKEN=hf_{}", "x".repeat(34)),
    );
    let s = r.pick(ALNUM, 40);
    add(
        "BWK-SECRET-COHERE-KEY",
        format!("COHERE_API_KEY=\"{s}\""),
        s,
        "COHERE_API_KEY=\"<your-cohere-api-key>\"".into(),
    );
    let s = r.pick(ALNUM, 32);
    add(
        "BWK-SECRET-MISTRAL-KEY",
        format!("mistral_api_key: {s}"),
        s,
        "mistral_api_key: YOUR_MISTRAL_API_KEY_0000000000".into(),
    );
    let s = format!("gsk_{}", r.pick(ALNUM, 52));
    add(
        "BWK-SECRET-GROQ-KEY",
        format!("GROQ_API_KEY={s}"),
        s,
        format!("GROQ_API_KEY=gsk_{}", "x".repeat(52)),
    );
    let s = format!("r8_{}", r.pick(ALNUM, 37));
    add(
        "BWK-SECRET-REPLICATE-TOKEN",
        format!("REPLICATE_API_TOKEN={s}"),
        s,
        format!("REPLICATE_API_TOKEN=r8_{}", "x".repeat(37)),
    );
    let s = format!("pplx-{}", r.pick(ALNUM, 48));
    add(
        "BWK-SECRET-PERPLEXITY-KEY",
        format!("key = '{s}'"),
        s,
        format!("key = 'pplx-{}'", "x".repeat(48)),
    );
    let s = format!("xai-{}", r.pick(ALNUM, 80));
    add(
        "BWK-SECRET-XAI-KEY",
        format!("XAI_API_KEY={s}"),
        s,
        format!("XAI_API_KEY=xai-{}", "x".repeat(80)),
    );
    let s = format!("sk-or-v1-{}", r.pick(HEX, 64));
    add(
        "BWK-SECRET-OPENROUTER-KEY",
        format!("OPENROUTER_API_KEY={s}"),
        s,
        format!("OPENROUTER_API_KEY=sk-or-v1-{}", "0".repeat(64)),
    );
    let s = format!("lsv2_pt_{}_{}", r.pick(HEX, 32), r.pick(HEX, 10));
    add(
        "BWK-SECRET-LANGSMITH-KEY",
        format!("LANGSMITH_API_KEY={s}"),
        s,
        format!(
            "LANGSMITH_API_KEY=lsv2_pt_{}_{}",
            "0".repeat(32),
            "0".repeat(10)
        ),
    );
    let s = format!("tvly-{}", r.pick(ALNUM, 32));
    add(
        "BWK-SECRET-TAVILY-KEY",
        format!("TAVILY_API_KEY={s}"),
        s,
        format!("TAVILY_API_KEY=tvly-{}", "x".repeat(32)),
    );
    let s = format!("sk_{}", r.pick(HEX, 48));
    add(
        "BWK-SECRET-ELEVENLABS-KEY",
        format!("ELEVEN_API_KEY={s}"),
        s,
        format!("ELEVEN_API_KEY=sk_{}", "0".repeat(48)),
    );
    let random30 = r.pick(ALNUM, 30);
    let s = format!("ghp_{random30}{}", base62(crc32(random30.as_bytes())));
    add(
        "BWK-SECRET-GITHUB-TOKEN",
        format!("GITHUB_TOKEN={s}"),
        s,
        format!("GITHUB_TOKEN=ghp_{}", "x".repeat(36)),
    );
    let s = format!("github_pat_{}_{}", r.pick(ALNUM, 22), r.pick(ALNUM, 59));
    add(
        "BWK-SECRET-GITHUB-TOKEN",
        format!("token: {s}"),
        s,
        format!("token: github_pat_{}_{}", "x".repeat(22), "x".repeat(59)),
    );
    let s = format!("glpat-{}", r.pick(URLSAFE, 20));
    add(
        "BWK-SECRET-GITLAB-TOKEN",
        format!("GITLAB_TOKEN={s}"),
        s,
        "GITLAB_TOKEN=glpat-xxxxxxxxxxxxxxxxxxxx".into(),
    );
    let s = format!("ATBB{}", r.pick(ALNUM, 32));
    add(
        "BWK-SECRET-BITBUCKET-APP-PASSWORD",
        format!("BITBUCKET_APP_PASSWORD={s}"),
        s,
        format!("BITBUCKET_APP_PASSWORD=ATBB{}", "x".repeat(32)),
    );
    let s = format!("ATATT3xFfGF0{}", r.pick(URLSAFE, 180));
    add(
        "BWK-SECRET-ATLASSIAN-TOKEN",
        format!("JIRA_API_TOKEN={s}"),
        s,
        format!("JIRA_API_TOKEN=ATATT3{}", "x".repeat(186)),
    );
    let s = format!("npm_{}", r.pick(ALNUM, 36));
    add(
        "BWK-SECRET-NPM-TOKEN",
        format!("//registry.npmjs.org/:_authToken={s}"),
        s,
        format!("//registry.npmjs.org/:_authToken=npm_{}", "x".repeat(36)),
    );
    let s = format!("pypi-AgEIcHlwaS5vcmc{}", r.pick(URLSAFE, 150));
    add(
        "BWK-SECRET-PYPI-TOKEN",
        format!("password = {s}"),
        s,
        "password = pypi-AgEIcHlwaS5vcmcxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            .into(),
    );
    let s = format!("dckr_pat_{}", r.pick(URLSAFE, 27));
    add(
        "BWK-SECRET-DOCKERHUB-TOKEN",
        format!("DOCKERHUB_TOKEN={s}"),
        s,
        format!("DOCKERHUB_TOKEN=dckr_pat_{}", "x".repeat(27)),
    );
    let s = format!("PMAK-{}-{}", r.pick(HEX, 24), r.pick(HEX, 34));
    add(
        "BWK-SECRET-POSTMAN-KEY",
        format!("POSTMAN_API_KEY={s}"),
        s,
        format!("POSTMAN_API_KEY=PMAK-{}-{}", "0".repeat(24), "0".repeat(34)),
    );
    let s = format!("figd_{}", r.pick(URLSAFE, 40));
    add(
        "BWK-SECRET-FIGMA-TOKEN",
        format!("FIGMA_TOKEN={s}"),
        s,
        format!("FIGMA_TOKEN=figd_{}", "x".repeat(40)),
    );
    let s = format!(
        "xoxb-{}-{}-{}",
        r.pick(DIGITS, 11),
        r.pick(DIGITS, 13),
        r.pick(ALNUM, 24)
    );
    add(
        "BWK-SECRET-SLACK-TOKEN",
        format!("SLACK_BOT_TOKEN={s}"),
        s,
        "SLACK_BOT_TOKEN=xoxb-your-bot-token-here".into(),
    );
    let s = format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        r.pick(UPNUM, 8),
        r.pick(UPNUM, 8),
        r.pick(ALNUM, 24)
    );
    add("BWK-SECRET-SLACK-WEBHOOK", format!("webhook = \"{s}\""), s, "webhook = \"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\"".into());
    let id = format!("1{}", r.pick(DIGITS, 17));
    let s = format!(
        "{}.{}.{}",
        b64url(id.as_bytes()),
        r.pick(URLSAFE, 6),
        r.pick(URLSAFE, 38)
    );
    add(
        "BWK-SECRET-DISCORD-BOT-TOKEN",
        format!("DISCORD_TOKEN={s}"),
        s,
        format!(
            "DISCORD_TOKEN=MTk{}.{}.{}",
            "x".repeat(21),
            "x".repeat(6),
            "x".repeat(27)
        ),
    );
    let s = format!(
        "https://discord.com/api/webhooks/{}/{}",
        r.pick(DIGITS, 18),
        r.pick(URLSAFE, 68)
    );
    add(
        "BWK-SECRET-DISCORD-WEBHOOK",
        format!("url: {s}"),
        s,
        format!(
            "url: https://discord.com/api/webhooks/{}/{}",
            "1".repeat(18),
            "x".repeat(68)
        ),
    );
    let s = format!("{}:AA{}", r.pick(DIGITS, 10), r.pick(URLSAFE, 33));
    add(
        "BWK-SECRET-TELEGRAM-BOT-TOKEN",
        format!("TELEGRAM_BOT_TOKEN={s}"),
        s,
        format!("TELEGRAM_BOT_TOKEN=123456789:AA{}", "x".repeat(33)),
    );
    let s = format!("SK{}", r.pick(HEX, 32));
    add(
        "BWK-SECRET-TWILIO-API-KEY",
        format!("TWILIO_API_KEY={s}"),
        s,
        format!("TWILIO_API_KEY=SK{}", "0".repeat(32)),
    );
    let s = r.pick(HEX, 32);
    add(
        "BWK-SECRET-TWILIO-AUTH-TOKEN",
        format!("TWILIO_AUTH_TOKEN={s}"),
        s,
        format!("TWILIO_AUTH_TOKEN={}", "x".repeat(32)),
    );
    let s = format!("SG.{}.{}", r.pick(URLSAFE, 22), r.pick(URLSAFE, 43));
    add(
        "BWK-SECRET-SENDGRID-KEY",
        format!("SENDGRID_API_KEY={s}"),
        s,
        format!("SENDGRID_API_KEY=SG.{}.{}", "x".repeat(22), "x".repeat(43)),
    );
    let s = format!("key-{}", r.pick(HEX, 32));
    add(
        "BWK-SECRET-MAILGUN-KEY",
        format!("MAILGUN_API_KEY={s}"),
        s,
        format!("MAILGUN_API_KEY=key-{}", "0".repeat(32)),
    );
    let s = format!("{}-us21", r.pick(HEX, 32));
    add(
        "BWK-SECRET-MAILCHIMP-KEY",
        format!("MAILCHIMP_KEY={s}"),
        s,
        format!("MAILCHIMP_KEY={}-us21", "0".repeat(32)),
    );
    let s = format!("re_{}_{}", r.pick(ALNUM, 8), r.pick(ALNUM, 24));
    add(
        "BWK-SECRET-RESEND-KEY",
        format!("RESEND_API_KEY={s}"),
        s,
        format!("RESEND_API_KEY=re_{}_{}", "x".repeat(8), "x".repeat(24)),
    );
    let s = format!("xkeysib-{}-{}", r.pick(HEX, 64), r.pick(ALNUM, 16));
    add(
        "BWK-SECRET-BREVO-KEY",
        format!("BREVO_KEY={s}"),
        s,
        format!("BREVO_KEY=xkeysib-{}-{}", "0".repeat(64), "x".repeat(16)),
    );
    let s = format!("AAAA{}:APA91b{}", r.pick(URLSAFE, 7), r.pick(URLSAFE, 134));
    add(
        "BWK-SECRET-FIREBASE-FCM-KEY",
        format!("server_key = \"{s}\""),
        s,
        format!(
            "server_key = \"AAAA{}:APA91b{}\"",
            "x".repeat(7),
            "x".repeat(134)
        ),
    );
    let s = format!("sk_live_{}", r.pick(ALNUM, 24));
    add(
        "BWK-SECRET-STRIPE-KEY",
        format!("Stripe.api_key = \"{s}\""),
        s,
        format!("Stripe.api_key = \"sk_live_{}\"", "x".repeat(24)),
    );
    let s = format!("whsec_{}", r.pick(ALNUM, 32));
    add(
        "BWK-SECRET-STRIPE-WEBHOOK-SECRET",
        format!("STRIPE_WEBHOOK_SECRET={s}"),
        s,
        format!("STRIPE_WEBHOOK_SECRET=whsec_{}", "x".repeat(32)),
    );
    let s = format!("EAAA{}", r.pick(URLSAFE, 60));
    add(
        "BWK-SECRET-SQUARE-TOKEN",
        format!("SQUARE_ACCESS_TOKEN={s}"),
        s,
        format!("SQUARE_ACCESS_TOKEN=EAAA{}", "x".repeat(60)),
    );
    let s = format!(
        "access_token$production${}${}",
        r.pick("abcdefghijklmnopqrstuvwxyz0123456789", 16),
        r.pick(HEX, 32)
    );
    add(
        "BWK-SECRET-BRAINTREE-TOKEN",
        format!("BT_TOKEN={s}"),
        s,
        format!(
            "BT_TOKEN=access_token$production${}${}",
            "x".repeat(16),
            "0".repeat(32)
        ),
    );
    let s = format!("shpat_{}", r.pick(HEX, 32));
    add(
        "BWK-SECRET-SHOPIFY-TOKEN",
        format!("SHOPIFY_TOKEN={s}"),
        s,
        format!("SHOPIFY_TOKEN=shpat_{}", "0".repeat(32)),
    );
    let s = format!("lin_api_{}", r.pick(ALNUM, 40));
    add(
        "BWK-SECRET-LINEAR-KEY",
        format!("LINEAR_API_KEY={s}"),
        s,
        format!("LINEAR_API_KEY=lin_api_{}", "x".repeat(40)),
    );
    let s = format!("ntn_{}", r.pick(ALNUM, 46));
    add(
        "BWK-SECRET-NOTION-TOKEN",
        format!("NOTION_TOKEN={s}"),
        s,
        format!("NOTION_TOKEN=ntn_{}", "x".repeat(46)),
    );
    let s = format!("pat{}.{}", r.pick(ALNUM, 14), r.pick(HEX, 64));
    add(
        "BWK-SECRET-AIRTABLE-TOKEN",
        format!("AIRTABLE_TOKEN={s}"),
        s,
        format!("AIRTABLE_TOKEN=pat{}.{}", "x".repeat(14), "0".repeat(64)),
    );
    let s = r.pick(HEX, 32);
    add(
        "BWK-SECRET-DATADOG-KEY",
        format!("DD_API_KEY={s}"),
        s,
        format!("DD_API_KEY={}", "0".repeat(32)),
    );
    let s = format!("NRAK-{}", r.pick(UPNUM, 27));
    add(
        "BWK-SECRET-NEWRELIC-KEY",
        format!("NEW_RELIC_API_KEY={s}"),
        s,
        format!("NEW_RELIC_API_KEY=NRAK-{}", "X".repeat(27)),
    );
    let s = format!("sntrys_{}", r.pick(ALNUM, 80));
    add(
        "BWK-SECRET-SENTRY-TOKEN",
        format!("SENTRY_AUTH_TOKEN={s}"),
        s,
        format!("SENTRY_AUTH_TOKEN=sntrys_{}", "x".repeat(80)),
    );
    let s = r.pick(ALNUM, 20);
    add(
        "BWK-SECRET-PAGERDUTY-KEY",
        format!("PAGERDUTY_TOKEN=\"{s}\""),
        s,
        "PAGERDUTY_TOKEN=\"your_pagerduty_token\"".into(),
    );
    let s = format!("glsa_{}_{}", r.pick(ALNUM, 32), r.pick(HEX, 8));
    add(
        "BWK-SECRET-GRAFANA-TOKEN",
        format!("GRAFANA_TOKEN={s}"),
        s,
        format!("GRAFANA_TOKEN=glsa_{}_{}", "x".repeat(32), "0".repeat(8)),
    );
    let s = format!(
        "AGE-SECRET-KEY-1{}",
        r.pick("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)
    );
    add(
        "BWK-SECRET-AGE-KEY",
        format!("# key\n{s}"),
        s,
        format!("AGE-SECRET-KEY-1{}", "Q".repeat(58)),
    );
    v
}

#[test]
fn every_format_positive_and_negative() {
    let cases = cases();
    let distinct: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.0).collect();
    assert!(distinct.len() >= 60, "{} formats", distinct.len());
    for (rule, line, secret, neg) in &cases {
        positive(rule, line, secret);
        negative(rule, neg);
    }
}

#[test]
fn stripe_and_sandbox_tokens_are_low() {
    let mut r = rng(11);
    let test_key = format!("sk_test_{}", r.pick(ALNUM, 24));
    let f = positive(
        "BWK-SECRET-STRIPE-TEST-KEY",
        &format!("STRIPE_KEY={test_key}"),
        &test_key,
    );
    assert_eq!(f.severity, Severity::Low);
    negative("BWK-SECRET-STRIPE-KEY", &format!("STRIPE_KEY={test_key}"));
    negative(
        "BWK-SECRET-STRIPE-TEST-KEY",
        "STRIPE_KEY=sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    );
    let bt = format!(
        "access_token$sandbox${}${}",
        r.pick("abcdefghijklmnopqrstuvwxyz0123456789", 16),
        r.pick(HEX, 32)
    );
    let f = positive("BWK-SECRET-BRAINTREE-TOKEN", &format!("t={bt}"), &bt);
    assert_eq!(f.severity, Severity::Low);
    let live = format!("sk_live_{}", r.pick(ALNUM, 30));
    let f = positive("BWK-SECRET-STRIPE-KEY", &format!("k = '{live}'"), &live);
    assert_eq!(f.severity, Severity::Critical);
}

#[test]
fn github_checksum_raises_confidence() {
    let mut r = rng(3);
    let random30 = r.pick(ALNUM, 30);
    let good = format!("ghp_{random30}{}", base62(crc32(random30.as_bytes())));
    let f = positive("BWK-SECRET-GITHUB-TOKEN", &format!("t={good}"), &good);
    assert_eq!(f.confidence, Confidence::High);
    let bad = format!("ghp_{random30}{}", "Zz9Yy8");
    let f = positive("BWK-SECRET-GITHUB-TOKEN", &format!("t={bad}"), &bad);
    assert_eq!(f.confidence, Confidence::Medium);
}

#[test]
fn openai_legacy_and_shaped() {
    let mut r = rng(5);
    let legacy = format!("sk-{}T3BlbkFJ{}", r.pick(ALNUM, 20), r.pick(ALNUM, 20));
    positive(
        "BWK-SECRET-OPENAI-KEY",
        &format!("OPENAI_API_KEY={legacy}"),
        &legacy,
    );
    negative(
        "BWK-SECRET-OPENAI-KEY",
        "model = 'sk-learn-classifier'; task-runner --disk-usage",
    );
}

#[test]
fn aws_secret_next_to_key_id() {
    let mut r = rng(9);
    let id = format!("AKIA{}", r.pick(BASE32, 16));
    let secret = r.pick(B64, 40);
    let text = format!("[default]\nkey_id = {id}\nsecret = {secret}\n");
    let f = positive("BWK-SECRET-AWS-SECRET-KEY", &text, &secret);
    assert_eq!(f.severity, Severity::Critical);
    positive("BWK-SECRET-AWS-ACCESS-KEY", &text, &id);
    // A 40-character hex digest beside a key id is not a secret key.
    let digest = r.pick(HEX, 40);
    negative(
        "BWK-SECRET-AWS-SECRET-KEY",
        &format!("key_id = {id}\nsha1 = {digest}\n"),
    );
}

fn pem_body(r: &mut Rng, lines: usize) -> String {
    (0..lines)
        .map(|_| r.pick(B64, 64))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn private_keys() {
    let mut r = rng(13);
    let body = pem_body(&mut r, 12);
    let text = format!(
        "key = \"\"\"\n-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n\"\"\"\n"
    );
    let f = positive("BWK-SECRET-PRIVATE-KEY", &text, &body[..64]);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(
        f.location,
        Location::File {
            path: "src/config.py".into(),
            line: 2,
            column: 1
        }
    );
    let enc = format!(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{body}\n-----END ENCRYPTED PRIVATE KEY-----\n"
    );
    assert_eq!(
        positive("BWK-SECRET-PRIVATE-KEY", &enc, &body[..64]).severity,
        Severity::High
    );
    let ssh =
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----");
    positive("BWK-SECRET-PRIVATE-KEY", &ssh, &body[..64]);
    // Code that looks for the header, and a truncated documentation key.
    negative(
        "BWK-SECRET-PRIVATE-KEY",
        "if line.starts_with(\"-----BEGIN RSA PRIVATE KEY-----\") {\n    found = true;\n}\n",
    );
    negative(
        "BWK-SECRET-PRIVATE-KEY",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC...\n-----END PRIVATE KEY-----\n",
    );
    negative(
        "BWK-SECRET-PRIVATE-KEY",
        "-----BEGIN PRIVATE KEY-----\n<your private key here>\n-----END PRIVATE KEY-----\n",
    );
}

#[test]
fn gcp_service_account_json() {
    let mut r = rng(17);
    let body: String = (0..20)
        .map(|_| r.pick(B64, 64))
        .collect::<Vec<_>>()
        .join("\\n");
    let json = format!(
        "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"acme-prod\",\n  \"private_key_id\": \"{}\",\n  \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n\",\n  \"client_email\": \"svc@acme-prod.iam.gserviceaccount.com\"\n}}\n",
        r.pick(HEX, 40)
    );
    let findings = scan_secrets("sa.json", &json);
    assert_eq!(
        rules(&findings),
        vec!["BWK-SECRET-GCP-SERVICE-ACCOUNT"],
        "{findings:#?}"
    );
    assert!(!findings[0].snippet.contains(&body[..40]));
    negative(
        "BWK-SECRET-GCP-SERVICE-ACCOUNT",
        "{\"type\": \"service_account\", \"private_key\": \"-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----\\n\"}",
    );
}

fn jwt(header: &str, payload: &str, r: &mut Rng) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.as_bytes()),
        b64url(payload.as_bytes()),
        r.pick(URLSAFE, 43)
    )
}

#[test]
fn jwts() {
    let mut r = rng(19);
    let t = jwt(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"sub":"u-8812","exp":1893456000}"#,
        &mut r,
    );
    let f = positive("BWK-SECRET-JWT", &format!("Authorization: Bearer {t}"), &t);
    assert_eq!(f.severity, Severity::Medium);
    let svc = jwt(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"iss":"supabase","role":"service_role"}"#,
        &mut r,
    );
    assert_eq!(
        positive("BWK-SECRET-JWT", &format!("SUPABASE_KEY={svc}"), &svc).severity,
        Severity::Critical
    );
    // jwt.io's example, and base64 segments that are not a JOSE header.
    let example = jwt(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"sub":"1234567890","name":"John Doe","iat":1516239022}"#,
        &mut r,
    );
    negative("BWK-SECRET-JWT", &format!("token = \"{example}\""));
    let readme = jwt(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"some":"payload"}"#,
        &mut r,
    );
    negative(
        "BWK-SECRET-JWT",
        &format!(">>> jwt.encode(...)\n'{readme}'"),
    );
    let not_jose = jwt(r#"{"theme":"dark"}"#, r#"{"a":1}"#, &mut r);
    negative("BWK-SECRET-JWT", &format!("x = '{not_jose}'"));
}

#[test]
fn database_urls() {
    let f = positive(
        "BWK-SECRET-DATABASE-URL",
        "DATABASE_URL=postgres://app:Xk29vPq7Lm@db.prod-eu1.acme.net:5432/app",
        "Xk29vPq7Lm",
    );
    assert_eq!(f.severity, Severity::High);
    positive(
        "BWK-SECRET-DATABASE-URL",
        "uri = 'mongodb+srv://svc:Q7pZt2Lw9x@cluster0.a1b2c.mongodb.net/prod'",
        "Q7pZt2Lw9x",
    );
    positive(
        "BWK-SECRET-DATABASE-URL",
        "REDIS_URL=redis://:hN3kVt8Qa1@cache.internal.acme.io:6379/0",
        "hN3kVt8Qa1",
    );
    positive(
        "BWK-SECRET-DATABASE-URL",
        "amqp://worker:T4kq9ZpW2m@mq.acme.io:5672/",
        "T4kq9ZpW2m",
    );
    positive(
        "BWK-SECRET-DATABASE-URL",
        "mysql://root:Vb7Kq2Wm9z@10.20.30.40/shop",
        "Vb7Kq2Wm9z",
    );
    let local = positive(
        "BWK-SECRET-DATABASE-URL",
        "postgres://app:Xk29vPq7Lm@localhost:5432/app",
        "Xk29vPq7Lm",
    );
    assert_eq!(local.severity, Severity::Low);
    negative(
        "BWK-SECRET-DATABASE-URL",
        "postgres://user:${DB_PASSWORD}@db.acme.net/app",
    );
    negative(
        "BWK-SECRET-DATABASE-URL",
        "postgres://user:password@db.acme.net/app",
    );
    negative(
        "BWK-SECRET-DATABASE-URL",
        "postgres://postgres:postgres@db/app",
    );
    negative(
        "BWK-SECRET-DATABASE-URL",
        "amqp://guest:guest@localhost:5672/",
    );
    negative(
        "BWK-SECRET-DATABASE-URL",
        "postgresql://user:<password>@host/db",
    );
    negative(
        "BWK-SECRET-DATABASE-URL",
        "see https://github.com/org/repo and postgres://db.acme.net/app",
    );
    negative("BWK-SECRET-DATABASE-URL", "postgres://a:b@c/d");
}

#[test]
fn generic_assignments() {
    positive(
        "BWK-SECRET-GENERIC",
        "db_password = \"Tr0ub4dor&3xK\"",
        "Tr0ub4dor&3xK",
    );
    positive(
        "BWK-SECRET-GENERIC",
        "  \"apiKey\": \"9fQ2mZ7xLk3Vb8Rt1Yp4\",",
        "9fQ2mZ7xLk3Vb8Rt1Yp4",
    );
    positive(
        "BWK-SECRET-GENERIC",
        "MY_SERVICE_TOKEN=f3Kq9LmZ2xVb7Rt1Yp4W",
        "f3Kq9LmZ2xVb7Rt1Yp4W",
    );
    positive(
        "BWK-SECRET-GENERIC",
        "export CLIENT_SECRET=a8Fq2Lm9Zx7Vb3Rt1Yp4Wq",
        "a8Fq2Lm9Zx7Vb3Rt1Yp4Wq",
    );
    for neg in [
        "password = \"changeme\"",
        "token = os.getenv(\"TOKEN\")",
        "password: \"${DB_PASSWORD}\"",
        "api_key = \"your-api-key-here\"",
        "secret = \"{{ secrets.API }}\"",
        "password_field = \"input#password-1\"",
        "max_tokens = \"4096\"",
        "token_url = \"https://oauth.acme.io/token/v2\"",
        "TOKEN=",
        "password = \"hunter\"",
        "secret_name = \"prod/db/password-2024\"",
        "auth_token = request.headers[\"Authorization\"]",
        "PASSWORD=$DB_PASSWORD",
        "api_key: \"xxxxxxxxxxxxxxxxxxxxxxxxxx\"",
        "const token = 'Bearer';",
        "csrf_token = \"a8Fq2Lm9Zx7Vb3Rt1Yp4Wq\"",
        "password = \"aaaaaaaaaaaaaaaa1\"",
        "\"access_token\":\"2YotnFZFEjr1zCsicMWpAA\",",
        "refresh_token = \"tGzv3JOkF0XG5Qx2TlKWIA\"",
    ] {
        negative("BWK-SECRET-GENERIC", neg);
    }
}

#[test]
fn test_paths_lower_generic_findings() {
    let findings = scan_secrets(
        "tests/fixtures/settings.py",
        "db_password = \"Tr0ub4dor&3xK\"\n",
    );
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].severity, Severity::Low);
    assert_eq!(findings[0].confidence, Confidence::Low);
}

#[test]
fn sentry_dsn_public_is_low_secret_is_high() {
    let mut r = rng(23);
    let public = r.pick(HEX, 32);
    let f = positive(
        "BWK-SECRET-SENTRY-DSN",
        &format!("SENTRY_DSN=https://{public}@o12345.ingest.sentry.io/678"),
        &public,
    );
    assert_eq!(f.severity, Severity::Low);
    let secret = r.pick(HEX, 32);
    let f = positive(
        "BWK-SECRET-SENTRY-DSN",
        &format!("sentry_dsn = 'https://{public}:{secret}@sentry.acme.io/9'"),
        &secret,
    );
    assert_eq!(f.severity, Severity::High);
}

#[test]
fn locations_are_one_based_character_columns() {
    let mut r = rng(29);
    let key = format!("ghp_{}", r.pick(ALNUM, 36));
    let text = format!("first line\n# café — ünïcode\nx = \"é{key}\"\n");
    let findings = scan_secrets("a/b.py", &text);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(
        findings[0].location,
        Location::File {
            path: "a/b.py".into(),
            line: 3,
            column: 7
        }
    );
}

#[test]
fn snippets_mask_every_secret_on_the_line() {
    let mut r = rng(31);
    let a = format!("ghp_{}", r.pick(ALNUM, 36));
    let b = format!("glpat-{}", r.pick(ALNUM, 20));
    let text = format!("tokens = [\"{a}\", \"{b}\"]\n");
    let findings = scan_secrets("x.py", &text);
    assert_eq!(findings.len(), 2, "{findings:#?}");
    for f in &findings {
        assert!(
            !f.snippet.contains(&a) && !f.snippet.contains(&b),
            "{}",
            f.snippet
        );
        assert!(f.snippet.starts_with("tokens = ["), "{}", f.snippet);
        assert!(f.snippet.chars().count() <= 200);
    }
    assert!(
        findings[0]
            .evidence
            .contains(&bulwark_detect::mask_secret(&a))
    );
}

#[test]
fn suppression_comments() {
    let mut r = rng(37);
    let key = format!("AKIA{}", r.pick(BASE32, 16));
    let same = format!("k = \"{key}\"  # bulwark-ignore: BWK-SECRET-AWS-ACCESS-KEY\n");
    assert!(scan_secrets("x.py", &same).is_empty());
    let above = format!("# bulwark-ignore\nk = \"{key}\"\n");
    assert!(scan_secrets("x.py", &above).is_empty());
    let other = format!("k = \"{key}\"  # bulwark-ignore: BWK-SECRET-JWT\n");
    assert_eq!(scan_secrets("x.py", &other).len(), 1);
    let two_up = format!("# bulwark-ignore\n\nk = \"{key}\"\n");
    assert_eq!(scan_secrets("x.py", &two_up).len(), 1);
}

#[test]
fn specific_format_wins_over_generic() {
    let mut r = rng(41);
    let t = jwt(
        r#"{"alg":"RS256","kid":"k1"}"#,
        r#"{"sub":"svc","aud":"api"}"#,
        &mut r,
    );
    let findings = scan_secrets("x.py", &format!("access_token = \"{t}\"\n"));
    assert_eq!(rules(&findings), vec!["BWK-SECRET-JWT"]);
    let key = format!("sk_live_{}", r.pick(ALNUM, 24));
    let findings = scan_secrets("x.py", &format!("stripe_secret_key = \"{key}\"\n"));
    assert_eq!(rules(&findings), vec!["BWK-SECRET-STRIPE-KEY"]);
    let url = "postgres://app:Xk29vPq7Lm@db.prod-eu1.acme.net/app";
    let findings = scan_secrets("x.py", &format!("db_password_url = \"{url}\"\n"));
    assert_eq!(rules(&findings), vec!["BWK-SECRET-DATABASE-URL"]);
}

#[test]
fn b64_helper_roundtrip() {
    assert_eq!(b64(b"hi"), "aGk=");
}
