//! Token-bucket rate limiting in cost points, shared through Redis when it is
//! configured, in process otherwise.
//!
//! A bucket holds at most `capacity` points and refills at `restore` points
//! per second. A request is let through when the bucket holds at least its
//! cost (and at least one point), and then pays the cost. With Redis, one Lua
//! script reads, refills and charges atomically using the Redis server's
//! clock, so every node sees one bucket. If Redis fails, the node falls back
//! to its own buckets (logged) rather than refusing or answering errors.

use std::{
    net::{IpAddr, Ipv6Addr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use moka::sync::Cache;
use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

/// A bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Most points the bucket holds.
    pub capacity: u32,
    /// Points restored per second.
    pub restore_per_second: f64,
}

impl Budget {
    /// Parses `CAPACITY,RESTORE_PER_SECOND` (e.g. `1000,50` or `5,0.05`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (c, r) = s
            .split_once(',')
            .ok_or_else(|| "expected CAPACITY,RESTORE_PER_SECOND or `off`".to_owned())?;
        let capacity = c
            .trim()
            .parse::<u32>()
            .map_err(|e| format!("capacity: {e}"))?;
        let restore_per_second = r
            .trim()
            .parse::<f64>()
            .map_err(|e| format!("restore rate: {e}"))?;
        if capacity == 0 || !(restore_per_second > 0.0 && restore_per_second.is_finite()) {
            return Err("capacity and restore rate must be positive".into());
        }
        Ok(Self {
            capacity,
            restore_per_second,
        })
    }
}

/// The part of a client address that names one client, for its buckets:
/// an IPv4 address whole, an IPv6 address by its /64 (one subscriber's
/// network, in which a client picks addresses at will), an IPv4 address
/// mapped into IPv6 as IPv4. Empty when the address is unknown.
pub fn address_key(ip: Option<IpAddr>) -> String {
    match ip.map(|ip| ip.to_canonical()) {
        None => String::new(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let network = u128::from(v6) & !(u128::MAX >> 64);
            format!("{}/64", Ipv6Addr::from(network))
        }
    }
}

/// The outcome of charging a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Whether the request may proceed (and was charged).
    pub allowed: bool,
    /// Points charged (0 when refused).
    pub charged: u32,
    /// Points left in the bucket.
    pub remaining: f64,
    /// The bucket's budget.
    pub budget: Budget,
    /// When refused: how long until the bucket holds enough
    /// (`None` if the cost exceeds the whole capacity).
    pub retry_after: Option<Duration>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Refills `tokens` for `elapsed` and charges `cost` if it fits.
fn charge_bucket(tokens: f64, elapsed_secs: f64, budget: Budget, cost: u32) -> (bool, f64) {
    let tokens =
        (tokens + elapsed_secs * budget.restore_per_second).min(f64::from(budget.capacity));
    let need = f64::from(cost.max(1));
    if tokens >= need {
        (true, tokens - f64::from(cost))
    } else {
        (false, tokens)
    }
}

fn decide(allowed: bool, remaining: f64, budget: Budget, cost: u32) -> Decision {
    let need = f64::from(cost.max(1));
    let retry_after = (!allowed && need <= f64::from(budget.capacity)).then(|| {
        Duration::from_secs_f64(((need - remaining) / budget.restore_per_second).max(0.001))
    });
    Decision {
        allowed,
        charged: if allowed { cost } else { 0 },
        remaining,
        budget,
        retry_after,
    }
}

// KEYS[1] bucket; ARGV capacity, restore per second, cost, ttl ms.
// Fractional points are kept as strings: Redis truncates Lua numbers.
const SCRIPT: &str = r"
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1])
local ts = tonumber(v[2])
if tokens == nil or ts == nil then tokens = capacity; ts = now end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate / 1000)
local need = math.max(cost, 1)
local allowed = 0
if tokens >= need then tokens = tokens - cost; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return {allowed, tostring(tokens)}
";

/// Rate limiter over named buckets.
pub struct RateLimiter {
    local: Cache<String, Arc<Mutex<Bucket>>>,
    redis: Option<(redis::Client, String)>,
    conn: OnceCell<ConnectionManager>,
    script: redis::Script,
    /// After a Redis failure, buckets stay local until this instant, so a
    /// dead Redis costs one failed attempt per interval, not one per request.
    down_until: Mutex<Option<Instant>>,
}

/// How long the limiter stays local after Redis failed.
const RETRY_REDIS_AFTER: Duration = Duration::from_secs(5);

