//! The change-feed cursor. Sequence numbers are assigned at insert but become visible at commit,
//! so on PostgreSQL a lower number can appear after a higher one. The cursor therefore keeps the
//! seqs it has seen above its floor and only moves the floor over a gap once the gap is older
//! than a grace period (a rolled-back transaction leaves a permanent gap).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tessera_store::ChangeRecord;

/// How long a gap in the feed may stay open before the cursor skips it.
pub const GAP_GRACE: Duration = Duration::from_secs(10);

/// Position of one node in the change feed.
#[derive(Debug)]
pub struct FeedCursor {
    floor: i64,
    seen: BTreeSet<i64>,
    gap_since: Option<Instant>,
}

impl FeedCursor {
    /// A cursor that has applied everything up to `head`.
    pub fn at(head: i64) -> Self {
        Self {
            floor: head,
            seen: BTreeSet::new(),
            gap_since: None,
        }
    }

    /// The seq below which everything has been applied; query with `seq > floor`.
    pub fn floor(&self) -> i64 {
        self.floor
    }

    /// Takes a batch read with `seq > floor()` and returns the entries not applied before.
    pub fn accept(&mut self, batch: Vec<ChangeRecord>, now: Instant) -> Vec<ChangeRecord> {
        let fresh: Vec<ChangeRecord> = batch
            .into_iter()
            .filter(|c| c.seq > self.floor && self.seen.insert(c.seq))
            .collect();
        self.advance(now);
        fresh
    }

    fn advance(&mut self, now: Instant) {
        loop {
            while self.seen.remove(&(self.floor + 1)) {
                self.floor += 1;
            }
            let Some(&next) = self.seen.first() else {
                self.gap_since = None;
                return;
            };
            let since = *self.gap_since.get_or_insert(now);
            if now.duration_since(since) < GAP_GRACE {
                return;
            }
            // The gap has outlived any transaction: skip to the next seen entry.
            self.floor = next - 1;
            self.gap_since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(seq: i64) -> ChangeRecord {
        ChangeRecord {
            seq,
            tenant_id: None,
            tenant_slug: None,
            what: "t".into(),
            created_at: 0,
        }
    }

    #[test]
    fn late_commits_below_a_seen_seq_are_still_applied_once() {
        let t0 = Instant::now();
        let mut cursor = FeedCursor::at(10);
        assert_eq!(cursor.accept(vec![change(12)], t0).len(), 1);
        assert_eq!(cursor.floor(), 10, "11 may still commit");
        // 11 commits late; 12 is re-read but not re-applied.
        let fresh = cursor.accept(vec![change(11), change(12)], t0);
        assert_eq!(fresh.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![11]);
        assert_eq!(cursor.floor(), 12);
    }

    #[test]
    fn a_permanent_gap_is_skipped_after_the_grace_period() {
        let t0 = Instant::now();
        let mut cursor = FeedCursor::at(0);
        cursor.accept(vec![change(2)], t0);
        assert_eq!(cursor.floor(), 0);
        cursor.accept(vec![change(2)], t0 + GAP_GRACE + Duration::from_secs(1));
        assert_eq!(cursor.floor(), 2);
    }
}
