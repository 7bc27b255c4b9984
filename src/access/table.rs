//! A bounded key → state table for one shard's share of a limit zone, with least-recently-used
//! eviction. Entries in use (pinned: a `limit_conn` request in progress) are out of the LRU list,
//! so eviction never has to skip them and never takes them; when every entry is pinned and the
//! table is full, there is no room (the caller answers with the limit status, as nginx does when
//! its zone is exhausted).

use std::collections::HashMap;

const NIL: u32 = u32::MAX;

struct Node<V> {
    key: Box<[u8]>,
    prev: u32,
    next: u32,
    pins: u32,
    val: V,
}

pub struct Table<V> {
    /// std's SipHash with a random seed: keys may be client-chosen (`$http_NAME`), so a
    /// predictable hash would let a client build long collision chains.
    map: HashMap<Box<[u8]>, u32>,
    nodes: Vec<Node<V>>,
    free: Vec<u32>,
    /// Most and least recently used unpinned entries.
    head: u32,
    tail: u32,
    cap: usize,
}

impl<V: Default> Table<V> {
    pub fn new(cap: usize) -> Table<V> {
        Table {
            map: HashMap::new(),
            nodes: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            cap,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// A reload may change the zone size; a smaller table shrinks as entries are added.
    pub fn set_capacity(&mut self, cap: usize) {
        self.cap = cap;
    }

    /// The entry for `key`, now the most recently used, and whether it was just made (with
    /// `V::default()`). A new entry evicts the least recently used unpinned one when the table
    /// is full; None when nothing can be evicted.
    pub fn entry(&mut self, key: &[u8]) -> Option<(u32, bool)> {
        if let Some(&i) = self.map.get(key) {
            if self.nodes[i as usize].pins == 0 {
                self.unlink(i);
                self.link_front(i);
            }
            return Some((i, false));
        }
        while self.map.len() >= self.cap {
            if self.tail == NIL {
                return None;
            }
            self.remove(self.tail);
        }
        let node = Node {
            key: key.into(),
            prev: NIL,
            next: NIL,
            pins: 0,
            val: V::default(),
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.map.insert(key.into(), i);
        self.link_front(i);
        Some((i, true))
    }

    /// The state of an entry `entry` returned (valid until it is evicted or removed).
    pub fn get_mut(&mut self, i: u32) -> &mut V {
        &mut self.nodes[i as usize].val
    }

    pub fn pins(&self, i: u32) -> u32 {
        self.nodes[i as usize].pins
    }

    /// Marks the entry in use: it cannot be evicted until every pin is released.
    pub fn pin(&mut self, i: u32) {
        let n = &mut self.nodes[i as usize];
        n.pins += 1;
        if n.pins == 1 {
            self.unlink(i);
        }
    }

    pub fn unpin(&mut self, i: u32) {
        let Some(n) = self.nodes.get_mut(i as usize) else {
            return;
        };
        if n.pins == 0 {
            return;
        }
        n.pins -= 1;
        if n.pins == 0 {
            self.link_front(i);
        }
    }

    fn remove(&mut self, i: u32) {
        self.unlink(i);
        let key = std::mem::take(&mut self.nodes[i as usize].key);
        self.map.remove(&key);
        self.nodes[i as usize].val = V::default();
        self.free.push(i);
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let n = &self.nodes[i as usize];
            (n.prev, n.next)
        };
        if prev == NIL {
            if self.head == i {
                self.head = next;
            }
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            if self.tail == i {
                self.tail = prev;
            }
        } else {
            self.nodes[next as usize].prev = prev;
        }
        let n = &mut self.nodes[i as usize];
        n.prev = NIL;
        n.next = NIL;
    }

    fn link_front(&mut self, i: u32) {
        let old = self.head;
        {
            let n = &mut self.nodes[i as usize];
            n.prev = NIL;
            n.next = old;
        }
        if old != NIL {
            self.nodes[old as usize].prev = i;
        } else {
            self.tail = i;
        }
        self.head = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_and_never_pinned() {
        let mut t: Table<u32> = Table::new(2);
        let (a, new) = t.entry(b"a").unwrap();
        assert!(new);
        *t.get_mut(a) = 7;
        t.entry(b"b").unwrap();
        // Touch a: b becomes the least recently used.
        assert_eq!(t.entry(b"a"), Some((a, false)));
        t.entry(b"c").unwrap();
        assert_eq!(t.len(), 2);
        assert!(!t.entry(b"a").unwrap().1, "a stayed");
        assert_eq!(*t.get_mut(a), 7);
        let (c, _) = t.entry(b"c").unwrap();
        // Pin both: a new key finds no room.
        t.pin(a);
        t.pin(c);
        assert_eq!(t.entry(b"d"), None);
        assert_eq!(t.pins(a), 1);
        // Unpinned, a is the most recently used: c (unpinned after it) is too, then a goes.
        t.unpin(a);
        let (d, new) = t.entry(b"d").unwrap();
        assert!(new);
        assert_eq!(*t.get_mut(d), 0, "a reused slot starts from the default");
        assert!(
            t.entry(b"c").is_some_and(|(_, new)| !new),
            "pinned c stayed"
        );
    }
}
