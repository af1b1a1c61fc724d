//! Rate limits: one GCRA budget per key × endpoint or tool.
//!
//! Keys are the principal when there is one, else the client address, so one
//! noisy caller cannot spend everyone's budget. Budgets live in process
//! (governor) by default, or in Redis so that replicas share them: one Lua
//! script per check does the GCRA step atomically, on Redis's own clock.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

type Keyed = RateLimiter<
    CallerKey,
    DefaultKeyedStateStore<CallerKey>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// Whose budget a request spends: the principal when there is one, else the
/// client address. Kept structured rather than formatted because every
/// request builds one; only the Redis backend needs the text form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallerKey {
    Principal(String),
    Ip(IpAddr),
    /// In-process calls (stdio, `bulwark tools call`): one caller.
    Local,
    /// An HTTP request whose peer address is not known.
    Unknown,
}

impl fmt::Display for CallerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallerKey::Principal(id) => write!(f, "principal:{id}"),
            CallerKey::Ip(ip) => write!(f, "ip:{ip}"),
            CallerKey::Local => f.write_str("local"),
            CallerKey::Unknown => f.write_str("unknown"),
        }
    }
}

/// Per-minute budgets of the authorization server's endpoints, per client
/// address: the LimaCharlie MCP server's defaults.
pub const DEFAULT_ENDPOINT_BUDGETS: &[(&str, u32)] = &[
    ("authorize", 10),
    ("oauth_callback", 10),
    ("mfa_verify", 10),
    ("token", 20),
    ("register", 5),
    ("revoke", 10),
    ("introspect", 30),
];

/// Whether a request may go ahead, with what the `RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed { limit: u32, remaining: u32 },
    Limited { limit: u32, retry_after: Duration },
}

/// A per-minute budget per key.
pub struct Budget {
    limiter: Keyed,
    per_minute: u32,
}

impl Budget {
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Budget {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute))
                .with_middleware::<StateInformationMiddleware>(),
            per_minute: per_minute.get(),
        }
    }

    pub fn check(&self, key: &CallerKey) -> Verdict {
        match self.limiter.check_key(key) {
            Ok(state) => Verdict::Allowed {
                limit: self.per_minute,
                remaining: state.remaining_burst_capacity(),
            },
            Err(not_until) => Verdict::Limited {
                limit: self.per_minute,
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            },
        }
    }

    /// Forget keys whose budget has refilled, so memory stays bounded.
    fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// GCRA in one atomic step. KEYS[1]: the budget's key. ARGV: emission
/// interval (µs per token), burst (tokens). The theoretical arrival time (TAT)
/// is stored in µs of Redis's clock, so replicas' clocks do not matter.
/// Returns {allowed (0/1), remaining tokens, µs until the next token}.
const GCRA_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, 0, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allow_at) / interval), 0}
"#;

/// Budgets kept in Redis, shared by every bulwark pointed at it.
pub struct RedisBudgets {
    connection: redis::aio::ConnectionManager,
    script: redis::Script,
    /// Let tool calls and MCP requests through (with a warning) when Redis
    /// cannot be reached.
    fail_open: bool,
    /// The same for the authorization server's endpoints; closed by default,
    /// because an open login endpoint is what a brute-force attack waits for.
    endpoints_fail_open: bool,
}

impl RedisBudgets {
    pub async fn connect(
        url: &str,
        fail_open: bool,
        endpoints_fail_open: bool,
    ) -> Result<Self, String> {
        let client = redis::Client::open(url)
            .map_err(|e| format!("`rate_limit.redis_url` {url} is not a Redis URL: {e}"))?;
        let connection = client
            .get_connection_manager()
            .await
            .map_err(|e| format!("cannot reach Redis at {url} for rate limits: {e}; start it or set rate_limit.backend = \"local\""))?;
        Ok(RedisBudgets {
            connection,
            script: redis::Script::new(GCRA_SCRIPT),
            fail_open,
            endpoints_fail_open,
        })
    }

    async fn check(
        &self,
        scope: &str,
        key: &CallerKey,
        per_minute: u32,
        fail_open: bool,
    ) -> Verdict {
        let interval_us = 60_000_000u64 / u64::from(per_minute.max(1));
        let mut connection = self.connection.clone();
        let result: redis::RedisResult<(i64, i64, i64)> = self
            .script
            .key(format!("bulwark:rl:{scope}:{key}"))
            .arg(interval_us)
            .arg(per_minute)
            .invoke_async(&mut connection)
            .await;
        match result {
            Ok((1, remaining, _)) => Verdict::Allowed {
                limit: per_minute,
                remaining: remaining.max(0) as u32,
            },
            Ok((_, _, wait_us)) => Verdict::Limited {
                limit: per_minute,
                retry_after: Duration::from_micros(wait_us.max(0) as u64),
            },
            Err(err) if fail_open => {
                tracing::warn!(
                    "rate limit not checked, Redis failed: {err}; letting the call through (rate_limit.fail_open)"
                );
                Verdict::Allowed {
                    limit: per_minute,
                    remaining: 0,
                }
            }
            Err(err) => {
                tracing::warn!(
                    "rate limit not checked, Redis failed: {err}; refusing the call (rate_limit.fail_open = false)"
                );
                Verdict::Limited {
                    limit: per_minute,
                    retry_after: Duration::from_secs(1),
                }
            }
        }
    }
}

/// Budgets by name from per-minute numbers; 0 leaves a name without one.
fn budgets(per_minute: &HashMap<String, u32>) -> HashMap<String, Budget> {
    per_minute
        .iter()
        .filter_map(|(name, n)| NonZeroU32::new(*n).map(|n| (name.clone(), Budget::per_minute(n))))
        .collect()
}

