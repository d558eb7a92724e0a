//! The process allocator (jemalloc) and the one thing the binary asks of it beyond allocating:
//! giving freed pages back to the operating system right after a table swap.
//!
//! jemalloc rather than glibc's malloc: about 8 % fewer instructions per proxied request and 15 %
//! per new connection (the request future and hyper's buffers are size-class allocations from a
//! thread cache, with no `malloc_consolidate`). Freed pages normally go back to the OS on
//! jemalloc's decay schedule (a background thread, ~10 s). A rebuild frees a whole old table plus
//! the builder's temporaries at once (several MiB at 10k Ingresses), so after retired tables are
//! dropped, [`purge_freed_pages`] returns them immediately. Measurements in benches/README.md.
//!
//! Two options are compiled in (`.cargo/config.toml`), both for hyper's 8 KiB read buffers: while
//! a request's head is still in use, hyper reads ahead into a fresh 8 KiB buffer, so each proxied
//! keep-alive request allocates and frees two of them. jemalloc's default gives that size class
//! one object per 8 KiB slab and a thread cache of 20, so the alloc/free waves of many
//! connections kept taking slabs from and giving them back to the page allocator.
//! `slab_sizes:8192-8192:8` puts four in a slab and `tcache_nslots_small_min:40` caches 40:
//! 4.5 % fewer instructions per keep-alive request and 1.2 % per h2c request, with no change to
//! the resident set.

use tikv_jemalloc_ctl::{Access, AsName, arenas, background_thread};

/// The compiled-in options (`.cargo/config.toml`); checked by a test, as a build without that
/// file would silently drop them.
#[cfg(test)]
const COMPILED_OPTIONS: &str = "slab_sizes:8192-8192:8,tcache_nslots_small_min:40";

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Starts jemalloc's background purging and purges after every retired table.
pub(crate) fn install() {
    // Purge freed pages on jemalloc's decay schedule even while the process is idle.
    let _ = background_thread::write(true);
    sluice::proxy::on_retired(purge_freed_pages);
}

/// Returns every arena's freed ("dirty") pages to the OS now. Setting an arena's dirty decay
/// time to 0 purges all its dirty pages at once; the previous decay time is then restored.
/// Arenas that were never used answer with an error and are skipped.
pub(crate) fn purge_freed_pages() {
    let Ok(count) = arenas::narenas::read() else {
        return;
    };
    for arena in 0..count {
        let key = format!("arena.{arena}.dirty_decay_ms\0");
        let name = key.as_bytes().name();
        let Ok(previous) = Access::<isize>::read(name) else {
            continue;
        };
        if previous != 0 && name.write(0isize).is_ok() {
            let _ = name.write(previous);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This process's resident set in bytes (`VmRSS`).
    fn resident() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib << 10
    }

    /// A mallctl value by name.
    fn read<T>(name: &str) -> T
    where
        tikv_jemalloc_ctl::Name: Access<T>,
    {
        let key = format!("{name}\0");
        key.as_bytes().name().read().unwrap()
    }

    #[test]
    fn the_compiled_in_options_are_in_effect() {
        let compiled = tikv_jemalloc_ctl::config::malloc_conf::read().unwrap();
        assert_eq!(compiled.trim_end_matches('\0'), COMPILED_OPTIONS);
        assert_eq!(read::<u32>("opt.tcache_nslots_small_min"), 40);
        let bins = read::<u32>("arenas.nbins");
        let bin = (0..bins)
            .find(|b| read::<usize>(&format!("arenas.bin.{b}.size")) == 8192)
            .unwrap();
        // Four 8 KiB objects per slab (jemalloc's own choice is one).
        assert_eq!(read::<u32>(&format!("arenas.bin.{bin}.nregs")), 4);
    }

    #[test]
    fn purging_returns_freed_pages_at_once() {
        // 64 one-MiB blocks, touched so they are resident, then freed: they stay resident as
        // dirty pages until the decay schedule (10 s) or a purge.
        let blocks: Vec<Vec<u8>> = (0..64).map(|_| vec![1u8; 1 << 20]).collect();
        let before_free = resident();
        drop(blocks);
        let freed = resident();
        purge_freed_pages();
        let purged = resident();
        assert!(
            freed > purged + (32 << 20),
            "resident {before_free} while held, {freed} after free, {purged} after the purge"
        );
    }
}
