//! What one request read, for the response cache: the cache keys it was
//! answered from, each at the generation it was read at, and whether it read
//! anything that no key covers. An answer built only from keys is true for as
//! long as none of them changes generation, since every write that could change
//! it moves them (see [`super::CacheKey`]).

use std::sync::Mutex;

use super::{CacheKey, Generation};

#[derive(Debug, Default)]
pub struct ReadLog(Mutex<Reads>);

#[derive(Debug, Default)]
struct Reads {
    keys: Vec<(CacheKey, Generation)>,
    uncovered: bool,
}

impl ReadLog {
    /// A value served from the cache at `generation`.
    pub fn saw(&self, key: &CacheKey, generation: &Generation) {
        let mut reads = self.0.lock().unwrap();
        match reads.keys.iter().find(|(seen, _)| seen == key) {
            Some((_, earlier)) if earlier == generation => {}
            // The key changed while the request ran: its answer mixes two states.
            Some(_) => reads.uncovered = true,
            None => reads.keys.push((key.clone(), generation.clone())),
        }
    }

    /// A read that no key covers (a SQL statement, a cache miss, the viewer):
    /// the answer is not kept.
    pub fn uncovered(&self) {
        self.0.lock().unwrap().uncovered = true;
    }

    /// The keys (and generations) that the answer rests on, when it rests on
    /// nothing else.
    pub fn covering_keys(&self) -> Option<Vec<(CacheKey, Generation)>> {
        let reads = self.0.lock().unwrap();
        (!reads.uncovered).then(|| reads.keys.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(text: &str) -> Generation {
        Generation(text.into())
    }

    #[test]
    fn a_key_seen_at_two_generations_or_any_uncovered_read_spoils_the_answer() {
        let log = ReadLog::default();
        log.saw(&CacheKey::Notebook(1), &generation("4"));
        log.saw(&CacheKey::Notebook(1), &generation("4"));
        log.saw(&CacheKey::FirstNotebookPage, &generation(""));
        assert_eq!(
            log.covering_keys(),
            Some(vec![
                (CacheKey::Notebook(1), generation("4")),
                (CacheKey::FirstNotebookPage, generation("")),
            ])
        );

        log.saw(&CacheKey::Notebook(1), &generation("5"));
        assert_eq!(log.covering_keys(), None);

        let log = ReadLog::default();
        log.uncovered();
        assert_eq!(log.covering_keys(), None);
    }
}
