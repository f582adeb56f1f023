//! The storefront response cache: whole GraphQL responses of anonymous catalog
//! queries, keyed by everything that shapes them (document, variables,
//! operation, channel, media type).
//!
//! Two tiers. A bounded in-process tier answers without any I/O; with Redis
//! (`EMPORIUM_REDIS_URL`) a shared tier behind it lets a node answer what
//! another node already computed.
//!
//! Freshness is by content, not by time alone. Each entry carries [`Tags`]:
//! the products it shows, and whether it lists products (membership may
//! change) or filters by availability. Catalog and stock changes become
//! [`Invalidation`]s in the outbox relay, which removes matching entries from
//! the shared tier and tells every node to drop them from its own. A TTL
//! bounds what changes outside emporium (hand-written SQL) could leave.
//!
//! Races are closed by epochs. A response is stored only if no invalidation
//! happened since the request started: the local tier checks its own
//! counter, the shared tier an invalidation counter in Redis, compared and
//! written in one script. An entry stored just before an invalidation
//! arrives is still removed by it.
//!
//! Redis trouble never fails a request: a failed call is logged, Redis is
//! left alone for a second, and requests are served from the database. The
//! local tier is trusted only while this node hears invalidations
//! ([`ResponseCache::set_linked`]); when the link comes back it starts empty.

use std::{
    collections::HashSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a Redis call may take before the cache gives up on it.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// How long Redis is left alone after a failure.
const BACKOFF: Duration = Duration::from_secs(1);

/// What a cached response contains, as far as invalidation cares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tags {
    /// Products shown (sorted, distinct).
    #[serde(rename = "p")]
    pub products: Vec<i64>,
    /// Lists products: any product change may change its membership or order.
    #[serde(rename = "l")]
    pub lists: bool,
    /// Filters by availability: any stock change may change its membership.
    #[serde(rename = "a")]
    pub availability: bool,
}

impl Tags {
    fn hit_by(&self, inv: &Invalidation) -> bool {
        inv.everything
            || (inv.lists && self.lists)
            || (inv.availability && self.availability)
            || inv
                .products
                .iter()
                .any(|p| self.products.binary_search(p).is_ok())
    }

    /// The Redis sets this entry is indexed under.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.products.iter().map(|p| format!("p:{p}")).collect();
        if self.lists {
            names.push("lists".into());
        }
        if self.availability {
            names.push("availability".into());
        }
        names
    }
}

/// What a change makes stale.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalidation {
    /// Entries showing these products.
    pub products: Vec<i64>,
    /// Entries listing products.
    pub lists: bool,
    /// Entries filtering by availability.
    pub availability: bool,
    /// Every entry.
    pub everything: bool,
}

impl Invalidation {
    /// Whether it drops nothing.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty() && !self.lists && !self.availability && !self.everything
    }

    fn names(&self) -> Vec<String> {
        Tags {
            products: self.products.clone(),
            lists: self.lists,
            availability: self.availability,
        }
        .names()
    }
}

/// Collects the tags of one response while its resolvers load data.
#[derive(Debug, Default)]
pub struct TagSink {
    inner: Mutex<(HashSet<i64>, bool, bool)>,
}

impl TagSink {
    fn with(&self, f: impl FnOnce(&mut (HashSet<i64>, bool, bool))) {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The response shows these products.
    pub fn products(&self, ids: impl IntoIterator<Item = i64>) {
        self.with(|t| t.0.extend(ids));
    }

    /// The response lists products.
    pub fn lists(&self) {
        self.with(|t| t.1 = true);
    }

    /// The response filters products by availability.
    pub fn availability(&self) {
        self.with(|t| t.2 = true);
    }

    /// The tags collected.
    pub fn tags(&self) -> Tags {
        let t = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut products: Vec<i64> = t.0.iter().copied().collect();
        products.sort_unstable();
        Tags {
            products,
            lists: t.1,
            availability: t.2,
        }
    }
}

/// A cached response body, what the operation cost (charged again on every
/// hit), and its tags.
struct Entry {
    body: Bytes,
    cost: u32,
    tags: Tags,
    operation: Option<Arc<str>>,
}

/// How an entry travels through Redis: this header line, then the body.
#[derive(Serialize, Deserialize)]
struct Header {
    c: u32,
    t: Tags,
    #[serde(default)]
    o: Option<String>,
}

/// A hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The response body.
    pub body: Bytes,
    /// What computing it cost.
    pub cost: u32,
    /// The operation's name, if it had one.
    pub operation: Option<Arc<str>>,
}

impl Entry {
    fn hit(&self) -> Hit {
        Hit {
            body: self.body.clone(),
            cost: self.cost,
            operation: self.operation.clone(),
        }
    }
}

