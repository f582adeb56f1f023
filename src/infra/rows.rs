//! A process-wide cache of catalog rows as the DataLoaders return them, valid
//! for one catalog version (a "generation").
//!
//! A response-cache miss (another page, filter or channel) still needs the
//! rows behind it; most of them were read moments ago by another request.
//! Each request works against the generation of the catalog version it read
//! before touching any data, so what it caches is never older than its tag.
//! When the version moves, the next request starts a new, empty generation
//! and the old one is dropped with its last user.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex},
};

use moka::sync::Cache;

/// The rows of one catalog version, by loader key type.
pub struct Generation {
    version: i64,
    capacity: u64,
    maps: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
}

impl Generation {
    fn new(version: i64, capacity: u64) -> Self {
        Self {
            version,
            capacity,
            maps: Mutex::new(HashMap::new()),
        }
    }

    /// The catalog version these rows belong to.
    pub fn version(&self) -> i64 {
        self.version
    }

    fn map<K, V>(&self) -> Cache<K, Option<V>>
    where
        K: Hash + Eq + Send + Sync + Clone + 'static,
        V: Send + Sync + Clone + 'static,
    {
        let mut maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        let entry = maps
            .entry(TypeId::of::<Cache<K, Option<V>>>())
            .or_insert_with(|| Box::new(Cache::<K, Option<V>>::new(self.capacity)));
        match entry.downcast_ref::<Cache<K, Option<V>>>() {
            Some(cache) => cache.clone(),
            // The key is the type itself, so this cannot happen; an empty cache is still correct.
            None => Cache::new(0),
        }
    }

    /// Splits `keys` into the rows known (a known absence is `None`) and the keys to load.
    pub fn lookup<K, V>(&self, keys: &[K]) -> (HashMap<K, V>, Vec<K>)
    where
        K: Hash + Eq + Send + Sync + Clone + 'static,
        V: Send + Sync + Clone + 'static,
    {
        let map = self.map::<K, V>();
        let mut found = HashMap::with_capacity(keys.len());
        let mut missing = Vec::new();
        for k in keys {
            match map.get(k) {
                Some(Some(v)) => {
                    found.insert(k.clone(), v);
                }
                Some(None) => {}
                None => missing.push(k.clone()),
            }
        }
        (found, missing)
    }

    /// Remembers what loading `keys` returned, absences included.
    pub fn remember<K, V>(&self, keys: &[K], loaded: &HashMap<K, V>)
    where
        K: Hash + Eq + Send + Sync + Clone + 'static,
        V: Send + Sync + Clone + 'static,
    {
        let map = self.map::<K, V>();
        for k in keys {
            map.insert(k.clone(), loaded.get(k).cloned());
        }
    }
}

/// Hands out the generation of a catalog version.
pub struct RowCache {
    capacity: u64,
    current: Mutex<Arc<Generation>>,
}

impl RowCache {
    /// A cache holding at most `capacity` entries per key type and generation.
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            current: Mutex::new(Arc::new(Generation::new(i64::MIN, capacity))),
        }
    }

    /// The generation for `version`. A newer version replaces the current
    /// generation; a request still at an older version gets a private one
    /// that dies with it, so it can never put old rows into a newer generation.
    pub fn generation(&self, version: i64) -> Arc<Generation> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.version == version {
            return current.clone();
        }
        let fresh = Arc::new(Generation::new(version, self.capacity));
        if version > current.version {
            *current = fresh.clone();
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_live_in_their_version_only() {
        let cache = RowCache::new(100);
        let g1 = cache.generation(1);
        let mut loaded = HashMap::new();
        loaded.insert(1_i64, "one".to_owned());
        g1.remember(&[1_i64, 2], &loaded);
        let (found, missing) = cache.generation(1).lookup::<i64, String>(&[1, 2, 3]);
        assert_eq!(found.get(&1).map(String::as_str), Some("one"));
        assert!(!found.contains_key(&2), "a known absence stays absent");
        assert_eq!(missing, vec![3]);

        let g2 = cache.generation(2);
        assert_eq!(
            g2.lookup::<i64, String>(&[1]).1,
            vec![1],
            "a new version starts empty"
        );
        // A late request at the old version cannot pollute the new generation.
        cache
            .generation(1)
            .remember(&[9_i64], &HashMap::from([(9_i64, "old".to_owned())]));
        assert_eq!(cache.generation(2).lookup::<i64, String>(&[9]).1, vec![9]);
    }
}