/// Every configured budget.
#[derive(Default)]
pub struct RateLimits {
    /// MCP requests per key (HTTP).
    pub mcp: Option<Budget>,
    /// Calls of one tool per key.
    pub tools: HashMap<String, Budget>,
    /// Requests to one authorization-server endpoint (`token`, `register`, ...)
    /// per client address.
    pub endpoints: HashMap<String, Budget>,
    /// When set, budgets are kept here instead of in this process.
    pub redis: Option<RedisBudgets>,
}

impl RateLimits {
    /// Budgets from per-minute numbers; 0 turns a limit off.
    pub fn new(mcp_per_minute: u32, tools_per_minute: &HashMap<String, u32>) -> Arc<Self> {
        let limits = RateLimits {
            mcp: NonZeroU32::new(mcp_per_minute).map(Budget::per_minute),
            tools: budgets(tools_per_minute),
            endpoints: HashMap::new(),
            redis: None,
        };
        Arc::new(limits)
    }

    /// Per-minute budgets for the authorization server's endpoints; 0 turns
    /// one off.
    pub fn with_endpoints(mut self: Arc<Self>, per_minute: &HashMap<String, u32>) -> Arc<Self> {
        match Arc::get_mut(&mut self) {
            Some(limits) => limits.endpoints = budgets(per_minute),
            None => tracing::error!("rate limits already shared; endpoint budgets not installed"),
        }
        self
    }

    /// Keep the budgets in Redis instead of this process.
    pub fn with_redis(mut self: Arc<Self>, redis: RedisBudgets) -> Arc<Self> {
        match Arc::get_mut(&mut self) {
            Some(limits) => limits.redis = Some(redis),
            None => tracing::error!("rate limits already shared; Redis backend not installed"),
        }
        self
    }

    /// The MCP request budget for `key`, if one is configured.
    pub async fn check_mcp(&self, key: &CallerKey) -> Option<Verdict> {
        let budget = self.mcp.as_ref()?;
        Some(self.spend(budget, || "mcp".into(), key, false).await)
    }

    /// The budget of one tool for `key`, if one is configured.
    pub async fn check_tool(&self, tool: &str, key: &CallerKey) -> Option<Verdict> {
        let budget = self.tools.get(tool)?;
        Some(
            self.spend(budget, || format!("tool:{tool}"), key, false)
                .await,
        )
    }

    /// The budget of one authorization-server endpoint for `key`, if one is
    /// configured.
    pub async fn check_endpoint(&self, endpoint: &str, key: &CallerKey) -> Option<Verdict> {
        let budget = self.endpoints.get(endpoint)?;
        Some(
            self.spend(budget, || format!("endpoint:{endpoint}"), key, true)
                .await,
        )
    }

    /// One unit of `budget` for `key`, in Redis when it holds the budgets
    /// (under `scope`, built only then), else in this process. `endpoint`
    /// picks which Redis-outage policy applies.
    async fn spend(
        &self,
        budget: &Budget,
        scope: impl FnOnce() -> String,
        key: &CallerKey,
        endpoint: bool,
    ) -> Verdict {
        match &self.redis {
            Some(redis) => {
                let fail_open = if endpoint {
                    redis.endpoints_fail_open
                } else {
                    redis.fail_open
                };
                redis
                    .check(&scope(), key, budget.per_minute, fail_open)
                    .await
            }
            None => budget.check(key),
        }
    }

    /// Prune idle keys every minute for as long as the limits are in use.
    pub fn spawn_pruner(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(limits) = weak.upgrade() else { return };
                if let Some(mcp) = &limits.mcp {
                    mcp.prune();
                }
                for budget in limits.tools.values().chain(limits.endpoints.values()) {
                    budget.prune();
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_per_key_and_say_when_to_retry() {
        let budget = Budget::per_minute(NonZeroU32::new(3).unwrap());
        let alice = CallerKey::Principal("alice".into());
        for expected_remaining in [2, 1, 0] {
            assert_eq!(
                budget.check(&alice),
                Verdict::Allowed {
                    limit: 3,
                    remaining: expected_remaining
                }
            );
        }
        let Verdict::Limited { limit, retry_after } = budget.check(&alice) else {
            panic!("the fourth call in a minute must be limited")
        };
        assert_eq!(limit, 3);
        // One token refills every 20 s.
        assert!(
            retry_after > Duration::from_secs(15) && retry_after <= Duration::from_secs(20),
            "{retry_after:?}"
        );
        // Another key has its own budget.
        assert!(matches!(
            budget.check(&CallerKey::Principal("bob".into())),
            Verdict::Allowed { .. }
        ));
        // So does an address, even one that prints like a principal's key.
        assert!(matches!(
            budget.check(&CallerKey::Ip("127.0.0.1".parse().unwrap())),
            Verdict::Allowed { .. }
        ));
    }

    #[tokio::test]
    async fn zero_turns_a_limit_off() {
        let k = CallerKey::Local;
        let limits = RateLimits::new(
            0,
            &HashMap::from([("t".to_string(), 0), ("u".to_string(), 1)]),
        );
        assert!(limits.mcp.is_none());
        assert!(limits.check_mcp(&k).await.is_none());
        assert!(limits.check_tool("t", &k).await.is_none());
        assert!(matches!(
            limits.check_tool("u", &k).await,
            Some(Verdict::Allowed { .. })
        ));
        assert!(matches!(
            limits.check_tool("u", &k).await,
            Some(Verdict::Limited { .. })
        ));
    }
}