/// Where a lookup stood when it missed, for [`ResponseCache::insert`].
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    local: u64,
    /// The shared invalidation counter, when Redis answered.
    shared: Option<u64>,
}

/// The two-tier response cache. Cheap to clone.
#[derive(Clone)]
pub struct ResponseCache {
    inner: Arc<Inner>,
}

struct Inner {
    local: Cache<Arc<str>, Arc<Entry>>,
    epoch: AtomicU64,
    linked: AtomicBool,
    ttl: Duration,
    redis: Option<Shared>,
}

/// The Redis tier.
struct Shared {
    client: redis::Client,
    prefix: String,
    conn: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    resting_until: Mutex<Option<Instant>>,
    store: redis::Script,
    drop: redis::Script,
}

// Stores an entry unless the invalidation counter moved since the request
// started. KEYS: counter, entry, all-entries set. ARGV: expected counter,
// entry hash, value, ttl seconds, set prefix, tag set names...
const STORE: &str = r"
local now = redis.call('GET', KEYS[1]) or '0'
if now ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[4])
for i = 6, #ARGV do
  local set = ARGV[5] .. ARGV[i]
  redis.call('SADD', set, ARGV[2])
  redis.call('EXPIRE', set, ARGV[4])
end
return 1
";

// Moves the counter and deletes the entries under the given sets (or all).
// KEYS: counter, all-entries set. ARGV: entry prefix, set prefix,
// everything (1/0), tag set names...
const DROP: &str = r"
redis.call('INCR', KEYS[1])
local sets = {}
if ARGV[3] == '1' then
  sets[1] = KEYS[2]
else
  for i = 4, #ARGV do sets[#sets + 1] = ARGV[2] .. ARGV[i] end
end
local n = 0
for _, set in ipairs(sets) do
  for _, h in ipairs(redis.call('SMEMBERS', set)) do
    n = n + redis.call('DEL', ARGV[1] .. h)
  end
  redis.call('DEL', set)
end
return n
";

impl ResponseCache {
    /// A cache whose local tier holds at most `max_bytes` of keys and bodies,
    /// entries living at most `ttl`; with `redis`, a shared tier under `prefix`.
    pub fn new(max_bytes: u64, ttl: Duration, redis: Option<(redis::Client, String)>) -> Self {
        let local = Cache::builder()
            .max_capacity(max_bytes)
            .time_to_live(ttl)
            .support_invalidation_closures()
            .weigher(|k: &Arc<str>, v: &Arc<Entry>| {
                u32::try_from(k.len() + v.body.len() + 8 * v.tags.products.len() + 96)
                    .unwrap_or(u32::MAX)
            })
            .build();
        let redis = redis.map(|(client, prefix)| Shared {
            client,
            prefix,
            conn: tokio::sync::Mutex::new(None),
            resting_until: Mutex::new(None),
            store: redis::Script::new(STORE),
            drop: redis::Script::new(DROP),
        });
        Self {
            inner: Arc::new(Inner {
                local,
                epoch: AtomicU64::new(0),
                // Without Redis there is nothing to hear from: always linked.
                linked: AtomicBool::new(redis.is_none()),
                ttl,
                redis,
            }),
        }
    }

    /// Whether this node hears invalidations, so its local tier can be trusted.
    pub fn is_linked(&self) -> bool {
        self.inner.linked.load(Ordering::Acquire)
    }

    /// Records whether this node hears invalidations. Either way the local
    /// tier starts over: what it holds may have missed some.
    pub fn set_linked(&self, linked: bool) {
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
        self.inner.local.invalidate_all();
        self.inner.linked.store(linked, Ordering::Release);
    }

    /// The cached response for `key` if this node holds it (no I/O).
    pub fn peek(&self, key: &str) -> Option<Hit> {
        if !self.is_linked() {
            return None;
        }
        self.inner.local.get(key).map(|e| e.hit())
    }

    /// The cached response for `key`: from this node, else from Redis.
    /// `None` with a ticket for [`insert`](Self::insert) on a miss; `None`
    /// without one when the cache cannot be used now.
    pub async fn get(&self, key: &str) -> Result<Hit, Option<Ticket>> {
        if !self.is_linked() {
            return Err(None);
        }
        if let Some(e) = self.inner.local.get(key) {
            return Ok(e.hit());
        }
        let local = self.inner.epoch.load(Ordering::Acquire);
        let Some(shared) = &self.inner.redis else {
            return Err(Some(Ticket {
                local,
                shared: None,
            }));
        };
        let digest = digest(key);
        let found: Option<(Option<Vec<u8>>, Option<u64>)> = shared
            .call(|mut conn| async move {
                redis::cmd("MGET")
                    .arg(shared.entry_key(&digest))
                    .arg(shared.counter_key())
                    .query_async(&mut conn)
                    .await
            })
            .await;
        let Some((value, counter)) = found else {
            return Err(Some(Ticket {
                local,
                shared: None,
            }));
        };
        let ticket = Ticket {
            local,
            shared: Some(counter.unwrap_or(0)),
        };
        match value.as_deref().and_then(decode) {
            Some(entry) => {
                let hit = entry.hit();
                self.keep_local(key, ticket, entry);
                Ok(hit)
            }
            None => Err(Some(ticket)),
        }
    }

