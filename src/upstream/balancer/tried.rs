/// The servers one request has already tried: a bitset, 256 servers inline, larger groups
/// spilling to the heap on first insert past that.
#[derive(Clone, Debug, Default)]
pub struct Tried {
    inline: [u64; INLINE],
    spill: Vec<u64>,
    len: usize,
}

const INLINE: usize = 4;

impl Tried {
    pub fn new() -> Tried {
        Tried::default()
    }

    /// Adds server `i`; false if it was already there.
    pub fn insert(&mut self, i: usize) -> bool {
        let (w, bit) = (i / 64, 1u64 << (i % 64));
        let word = if w < INLINE {
            &mut self.inline[w]
        } else {
            let w = w - INLINE;
            if self.spill.len() <= w {
                self.spill.resize(w + 1, 0);
            }
            &mut self.spill[w]
        };
        let fresh = *word & bit == 0;
        *word |= bit;
        self.len += usize::from(fresh);
        fresh
    }

    pub fn contains(&self, i: usize) -> bool {
        let (w, bit) = (i / 64, 1u64 << (i % 64));
        let word = if w < INLINE {
            self.inline[w]
        } else {
            self.spill.get(w - INLINE).copied().unwrap_or(0)
        };
        word & bit != 0
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties the set, keeping any spill capacity.
    pub fn clear(&mut self) {
        self.inline = [0; INLINE];
        self.spill.fill(0);
        self.len = 0;
    }
}
