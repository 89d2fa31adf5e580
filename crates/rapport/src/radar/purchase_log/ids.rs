//! The business's customer ids and the dense indices the models want in their place.

use std::hash::BuildHasher;

/// The business's customer ids to the models' dense indices, given in order of first sight.
///
/// Ids written as plain decimal numbers (see [`plain_number`]) below a bound are looked up
/// directly in a table indexed by their value: one memory access, where a hash table needs two or
/// three. Other ids go to a hash table that holds only the 4-byte indices; the ids themselves live
/// once, in the log's customer list, and are compared there. A fast non-cryptographic hash: the
/// keys come from the business's own file, and a million lookups must not take a second.
pub struct CustomerIndex {
    /// `by_number[n]` is the index of the id `n`, or `u32::MAX`; grown on demand below `numbers`.
    by_number: Vec<u32>,
    /// Plain numbers from this value on go to the hash table.
    numbers: u64,
    texts: TextIndex,
}

impl Default for CustomerIndex {
    fn default() -> Self {
        Self::with_numbers_below(1 << 20)
    }
}

impl CustomerIndex {
    /// An index whose direct table may grow to one entry per 8 bytes of a file of this size (at
    /// most half the file's size in memory, and only when its ids are that large).
    pub fn for_file(bytes: u64) -> Self {
        Self::with_numbers_below((bytes / 8).clamp(1 << 16, u64::from(KEYED_NUMBERS)))
    }

    fn with_numbers_below(numbers: u64) -> Self {
        Self {
            by_number: Vec::new(),
            numbers,
            texts: TextIndex::default(),
        }
    }

    /// The index of `id` in `customers`, appending it there when it is new.
    pub fn index_of(&mut self, customers: &mut Vec<CompactId>, id: &str) -> u32 {
        match self.number_of(id.as_bytes()) {
            Some(n) => self.number(customers, n),
            None => self.texts.index_of(customers, id),
        }
    }

    /// The id's value when it is a plain number that goes to the direct table.
    pub fn number_of(&self, id: &[u8]) -> Option<u32> {
        plain_number(id).filter(|n| u64::from(*n) < self.numbers)
    }

    /// The index of the customer whose id is the plain number `n` (below the bound).
    pub fn number(&mut self, customers: &mut Vec<CompactId>, n: u32) -> u32 {
        let n = n as usize;
        if n >= self.by_number.len() {
            let grown = (n + 1).max(2 * self.by_number.len()).min(self.numbers as usize);
            self.by_number.resize(grown, u32::MAX);
        }
        let slot = &mut self.by_number[n];
        if *slot == u32::MAX {
            *slot = customers.len() as u32;
            customers.push(CompactId::number(n as u32));
        }
        *slot
    }

    /// Takes `texts` as its hashed ids when it has none yet: a part read first, with only such ids,
    /// numbered them in the order of first sight already.
    pub fn adopt(&mut self, texts: TextIndex) {
        self.texts = texts;
    }

    /// The index of the hashed id `id` in `customers`, if it is there.
    pub fn find_text(&self, customers: &[CompactId], id: &str) -> Option<u32> {
        self.texts.find(customers, id)
    }

    /// Loads the direct table's entries for these keys into the cache.
    pub fn warm(&self, keys: impl Iterator<Item = u32>) {
        let mut any = 0;
        for key in keys {
            any ^= self.by_number.get(key as usize).copied().unwrap_or_default();
        }
        std::hint::black_box(any);
    }

    /// Makes room in the direct table for every number below `n`.
    pub fn reserve_numbers(&mut self, n: u32) {
        if n as usize > self.by_number.len() {
            self.by_number.resize(n as usize, u32::MAX);
        }
    }
}

/// Plain numbers are below this, so that a `u32` key can tell them from other ids.
pub const KEYED_NUMBERS: u32 = 1 << 31;

/// Ids as hashed text: the index of each id in a list of ids, appending the new ones.
///
/// Each entry keeps the id's hash beside its index, so a growing table never reads the ids again
/// (a million of them at random was a tenth of the reading time) and another id that lands in
/// the same group is told apart without reading its text.
#[derive(Default)]
pub struct TextIndex {
    /// The index in the low 32 bits, the id's 32-bit hash in the high ones.
    table: hashbrown::HashTable<u64>,
    hasher: foldhash::fast::FixedState,
}