    /// Caches `body` (of an operation named `operation`, costing `cost`,
    /// showing `tags`) under `key`, unless something was invalidated since
    /// `ticket` was taken.
    pub async fn insert(
        &self,
        key: &str,
        ticket: Ticket,
        operation: Option<&str>,
        body: Bytes,
        (cost, tags): (u32, Tags),
    ) {
        let entry = Entry {
            body,
            cost,
            tags,
            operation: operation.map(Arc::from),
        };
        if let (Some(shared), Some(counter)) = (&self.inner.redis, ticket.shared) {
            let value = encode(&entry);
            let digest = digest(key);
            let ttl = self.inner.ttl.as_secs().max(1);
            let names = entry.tags.names();
            let _: Option<i64> = shared
                .call(|mut conn| {
                    let mut inv = shared.store.prepare_invoke();
                    inv.key(shared.counter_key())
                        .key(shared.entry_key(&digest))
                        .key(shared.all_key())
                        .arg(counter)
                        .arg(&digest)
                        .arg(value)
                        .arg(ttl)
                        .arg(shared.set_prefix());
                    for n in &names {
                        inv.arg(n);
                    }
                    async move { inv.invoke_async(&mut conn).await }
                })
                .await;
        }
        self.keep_local(key, ticket, entry);
    }

    fn keep_local(&self, key: &str, ticket: Ticket, entry: Entry) {
        if self.inner.epoch.load(Ordering::Acquire) == ticket.local {
            self.inner.local.insert(Arc::from(key), Arc::new(entry));
        }
    }

    /// Drops what `inv` makes stale from this node's tier.
    pub fn evict_local(&self, inv: &Invalidation) {
        if inv.is_empty() {
            return;
        }
        self.inner.epoch.fetch_add(1, Ordering::AcqRel);
        if inv.everything {
            self.inner.local.invalidate_all();
            return;
        }
        let inv = inv.clone();
        // Supported by construction (`support_invalidation_closures`).
        if self
            .inner
            .local
            .invalidate_entries_if(move |_, e| e.tags.hit_by(&inv))
            .is_err()
        {
            self.inner.local.invalidate_all();
        }
    }

    /// Drops what `inv` makes stale from the shared tier (and moves its
    /// counter). Whether Redis did it; without Redis, trivially true.
    pub async fn evict_shared(&self, inv: &Invalidation) -> bool {
        let Some(shared) = &self.inner.redis else {
            return true;
        };
        if inv.is_empty() {
            return true;
        }
        let names = inv.names();
        let done: Option<i64> = shared
            .call(|mut conn| {
                let mut call = shared.drop.prepare_invoke();
                call.key(shared.counter_key())
                    .key(shared.all_key())
                    .arg(shared.entry_prefix())
                    .arg(shared.set_prefix())
                    .arg(if inv.everything { "1" } else { "0" });
                for n in &names {
                    call.arg(n);
                }
                async move { call.invoke_async(&mut conn).await }
            })
            .await;
        done.is_some()
    }

    /// Entries in this node's tier (after pending maintenance).
    pub fn local_len(&self) -> u64 {
        self.inner.local.run_pending_tasks();
        self.inner.local.entry_count()
    }
}

impl Shared {
    fn entry_prefix(&self) -> String {
        format!("{}rc:", self.prefix)
    }
    fn entry_key(&self, digest: &str) -> String {
        format!("{}rc:{digest}", self.prefix)
    }
    fn set_prefix(&self) -> String {
        format!("{}rt:", self.prefix)
    }
    fn all_key(&self) -> String {
        format!("{}rt:*all", self.prefix)
    }
    fn counter_key(&self) -> String {
        format!("{}rt:*counter", self.prefix)
    }