impl RateLimiter {
    /// A limiter keeping buckets in process.
    pub fn local() -> Self {
        Self {
            local: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(3600))
                .build(),
            redis: None,
            conn: OnceCell::new(),
            script: redis::Script::new(SCRIPT),
            down_until: Mutex::new(None),
        }
    }

    /// A limiter keeping buckets in Redis under keys starting with `prefix`.
    pub fn shared(client: redis::Client, prefix: String) -> Self {
        Self {
            redis: Some((client, prefix)),
            ..Self::local()
        }
    }

    /// Charges `cost` points to bucket `key` under `budget`.
    pub async fn charge(&self, key: &str, budget: Budget, cost: u32) -> Decision {
        if let Some((client, prefix)) = &self.redis
            && self.redis_up()
        {
            match self.charge_redis(client, prefix, key, budget, cost).await {
                Ok(d) => return d,
                Err(e) => self.redis_failed(&e),
            }
        }
        self.charge_local(key, budget, cost)
    }

    fn charge_local(&self, key: &str, budget: Budget, cost: u32) -> Decision {
        let bucket = self.local.get_with_by_ref(key, || {
            Arc::new(Mutex::new(Bucket {
                tokens: f64::from(budget.capacity),
                at: Instant::now(),
            }))
        });
        let Ok(mut b) = bucket.lock() else {
            return decide(true, f64::from(budget.capacity), budget, cost);
        };
        let now = Instant::now();
        let (allowed, tokens) = charge_bucket(
            b.tokens,
            now.duration_since(b.at).as_secs_f64(),
            budget,
            cost,
        );
        b.tokens = tokens;
        b.at = now;
        decide(allowed, tokens, budget, cost)
    }

    async fn charge_redis(
        &self,
        client: &redis::Client,
        prefix: &str,
        key: &str,
        budget: Budget,
        cost: u32,
    ) -> redis::RedisResult<Decision> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(Duration::from_secs(1)))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(client.clone(), config).await
            })
            .await?;
        let mut conn = conn.clone();
        let ttl_ms = ((f64::from(budget.capacity) / budget.restore_per_second) * 1000.0)
            .ceil()
            .min(86_400_000.0) as u64
            + 1000;
        let (allowed, tokens): (i64, String) = self
            .script
            .key(format!("{prefix}rl:{key}"))
            .arg(budget.capacity)
            .arg(budget.restore_per_second)
            .arg(cost)
            .arg(ttl_ms)
            .invoke_async(&mut conn)
            .await?;
        let remaining = tokens.parse::<f64>().unwrap_or(0.0);
        Ok(decide(allowed == 1, remaining, budget, cost))
    }

    fn redis_up(&self) -> bool {
        self.down_until
            .lock()
            .map(|d| d.is_none_or(|t| Instant::now() >= t))
            .unwrap_or(true)
    }

    fn redis_failed(&self, e: &redis::RedisError) {
        tracing::warn!(
            error = %e,
            retry_in_secs = RETRY_REDIS_AFTER.as_secs(),
            "rate limiter: Redis unavailable, using this node's buckets"
        );
        if let Ok(mut d) = self.down_until.lock() {
            *d = Some(Instant::now() + RETRY_REDIS_AFTER);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Budget = Budget {
        capacity: 10,
        restore_per_second: 2.0,
    };

    #[test]
    fn buckets_charge_refill_and_cap() {
        assert_eq!(charge_bucket(10.0, 0.0, B, 4), (true, 6.0));
        assert_eq!(charge_bucket(3.0, 0.0, B, 4), (false, 3.0));
        assert_eq!(charge_bucket(3.0, 1.0, B, 4), (true, 1.0));
        assert_eq!(charge_bucket(0.0, 100.0, B, 0), (true, 10.0));
        assert_eq!(
            charge_bucket(0.5, 0.0, B, 0),
            (false, 0.5),
            "a free request still needs one point"
        );
        let d = decide(false, 3.0, B, 4);
        assert_eq!(d.retry_after, Some(Duration::from_millis(500)));
        assert_eq!(decide(false, 10.0, B, 11).retry_after, None);
    }

    #[test]
    fn budgets_parse() {
        assert_eq!(
            Budget::parse("1000, 50"),
            Ok(Budget {
                capacity: 1000,
                restore_per_second: 50.0
            })
        );
        assert!(Budget::parse("5,0.05").is_ok());
        assert!(Budget::parse("0,1").is_err());
        assert!(Budget::parse("10").is_err());
        assert!(Budget::parse("10,-1").is_err());
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let key = |s: &str| address_key(s.parse().ok());
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(address_key(None), "");
    }

    #[test]
    fn local_buckets_are_per_key() {
        let l = RateLimiter::local();
        assert!(l.charge_local("a", B, 10).allowed);
        assert!(!l.charge_local("a", B, 5).allowed);
        assert!(l.charge_local("b", B, 5).allowed);
    }
}