impl TextIndex {
    /// The index of `id` in `ids`, appending it there when it is new.
    pub fn index_of(&mut self, ids: &mut Vec<CompactId>, id: &str) -> u32 {
        if let Some(found) = self.find(ids, id) {
            return found;
        }
        let short = self.hash(id);
        let index = ids.len() as u32;
        ids.push(CompactId::new(id));
        let entry = (u64::from(short) << 32) | u64::from(index);
        self.table
            .insert_unique(spread(short), entry, |&e| spread((e >> 32) as u32));
        index
    }

    /// The index of `id` in `ids`, if it is there.
    pub fn find(&self, ids: &[CompactId], id: &str) -> Option<u32> {
        let short = self.hash(id);
        let same = |&entry: &u64| (entry >> 32) as u32 == short && ids[entry as u32 as usize].as_str() == id;
        self.table.find(spread(short), same).map(|entry| *entry as u32)
    }

    /// The 32-bit hash an entry keeps of `id`.
    fn hash(&self, id: &str) -> u32 {
        (self.hasher.hash_one(id) >> 32) as u32
    }
}

/// The table's 64-bit hash, made again from the 32 bits an entry keeps: the multiplication
/// spreads them over both the bits that pick a bucket and the top bits the table compares first.
fn spread(short: u32) -> u64 {
    u64::from(short).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The value of an id written as a plain decimal number of up to 9 digits without a leading
/// zero, whose text is therefore that of its value (`7` and `007`, different ids, never share a
/// number).
pub fn plain_number(id: &[u8]) -> Option<u32> {
    let plain = matches!(id, [b'0'] | [b'1'..=b'9', ..]) && id.len() <= 9;
    plain.then_some(())?;
    id.iter()
        .try_fold(0u32, |n, b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
}

/// A customer id stored in place when it fits in 15 bytes (nearly every shop's ids do): a million
/// of them then cost no heap allocation and a lookup no pointer chase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CompactId {
    /// Up to 15 bytes, then the length in the last byte.
    Inline([u8; 16]),
    /// Anything longer.
    Heap(Box<str>),
}

impl CompactId {
    /// Packs an id.
    pub fn new(id: &str) -> Self {
        let bytes = id.as_bytes();
        if bytes.len() < 16 {
            let mut packed = [0u8; 16];
            packed[..bytes.len()].copy_from_slice(bytes);
            packed[15] = bytes.len() as u8;
            CompactId::Inline(packed)
        } else {
            CompactId::Heap(id.into())
        }
    }

    /// The id whose text is the decimal number `n`.
    pub fn number(mut n: u32) -> Self {
        let mut digits = [0u8; 10];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let mut packed = [0u8; 16];
        packed[..digits.len() - start].copy_from_slice(&digits[start..]);
        packed[15] = (digits.len() - start) as u8;
        CompactId::Inline(packed)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        match self {
            // Built from a `&str` cut at a byte count that was its whole length: valid UTF-8.
            CompactId::Inline(packed) => std::str::from_utf8(&packed[..usize::from(packed[15])]).unwrap_or_default(),
            CompactId::Heap(id) => id,
        }
    }
}

impl std::fmt::Display for CompactId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ids_written_as_their_own_value_are_plain_numbers() {
        assert_eq!(plain_number(b"0"), Some(0));
        assert_eq!(plain_number(b"123456789"), Some(123_456_789));
        for other in [&b"007"[..], b"", b"1234567890", b"12a", b"-5", b" 5"] {
            assert_eq!(plain_number(other), None, "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn numbered_and_named_ids_keep_the_order_of_first_sight() {
        let (mut index, mut ids) = (CustomerIndex::default(), Vec::new());
        let order: Vec<u32> = ["42", "0042", "x", "42", "7", "x"]
            .iter()
            .map(|id| index.index_of(&mut ids, id))
            .collect();
        assert_eq!(order, [0, 1, 2, 0, 3, 2]);
        let texts: Vec<String> = ids.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["42", "0042", "x", "7"]);
        assert_eq!(ids[0], CompactId::new("42"));
        assert_eq!(CompactId::number(0), CompactId::new("0"));
        assert_eq!(CompactId::number(999_999_999), CompactId::new("999999999"));
    }
}