    /// Runs one Redis call with a deadline. `None` (and a log line, and a
    /// rest) when Redis fails; `None` at once while resting.
    async fn call<T, F, Fut>(&self, f: F) -> Option<T>
    where
        F: FnOnce(redis::aio::MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        {
            let mut resting = self.resting_until.lock().unwrap_or_else(|e| e.into_inner());
            match *resting {
                Some(until) if Instant::now() < until => return None,
                Some(_) => *resting = None,
                None => {}
            }
        }
        let outcome = tokio::time::timeout(REDIS_TIMEOUT, async {
            let conn = {
                let mut guard = self.conn.lock().await;
                match guard.as_ref() {
                    Some(c) => c.clone(),
                    None => guard
                        .insert(self.client.get_multiplexed_async_connection().await?)
                        .clone(),
                }
            };
            f(conn).await
        })
        .await;
        let error = match outcome {
            Ok(Ok(v)) => return Some(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        *self.conn.lock().await = None;
        let mut resting = self.resting_until.lock().unwrap_or_else(|e| e.into_inner());
        if resting.is_none() {
            tracing::warn!(error = %error, "response cache: Redis call failed; serving from the database for a while");
        }
        *resting = Some(Instant::now() + BACKOFF);
        None
    }
}

fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The [`Header`] as JSON, a newline, then the body.
fn encode(e: &Entry) -> Vec<u8> {
    let head = serde_json::to_vec(&Header {
        c: e.cost,
        t: e.tags.clone(),
        o: e.operation.as_deref().map(str::to_owned),
    })
    .unwrap_or_default();
    let mut out = Vec::with_capacity(e.body.len() + head.len() + 1);
    out.extend_from_slice(&head);
    out.push(b'\n');
    out.extend_from_slice(&e.body);
    out
}

fn decode(raw: &[u8]) -> Option<Entry> {
    let nl = raw.iter().position(|b| *b == b'\n')?;
    let head: Header = serde_json::from_slice(&raw[..nl]).ok()?;
    Some(Entry {
        cost: head.c,
        tags: head.t,
        operation: head.o.map(Arc::from),
        body: Bytes::copy_from_slice(&raw[nl + 1..]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(products: &[i64], lists: bool) -> Tags {
        Tags {
            products: products.to_vec(),
            lists,
            availability: false,
        }
    }

    async fn miss(cache: &ResponseCache, key: &str) -> Ticket {
        match cache.get(key).await {
            Err(Some(t)) => t,
            other => panic!("expected a miss with a ticket, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn entries_go_when_what_they_show_changes() {
        let cache = ResponseCache::new(1 << 20, Duration::from_secs(60), None);
        let t = miss(&cache, "a").await;
        cache
            .insert(
                "a",
                t,
                None,
                Bytes::from_static(b"A"),
                (3, tags(&[1, 2], false)),
            )
            .await;
        let t = miss(&cache, "list").await;
        cache
            .insert(
                "list",
                t,
                None,
                Bytes::from_static(b"L"),
                (1, tags(&[5], true)),
            )
            .await;
        assert_eq!(cache.get("a").await.ok().map(|h| h.cost), Some(3));

        // A stock change to product 5 leaves product 1's page alone.
        cache.evict_local(&Invalidation {
            products: vec![5],
            ..Default::default()
        });
        assert!(cache.get("a").await.is_ok());
        assert!(cache.get("list").await.is_err());

        cache.evict_local(&Invalidation {
            products: vec![2],
            ..Default::default()
        });
        assert!(cache.get("a").await.is_err());
    }

    #[tokio::test]
    async fn a_response_computed_across_an_invalidation_is_not_kept() {
        let cache = ResponseCache::new(1 << 20, Duration::from_secs(60), None);
        let t = miss(&cache, "a").await;
        cache.evict_local(&Invalidation {
            products: vec![99],
            ..Default::default()
        });
        cache
            .insert(
                "a",
                t,
                None,
                Bytes::from_static(b"A"),
                (1, tags(&[1], false)),
            )
            .await;
        assert!(cache.get("a").await.is_err(), "it may hold stale data");
    }

    #[tokio::test]
    async fn an_unlinked_node_does_not_use_its_tier() {
        let Ok(client) = redis::Client::open("redis://127.0.0.1:1") else {
            panic!("a valid URL")
        };
        let cache = ResponseCache::new(
            1 << 20,
            Duration::from_secs(60),
            Some((client, "t:".into())),
        );
        assert!(matches!(cache.get("a").await, Err(None)));
        cache.set_linked(true);
        // Redis on port 1 refuses: still a plain miss, then a rest.
        let t = miss(&cache, "a").await;
        cache
            .insert(
                "a",
                t,
                Some("Q"),
                Bytes::from_static(b"A"),
                (1, Tags::default()),
            )
            .await;
        assert!(cache.get("a").await.is_ok(), "the local tier still works");
        cache.set_linked(false);
        assert!(matches!(cache.get("a").await, Err(None)));
    }

    #[test]
    fn entries_survive_the_trip_through_redis() {
        let e = Entry {
            body: Bytes::from_static(b"{\"data\":\n{}}"),
            cost: 42,
            tags: tags(&[3, 4], true),
            operation: Some(Arc::from("Shelf")),
        };
        let Some(back) = decode(&encode(&e)) else {
            panic!("an encoded entry decodes")
        };
        assert_eq!(back.hit(), e.hit());
        assert_eq!(back.tags, e.tags);
    }
}
