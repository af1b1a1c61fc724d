//! Rate limits, in process: one GCRA budget (governor) per key × endpoint or tool.
//!
//! Keys are the principal when there is one, else the client address, so one
//! noisy caller cannot spend everyone's budget. A shared Redis backend for
//! replicas plugs in behind [`RateLimits`] later.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

type Keyed =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

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

    pub fn check(&self, key: &str) -> Verdict {
        match self.limiter.check_key(&key.to_string()) {
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

/// Every configured budget.
#[derive(Default)]
pub struct RateLimits {
    /// MCP requests per key (HTTP).
    pub mcp: Option<Budget>,
    /// Calls of one tool per key.
    pub tools: HashMap<String, Budget>,
}

impl RateLimits {
    /// Budgets from per-minute numbers; 0 turns a limit off.
    pub fn new(mcp_per_minute: u32, tools_per_minute: &HashMap<String, u32>) -> Arc<Self> {
        let limits = RateLimits {
            mcp: NonZeroU32::new(mcp_per_minute).map(Budget::per_minute),
            tools: tools_per_minute
                .iter()
                .filter_map(|(tool, n)| {
                    NonZeroU32::new(*n).map(|n| (tool.clone(), Budget::per_minute(n)))
                })
                .collect(),
        };
        Arc::new(limits)
    }

    pub fn check_tool(&self, tool: &str, key: &str) -> Option<Verdict> {
        self.tools.get(tool).map(|budget| budget.check(key))
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
                for budget in limits.tools.values() {
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
        for expected_remaining in [2, 1, 0] {
            assert_eq!(
                budget.check("alice"),
                Verdict::Allowed {
                    limit: 3,
                    remaining: expected_remaining
                }
            );
        }
        let Verdict::Limited { limit, retry_after } = budget.check("alice") else {
            panic!("the fourth call in a minute must be limited")
        };
        assert_eq!(limit, 3);
        // One token refills every 20 s.
        assert!(
            retry_after > Duration::from_secs(15) && retry_after <= Duration::from_secs(20),
            "{retry_after:?}"
        );
        // Another key has its own budget.
        assert!(matches!(budget.check("bob"), Verdict::Allowed { .. }));
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limits = RateLimits::new(
            0,
            &HashMap::from([("t".to_string(), 0), ("u".to_string(), 1)]),
        );
        assert!(limits.mcp.is_none());
        assert!(limits.check_tool("t", "k").is_none());
        assert!(matches!(
            limits.check_tool("u", "k"),
            Some(Verdict::Allowed { .. })
        ));
        assert!(matches!(
            limits.check_tool("u", "k"),
            Some(Verdict::Limited { .. })
        ));
    }
}
