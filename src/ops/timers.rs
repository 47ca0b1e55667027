//! Timers on the twin clock: what falls due when, popped in due order (ties in the
//! order they were set), so every deadline takes effect at its exact time.

use chrono::{DateTime, FixedOffset};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Timers<T: Ord> {
    heap: BinaryHeap<Reverse<(DateTime<FixedOffset>, u64, T)>>,
    seq: u64,
}

impl<T: Ord> Default for Timers<T> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T: Ord> Timers<T> {
    pub fn at(&mut self, due: DateTime<FixedOffset>, what: T) {
        self.seq += 1;
        self.heap.push(Reverse((due, self.seq, what)));
    }

    /// The earliest timer due at or before `t`.
    pub fn pop_due(&mut self, t: DateTime<FixedOffset>) -> Option<(DateTime<FixedOffset>, T)> {
        if self
            .heap
            .peek()
            .is_some_and(|Reverse((due, _, _))| *due <= t)
        {
            self.heap.pop().map(|Reverse((due, _, what))| (due, what))
        } else {
            None
        }
    }
}
