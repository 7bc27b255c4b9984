//! The methods that map a request onto the weighted list of primaries: ip_hash, hash (plain and
//! ketama-consistent) and random. As in nginx, `down` primaries keep their share of the weight
//! (and their ring points) and are skipped when hit, so marking a server down moves only its own
//! keys. Each returns `None` when it gives up; the caller then falls back to round-robin.

use super::Member;
use super::rng::Rng;

/// How many times a pick re-hashes (or re-draws) before falling back to round-robin (nginx: 20).
const RETRIES: u32 = 20;

/// The primaries (`down` included), in spec order, with cumulative weights.
pub(super) struct Table {
    index: Vec<usize>,
    down: Vec<bool>,
    weight: Vec<u32>,
    /// `ends[k]`: the sum of the weights of positions `0..=k`.
    ends: Vec<u64>,
    total: u64,
}

impl Table {
    pub(super) fn new(members: &[Member]) -> Table {
        let mut t = Table {
            index: Vec::new(),
            down: Vec::new(),
            weight: Vec::new(),
            ends: Vec::new(),
            total: 0,
        };
        for (i, m) in members.iter().enumerate().filter(|(_, m)| !m.backup) {
            let w = m.weight.max(1);
            t.total += u64::from(w);
            t.index.push(i);
            t.down.push(m.down);
            t.weight.push(w);
            t.ends.push(t.total);
        }
        t
    }

    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The position whose weight range holds `w` (`w < total`).
    fn at(&self, w: u64) -> usize {
        self.ends.partition_point(|&e| e <= w)
    }

    /// Server index at position `k`, if it may take this request.
    fn take(&self, k: usize, ok: &impl Fn(usize) -> bool) -> Option<usize> {
        let i = self.index[k];
        (!self.down[k] && ok(i)).then_some(i)
    }

    /// nginx's ip_hash: the first three octets of an IPv4 address, all of an IPv6 one.
    pub(super) fn ip_hash(&self, key: &[u8], ok: &impl Fn(usize) -> bool) -> Option<usize> {
        if self.total == 0 {
            return None;
        }
        let addr: &[u8] = match key.len() {
            0 => &[0, 0, 0], // nginx's pseudo address for non-IP clients
            4 => &key[..3],
            _ => key,
        };
        let mut hash: u32 = 89;
        for _ in 0..=RETRIES {
            for &b in addr {
                hash = (hash * 113 + u32::from(b)) % 6271;
            }
            if let Some(i) = self.take(self.at(u64::from(hash) % self.total), ok) {
                return Some(i);
            }
        }
        None
    }

    /// nginx's `hash KEY` (Cache::Memcached compatible): `((crc32([REHASH] KEY) >> 16) & 0x7fff)`
    /// added to the previous hash, modulo the total weight.
    pub(super) fn hash(&self, key: &[u8], ok: &impl Fn(usize) -> bool) -> Option<usize> {
        if self.total == 0 || key.is_empty() {
            return None;
        }
        let mut hash: u32 = 0;
        for rehash in 0..=RETRIES {
            let mut c = CRC_INIT;
            if rehash > 0 {
                let digits = [b'0' + (rehash / 10) as u8, b'0' + (rehash % 10) as u8];
                c = crc32_update(c, &digits[usize::from(rehash < 10)..]);
            }
            let h = !crc32_update(c, key);
            hash = hash.wrapping_add((h >> 16) & 0x7fff);
            if let Some(i) = self.take(self.at(u64::from(hash) % self.total), ok) {
                return Some(i);
            }
        }
        None
    }

    fn draw(&self, rng: &mut Rng) -> usize {
        self.at(rng.below(self.total))
    }

    /// Weighted random: draws until one may take the request.
    pub(super) fn random(&self, rng: &mut Rng, ok: &impl Fn(usize) -> bool) -> Option<usize> {
        if self.total == 0 {
            return None;
        }
        for _ in 0..=RETRIES {
            if let Some(i) = self.take(self.draw(rng), ok) {
                return Some(i);
            }
        }
        None
    }

