//! The revisions this process saved lately, kept for its own subscribers: a
//! subscriber that has seen the revision before a kept one is handed it without
//! reading it again (one statement per delivery per subscriber, of 20 KB, cost
//! autosave a quarter of its rate with live updates on; docs/performance.md).
//!
//! A queue of the latest saves rather than a cache with an eviction policy: the
//! newest save must always be there when its event is heard, and a cache that
//! may refuse a newcomer (moka's admission) could not promise it.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use crate::entity::revision;

/// Saves kept at most, and the bytes of their titles and contents at most:
/// whichever bound is reached first drops the oldest.
const MAX_ENTRIES: usize = 256;
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// A saved revision and the notebook's latest revision before it, as the
/// save's insert saw them under the notebook's write lock.
#[derive(Clone)]
pub struct KeptRevision {
    pub revision: Arc<revision::Model>,
    /// 0 when the notebook had no revision before (as a subscriber's `seen`).
    pub previous_id: i32,
}

impl KeptRevision {
    fn bytes(&self) -> usize {
        size_of::<revision::Model>() + self.revision.title.len() + self.revision.content.len()
    }
}

/// Shared by the process; cloning shares it.
#[derive(Clone)]
pub struct KeptRevisions {
    kept: Arc<Mutex<Kept>>,
}

struct Kept {
    entries: VecDeque<KeptRevision>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl Default for KeptRevisions {
    fn default() -> Self {
        KeptRevisions::bounded(MAX_ENTRIES, MAX_BYTES)
    }
}

impl KeptRevisions {
    fn bounded(max_entries: usize, max_bytes: usize) -> Self {
        let kept = Kept {
            entries: VecDeque::new(),
            bytes: 0,
            max_entries,
            max_bytes,
        };
        KeptRevisions {
            kept: Arc::new(Mutex::new(kept)),
        }
    }

    /// Keeps a save, dropping the oldest ones beyond the bounds. Call after
    /// its transaction committed (nothing uncommitted is ever sent) and before
    /// its event is published, so that this process's subscribers find it
    /// when they hear of it.
    pub fn keep(&self, saved: KeptRevision) {
        let mut kept = self.kept();
        kept.bytes += saved.bytes();
        kept.entries.push_back(saved);
        while kept.entries.len() > kept.max_entries || kept.bytes > kept.max_bytes {
            let Some(oldest) = kept.entries.pop_front() else {
                break;
            };
            kept.bytes -= oldest.bytes();
        }
    }

    /// Revision `revision_id` of the notebook, if it is kept and nothing can
    /// have been saved between `seen` and it: then it is all a subscriber
    /// that has seen `seen` is missing.
    pub fn following(
        &self,
        notebook_id: i32,
        seen: i32,
        revision_id: i32,
    ) -> Option<Arc<revision::Model>> {
        let kept = self.kept();
        // The newest last: a subscriber asks for a save it has just heard of.
        let saved = kept
            .entries
            .iter()
            .rev()
            .find(|saved| saved.revision.id == revision_id)?;
        (saved.revision.notebook_id == notebook_id && saved.previous_id == seen)
            .then(|| saved.revision.clone())
    }

    // A panic elsewhere while it was held leaves it whole: the bytes are
    // counted after each push and each pop.
    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn saved(id: i32, previous_id: i32, content_bytes: usize) -> KeptRevision {
        KeptRevision {
            revision: Arc::new(revision::Model {
                id,
                notebook_id: 1,
                title: String::new(),
                content: "x".repeat(content_bytes),
                is_draft: true,
                created_at: Utc::now(),
            }),
            previous_id,
        }
    }

    fn kept_ids(kept: &KeptRevisions) -> Vec<i32> {
        let kept = kept.kept();
        kept.entries.iter().map(|saved| saved.revision.id).collect()
    }

    #[test]
    fn a_kept_save_follows_only_the_revision_before_it_in_its_notebook() {
        let kept = KeptRevisions::default();
        kept.keep(saved(5, 3, 10));
        assert_eq!(kept.following(1, 3, 5).map(|r| r.id), Some(5));
        // Revision 4 may exist (saved elsewhere, or deleted): not enough.
        assert!(kept.following(1, 2, 5).is_none());
        assert!(kept.following(2, 3, 5).is_none());
        assert!(kept.following(1, 3, 6).is_none());
    }

    #[test]
    fn beyond_the_entry_bound_the_oldest_are_dropped() {
        let kept = KeptRevisions::bounded(3, MAX_BYTES);
        for id in 1..=5 {
            kept.keep(saved(id, id - 1, 10));
        }
        assert_eq!(kept_ids(&kept), [3, 4, 5]);
        assert!(kept.following(1, 1, 2).is_none());
    }

    #[test]
    fn beyond_the_byte_bound_the_oldest_are_dropped() {
        let one = saved(1, 0, 1000).bytes();
        let kept = KeptRevisions::bounded(MAX_ENTRIES, 2 * one + one / 2);
        for id in 1..=4 {
            kept.keep(saved(id, id - 1, 1000));
        }
        assert_eq!(kept_ids(&kept), [3, 4]);
        assert_eq!(kept.kept().bytes, 2 * one);
    }

    #[test]
    fn a_save_larger_than_the_byte_bound_is_not_kept() {
        let kept = KeptRevisions::bounded(MAX_ENTRIES, 100);
        kept.keep(saved(1, 0, 10));
        kept.keep(saved(2, 1, 1000));
        assert!(kept_ids(&kept).is_empty());
        assert_eq!(kept.kept().bytes, 0);
    }
}
