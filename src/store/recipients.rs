//! Who was sent a paper, as one row a paper and writing group rather than one row a
//! (paper, reader): a day for a million readers puts about eleven million such pairs in
//! the outbox, and a row each made the pairs cost as much to write as the digests.
//!
//! A row's readers are subscriber ids, ascending, each as 4 big-endian bytes, all in one
//! block of 4,096 ids: a batch of readers finds its rows by an index range on
//! (paper, block), one row for each day and write that reached the block. Erasing a
//! reader leaves their id in these rows: an id alone names no one once the subscriber row
//! is gone, and ids are never reused, so it cannot mark a later reader's papers as sent.

use super::StoreError;

/// The block of ids a subscriber's id falls in.
pub(super) fn block(id: i64) -> i64 {
    id >> 12
}

/// Subscriber ids as stored: sorted, each once.
pub(super) fn encode(mut readers: Vec<i64>) -> Result<Vec<u8>, StoreError> {
    readers.sort_unstable();
    readers.dedup();
    let mut out = Vec::with_capacity(readers.len() * 4);
    for id in readers {
        let id = u32::try_from(id).map_err(|_| StoreError::IdTooLarge(id))?;
        out.extend_from_slice(&id.to_be_bytes());
    }
    Ok(out)
}

/// The ids in `first..=last` of a stored row; a row whose length is not a multiple of 4
/// is corrupt (the error names its paper and block).
pub(super) fn within<'a>(
    bytes: &'a [u8],
    first: i64,
    last: i64,
    paper: &str,
    block: i64,
) -> Result<impl Iterator<Item = i64> + 'a, StoreError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(StoreError::Corrupt {
            what: format!("paper_recipients of {paper} (block {block})"),
            why: format!("readers are {} bytes, not a multiple of 4", bytes.len()),
        });
    }
    let at = |i: usize| {
        i64::from(u32::from_be_bytes(
            bytes[i * 4..i * 4 + 4].try_into().expect("4 bytes"),
        ))
    };
    let n = bytes.len() / 4;
    // Ascending, so the range is found by binary search, not by decoding the whole row.
    let start = partition(n, |i| at(i) < first);
    let end = partition(n, |i| at(i) <= last);
    Ok((start..end.max(start)).map(at))
}

/// The first index in `0..n` for which `before` is false (`before` holds for a prefix).
fn partition(n: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_read_back_within_a_range() {
        let bytes = encode(vec![300_000, 3, 8, 7, 4_000_000_000, 8]).unwrap();
        assert_eq!(bytes.len(), 20);
        assert_eq!(&bytes[..4], &[0, 0, 0, 3]);
        let got: Vec<i64> = within(&bytes, 7, 300_000, "2605.00001", 1)
            .unwrap()
            .collect();
        assert_eq!(got, [7, 8, 300_000]);
        assert_eq!(
            within(&bytes, 9, 299_999, "2605.00001", 1).unwrap().count(),
            0
        );
        assert_eq!(within(&bytes, 10, 5, "2605.00001", 1).unwrap().count(), 0);
        assert_eq!(
            within(&[], 0, i64::MAX, "2605.00001", 1).unwrap().count(),
            0
        );
    }

    #[test]
    fn blocks_hold_4096_ids() {
        assert_eq!(block(0), 0);
        assert_eq!(block(4095), 0);
        assert_eq!(block(4096), 1);
        assert_eq!(block(1_000_000), 244);
    }

    #[test]
    fn ids_too_large_or_a_torn_row_are_errors() {
        assert!(encode(vec![-1]).is_err());
        let e = encode(vec![1, 1 << 32]).expect_err("too large");
        assert!(e.to_string().contains("4294967296"), "{e}");
        let e = within(&[0, 0, 1], 0, 10, "2605.00001", 42)
            .err()
            .expect("a torn row");
        assert!(e.to_string().contains("2605.00001 (block 42)"), "{e}");
        assert!(e.to_string().contains("3 bytes"), "{e}");
    }

    proptest! {
        #[test]
        fn any_ascending_ids_round_trip(mut ids in proptest::collection::vec(0i64..=u32::MAX as i64, 0..200), a in 0i64..=u32::MAX as i64, b in 0i64..=u32::MAX as i64) {
            let bytes = encode(ids.clone()).unwrap();
            ids.sort_unstable();
            ids.dedup();
            let (first, last) = (a.min(b), a.max(b));
            let got: Vec<i64> = within(&bytes, first, last, "2605.00001", 0).unwrap().collect();
            let want: Vec<i64> = ids.iter().copied().filter(|i| (first..=last).contains(i)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
