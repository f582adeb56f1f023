//! The storefront response cache: whole GraphQL responses of anonymous catalog
//! queries, keyed by everything that shapes them (document, variables,
//! operation, channel, media type) and tagged with the catalog version they
//! were built at. An entry is served only while that version is current, so a
//! change to any catalog row makes the next read fresh on every node.
//!
//! In-process and bounded by bytes; a shared Redis tier comes with the
//! multi-node work.

use std::sync::Arc;

use bytes::Bytes;
use moka::sync::Cache;

/// A cached response body, the catalog version it was built at, and what
/// the operation cost (charged again on every hit).
#[derive(Clone)]
struct Entry {
    version: i64,
    body: Bytes,
    cost: u32,
}

/// A size-bounded cache of response bodies.
#[derive(Clone)]
pub struct ResponseCache {
    entries: Cache<Arc<str>, Entry>,
}

impl ResponseCache {
    /// A cache holding at most `max_bytes` of keys and bodies.
    pub fn new(max_bytes: u64) -> Self {
        let entries = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &Arc<str>, v: &Entry| {
                u32::try_from(k.len() + v.body.len() + 64).unwrap_or(u32::MAX)
            })
            .build();
        Self { entries }
    }

    /// The body and cost cached under `key`, if it was built at `version`.
    pub fn get(&self, key: &str, version: i64) -> Option<(Bytes, u32)> {
        let entry = self.entries.get(key)?;
        if entry.version == version {
            Some((entry.body, entry.cost))
        } else {
            self.entries.invalidate(key);
            None
        }
    }

    /// Caches `body` (of an operation costing `cost`) under `key` as built at `version`.
    pub fn insert(&self, key: &str, version: i64, body: Bytes, cost: u32) {
        self.entries.insert(
            Arc::from(key),
            Entry {
                version,
                body,
                cost,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_served_only_at_their_version() {
        let cache = ResponseCache::new(1 << 20);
        cache.insert("k", 7, Bytes::from_static(b"body"), 3);
        assert_eq!(cache.get("k", 7), Some((Bytes::from_static(b"body"), 3)));
        assert!(cache.get("k", 8).is_none());
        assert!(cache.get("k", 7).is_none(), "a stale entry is dropped");
        assert!(cache.get("other", 7).is_none());
    }
}
