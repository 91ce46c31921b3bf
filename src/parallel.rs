//! A small bounded worker pool on scoped threads (no async runtime needed).

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many external tools run at once: one per core (2 if that cannot be told).
#[must_use]
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// Run `f` over `items` on at most `workers` threads; the results come back in input order.
pub fn map<T: Sync, R: Send>(items: &[T], workers: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.clamp(1, items.len().max(1)))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break mine };
                        mine.push((i, f(item)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a worker panicked"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn keeps_order_and_bounds_threads() {
        let items: Vec<u32> = (0..1000).collect();
        let out = super::map(&items, 3, |x| x * 2);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert!(super::map(&[] as &[u32], 4, |x| *x).is_empty());
    }

    #[test]
    fn order_is_kept_when_early_items_finish_last() {
        let items: Vec<u64> = (0..12).collect();
        let out = super::map(&items, 4, |&x| {
            // The first items take longest.
            std::thread::sleep(Duration::from_millis(12 - x));
            format!("item {x}")
        });
        let want: Vec<String> = (0..12).map(|x| format!("item {x}")).collect();
        assert_eq!(out, want);
    }

    #[test]
    fn never_more_threads_than_workers_or_items() {
        // (items, workers, most threads)
        let cases = [(3, 16, 3), (20, 2, 2), (5, 0, 1), (1, 1, 1)];
        for (n, workers, most) in cases {
            let items: Vec<usize> = (0..n).collect();
            let threads = Mutex::new(BTreeSet::new());
            let (active, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
            let out = super::map(&items, workers, |&x| {
                threads
                    .lock()
                    .unwrap()
                    .insert(format!("{:?}", std::thread::current().id()));
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                active.fetch_sub(1, Ordering::SeqCst);
                x + 1
            });
            assert_eq!(out, (1..=n).collect::<Vec<_>>(), "{n} items");
            let used = threads.lock().unwrap().len();
            assert!(used <= most, "{n} items, {workers} workers: {used} threads");
            assert!(peak.load(Ordering::SeqCst) <= most);
            // Scoped threads: none is this (the calling) thread.
            let me = format!("{:?}", std::thread::current().id());
            assert!(!threads.lock().unwrap().contains(&me));
        }
    }

    #[test]
    fn each_item_is_done_exactly_once_and_nothing_for_no_items() {
        let calls = AtomicUsize::new(0);
        let items: Vec<u32> = (0..500).collect();
        let out = super::map(&items, 7, |x| {
            calls.fetch_add(1, Ordering::Relaxed);
            *x
        });
        assert_eq!(out, items);
        assert_eq!(calls.load(Ordering::Relaxed), 500);
        let none = super::map(&[] as &[u32], 0, |_| -> u32 {
            calls.fetch_add(1, Ordering::Relaxed);
            0
        });
        assert!(none.is_empty());
        assert_eq!(calls.load(Ordering::Relaxed), 500, "f is never called");
    }
}
