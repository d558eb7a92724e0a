//! Randomness: bytes from the OS generator (request ids, the digest-nonce secret, seeds), and
//! the numbers balancing and canary draws use (SplitMix64 per thread, seeded by the OS).

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// `N` bytes from the OS generator. Should it fail (near impossible), the bytes come from the
/// clock's nanoseconds: unique enough for a request id, a seed or a short-lived secret, which
/// beats having none.
pub(crate) fn os_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            .to_le_bytes();
        for (byte, source) in bytes.iter_mut().zip(nanos.iter().cycle()) {
            *byte = *source;
        }
    }
    bytes
}

/// 16 bytes from the OS generator for a request id, taken from a per-thread buffer refilled
/// 512 bytes at a time: one `getrandom` call per 32 requests instead of one per request.
pub(crate) fn request_id_bytes() -> [u8; 16] {
    const REFILL: usize = 512;
    thread_local! {
        static BUFFER: std::cell::RefCell<(usize, [u8; REFILL])> =
            const { std::cell::RefCell::new((REFILL, [0; REFILL])) };
    }
    BUFFER.with(|cell| {
        let mut guard = cell.borrow_mut();
        let (used, buffer) = &mut *guard;
        if *used + 16 > REFILL {
            *buffer = os_bytes();
            *used = 0;
        }
        let mut out = [0u8; 16];
        if let Some(chunk) = buffer.get(*used..*used + 16) {
            out.copy_from_slice(chunk);
        }
        *used += 16;
        out
    })
}

/// SplitMix64: a small, fast generator (not for secrets).
#[derive(Clone, Debug)]
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `1..=n` (`n > 0`).
    #[cfg(test)]
    pub fn draw(&mut self, n: u32) -> u32 {
        u32::try_from(self.next_u64() % u64::from(n.max(1))).unwrap_or(0) + 1
    }
}

/// A uniform number in `0..n` (0 when `n` is 0) from a per-thread generator seeded by the OS.
pub(crate) fn random_below(n: u64) -> u64 {
    thread_local! {
        static RNG: Cell<u64> = Cell::new(seed());
    }
    if n == 0 {
        return 0;
    }
    RNG.with(|state| {
        let mut rng = SplitMix(state.get());
        let value = rng.next_u64();
        state.set(rng.0);
        // Multiply-shift: unbiased enough for balancing and canary draws.
        u64::try_from((u128::from(value) * u128::from(n)) >> 64).unwrap_or(0)
    })
}

fn seed() -> u64 {
    u64::from_le_bytes(os_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_bytes_do_not_repeat_across_refills() {
        let ids: std::collections::HashSet<[u8; 16]> =
            (0..100).map(|_| request_id_bytes()).collect();
        assert_eq!(ids.len(), 100);
    }

    #[test]
    fn random_below_stays_in_range_and_covers_it() {
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            let v = random_below(7);
            seen[usize::try_from(v).unwrap()] += 1;
        }
        assert!(seen.iter().all(|n| *n > 700), "{seen:?}");
        assert_eq!(random_below(0), 0);
    }
}
