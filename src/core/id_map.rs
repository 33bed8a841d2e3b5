//! [`IdMap`]: values keyed by the ids the client hands out (listeners, subscriptions, writes).

/// A map from `u64` ids to values, kept as a `Vec` sorted by id.
///
/// The client hands out its ids from counters, so an insert is a push and a lookup a binary search.
/// In the wasm it is much smaller than `HashMap`, whose table and hasher are compiled again for every
/// key and value type.
#[derive(Debug, Clone)]
pub struct IdMap<V> {
    /// `(id, value)` pairs in increasing id order.
    entries: Vec<(u64, V)>,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        Self { entries: Vec::new() }
    }
}

impl<V> IdMap<V> {
    fn index(&self, id: u64) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&id, |(k, _)| *k)
    }

    /// Inserts or replaces the value of `id`.
    pub fn insert(&mut self, id: u64, value: V) {
        match self.index(id) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (id, value)),
        }
    }

    /// The value of `id`.
    pub fn get(&self, id: u64) -> Option<&V> {
        self.index(id).ok().map(|i| &self.entries[i].1)
    }

    /// The value of `id`, to change it.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut V> {
        self.index(id).ok().map(|i| &mut self.entries[i].1)
    }

    /// Removes `id`, returning its value.
    pub fn remove(&mut self, id: u64) -> Option<V> {
        self.index(id).ok().map(|i| self.entries.remove(i).1)
    }

    /// How many ids have a value.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Removes and returns the entry with the lowest id.
    pub fn take_first(&mut self) -> Option<(u64, V)> {
        (!self.entries.is_empty()).then(|| self.entries.remove(0))
    }

    /// The values in increasing id order, to change them.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// The entries in increasing id order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &V)> {
        self.entries.iter().map(|(id, v)| (*id, v))
    }
}

#[cfg(test)]
mod tests {
    use super::IdMap;

    #[test]
    fn inserts_in_any_order_and_finds_removes_and_replaces_by_id() {
        let mut map = IdMap::default();
        for id in [3, 1, 2, 5] {
            map.insert(id, id * 10);
        }
        map.insert(2, 21);
        assert_eq!(map.iter().collect::<Vec<_>>(), [(1, &10), (2, &21), (3, &30), (5, &50)]);
        assert_eq!(map.remove(3), Some(30));
        assert_eq!(map.remove(3), None);
        assert_eq!(map.get(4), None);
        if let Some(value) = map.get_mut(5) {
            *value += 1;
        }
        assert_eq!((map.get(5), map.len()), (Some(&51), 3));
    }
}