    /// `random two least_conn`: two distinct weighted-random servers, the one with fewer
    /// `active` per unit of weight (the second on a tie, as nginx).
    pub(super) fn random_two(
        &self,
        rng: &mut Rng,
        ok: &impl Fn(usize) -> bool,
        active: &dyn Fn(usize) -> u32,
    ) -> Option<usize> {
        if self.len() < 2 {
            return self.random(rng, ok);
        }
        let mut first: Option<usize> = None;
        for _ in 0..=RETRIES {
            let k = self.draw(rng);
            if first == Some(k) {
                continue;
            }
            let Some(i) = self.take(k, ok) else { continue };
            let Some(f) = first else {
                first = Some(k);
                continue;
            };
            let (af, wf) = (u64::from(active(self.index[f])), u64::from(self.weight[f]));
            let (ak, wk) = (u64::from(active(i)), u64::from(self.weight[k]));
            return Some(if ak * wf > af * wk { self.index[f] } else { i });
        }
        None
    }
}

struct Point {
    hash: u32,
    pos: u32,
}

/// nginx's ketama ring for `hash KEY consistent`: `160 × weight` points per primary, point `j`
/// being `crc32(HOST "\0" PORT PREV_HASH)` (Cache::Memcached::Fast compatible), sorted.
pub(super) struct Ring {
    points: Vec<Point>,
    /// Per position: the pick generation in which it was found unusable.
    seen: Vec<u32>,
    generation: u32,
}

impl Ring {
    pub(super) fn new(members: &[Member], table: &Table) -> Ring {
        let n: usize = table.weight.iter().map(|&w| w as usize * 160).sum();
        let mut points = Vec::with_capacity(n);
        for (pos, &i) in table.index.iter().enumerate() {
            let name = members[i].addr.to_string();
            let (host, port) = name.rsplit_once(':').unwrap_or((&name, ""));
            let base = crc32_update(
                crc32_update(crc32_update(CRC_INIT, host.as_bytes()), b"\0"),
                port.as_bytes(),
            );
            let mut prev: u32 = 0;
            for _ in 0..table.weight[pos] as usize * 160 {
                let hash = !crc32_update(base, &prev.to_le_bytes());
                points.push(Point {
                    hash,
                    pos: pos as u32,
                });
                prev = hash;
            }
        }
        points.sort_unstable_by_key(|p| (p.hash, p.pos));
        Ring {
            points,
            seen: vec![0; table.len()],
            generation: 0,
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.points.len()
    }

    /// The server owning the first point at or after `crc32(key)`, walking on past points of
    /// servers that may not take the request.
    pub(super) fn find(
        &mut self,
        table: &Table,
        key: &[u8],
        ok: &impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let n = self.points.len();
        if n == 0 || key.is_empty() {
            return None;
        }
        let hash = crc32(key);
        let start = self.points.partition_point(|p| p.hash < hash);
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.seen.fill(0);
            self.generation = 1;
        }
        let mut refused = 0;
        for step in 0..n {
            let at = (start + step) % n;
            let pos = self.points[at].pos as usize;
            if self.seen[pos] == self.generation {
                continue;
            }
            if let Some(i) = table.take(pos, ok) {
                return Some(i);
            }
            self.seen[pos] = self.generation;
            refused += 1;
            if refused == table.len() {
                break;
            }
        }
        None
    }
}

const CRC_INIT: u32 = !0;

/// CRC-32 (IEEE, reflected 0xEDB88320) tables for slicing-by-8: `CRC_TABLES[0]` is the
/// classic byte table, `CRC_TABLES[k][b]` the CRC of byte `b` followed by `k` zero bytes.
static CRC_TABLES: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = t[0][(prev & 0xff) as usize] ^ (prev >> 8);
            i += 1;
        }
        k += 1;
    }
    t
};

/// Feeds `bytes` into a running CRC-32 (as nginx's `ngx_crc32_update`); finish with `!`.
pub(super) fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    let t = &CRC_TABLES;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        crc = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    for &b in chunks.remainder() {
        crc = t[0][((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

pub(super) fn crc32(bytes: &[u8]) -> u32 {
    !crc32_update(CRC_INIT, bytes)
}
