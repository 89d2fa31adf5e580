//! Splitting a slice of work over the machine's cores with scoped threads.

use std::thread;

/// Items below which a second thread costs more than it saves.
const MIN_WORK_PER_THREAD: usize = 20_000;

/// Applies `work` to contiguous parts of `items` of about equal `size` on up to one
/// thread per core, and combines the results in order with `merge`.
pub(crate) fn map_reduce<G, T>(
    items: &[G],
    size: impl Fn(&G) -> usize,
    work: impl Fn(&[G]) -> T + Sync,
    merge: impl Fn(T, T) -> T,
) -> T
where
    G: Sync,
    T: Send,
{
    let total: usize = items.iter().map(&size).sum();
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let parts = cores.min(total / MIN_WORK_PER_THREAD).max(1);
    if parts == 1 || items.len() < 2 {
        return work(items);
    }
    let bounds = split_points(items, &size, total, parts);
    let work = &work;
    let results: Vec<T> = thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .map(|w| {
                let part = &items[w[0]..w[1]];
                scope.spawn(move || work(part))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker thread panicked"))
            .collect()
    });
    results.into_iter().reduce(merge).expect("at least one part")
}

/// Fills `out[i]` from `items[i]` with `work` on contiguous parts, on up to one thread per core:
/// one output, where parts merged afterwards would hold the output twice for a moment.
pub(crate) fn fill<G, T>(items: &[G], out: &mut [T], work: impl Fn(&[G], &mut [T]) + Sync)
where
    G: Sync,
    T: Send,
{
    parts_mut(out, |start, part| work(&items[start..start + part.len()], part));
}

/// Applies `work` to contiguous parts of `out`, each with the index where it starts, on up to one
/// thread per core; the results in order.
pub(crate) fn parts_mut<T, R>(out: &mut [T], work: impl Fn(usize, &mut [T]) -> R + Sync) -> Vec<R>
where
    T: Send,
    R: Send,
{
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let parts = cores.min(out.len() / MIN_WORK_PER_THREAD).max(1);
    let size = out.len().div_ceil(parts).max(1);
    let work = &work;
    thread::scope(|scope| {
        let handles: Vec<_> = out
            .chunks_mut(size)
            .enumerate()
            .map(|(k, part)| scope.spawn(move || work(k * size, part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker thread panicked"))
            .collect()
    })
}

/// Start indices of `parts` runs of about `total / parts` size each, then `items.len()`.
fn split_points<G>(items: &[G], size: impl Fn(&G) -> usize, total: usize, parts: usize) -> Vec<usize> {
    let mut bounds = vec![0];
    let mut running = 0;
    for (i, item) in items.iter().enumerate() {
        let target = total * bounds.len() / parts;
        if running >= target && bounds.len() < parts && i > *bounds.last().unwrap_or(&0) {
            bounds.push(i);
        }
        running += size(item);
    }
    bounds.push(items.len());
    bounds
}

/// Applies `work` to each of a few large items on a thread of its own; the results in order.
pub(crate) fn each_mut<T, R>(items: &mut [T], work: impl Fn(&mut T) -> R + Sync) -> Vec<R>
where
    T: Send,
    R: Send,
{
    if items.len() < 2 {
        return items.iter_mut().map(&work).collect();
    }
    let work = &work;
    thread::scope(|scope| {
        let handles: Vec<_> = items.iter_mut().map(|item| scope.spawn(move || work(item))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker thread panicked"))
            .collect()
    })
}
