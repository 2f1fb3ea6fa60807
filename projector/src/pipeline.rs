//! Two-core replay: one thread prepares entries (decodes them, and for audits hashes
//! them) while the caller's thread folds them, in order.
//!
//! Decoding costs about as much as folding, so overlapping the two nearly halves the
//! time of a bulk replay (restart catch-up, audit). Order is kept: chunks go through a
//! bounded channel and are consumed in sequence. If the consumer stops (an error), the
//! channel closes and the producer stops too.

use std::sync::mpsc::sync_channel;

/// Entries per chunk handed between the threads. Each hand-off may wake a sleeping
/// thread (microseconds of scheduler work), so chunks are large enough for that to be
/// noise; 1024 measured faster than 256 for the replay of a million signatures.
const CHUNK: usize = 1024;

/// Calls `consume(position, &prepare(entry))` for every entry in order, running
/// `prepare` ahead on a second thread. Small inputs run on this thread alone.
///
/// `consume` borrows each prepared item where the other thread left it: moving items
/// out of the chunk made the compiler copy each one through the stack in pieces of
/// different widths, and reading such a copy back waits for every earlier store to
/// reach memory (failed store forwarding), which profiling showed to be a fifth of
/// the folding thread's time.
pub(crate) fn pipeline<'a, E, T, X>(
    entries: &'a [E],
    prepare: impl Fn(&'a [u8]) -> T + Sync,
    mut consume: impl FnMut(usize, &T) -> Result<(), X>,
) -> Result<(), X>
where
    E: AsRef<[u8]> + Sync,
    T: Send,
{
    if entries.len() < 2 * CHUNK {
        for (position, entry) in entries.iter().enumerate() {
            consume(position, &prepare(entry.as_ref()))?;
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        let (chunks, ready) = sync_channel::<Vec<T>>(4);
        let prepare = &prepare;
        scope.spawn(move || {
            for chunk in entries.chunks(CHUNK) {
                let prepared = chunk.iter().map(|e| prepare(e.as_ref())).collect();
                if chunks.send(prepared).is_err() {
                    return; // the consumer stopped
                }
            }
        });
        let mut position = 0;
        for chunk in ready {
            for item in &chunk {
                consume(position, item)?;
                position += 1;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_stops_at_an_error() {
        let entries: Vec<Vec<u8>> = (0..2000u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let mut seen = Vec::new();
        pipeline(
            &entries,
            |e| u32::from_le_bytes(e.try_into().unwrap()),
            |i, &v| {
                assert_eq!(i as u32, v);
                seen.push(v);
                Ok::<(), ()>(())
            },
        )
        .unwrap();
        assert_eq!(seen.len(), 2000);
        let mut count = 0;
        let result = pipeline(
            &entries,
            |e| e.len(),
            |i, _| {
                count += 1;
                if i == 700 {
                    Err(i)
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!((result, count), (Err(700), 701));
    }
}
