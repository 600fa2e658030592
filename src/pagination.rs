//! Keyset pagination, newest first.
//!
//! Ids are assigned in creation order, so "newest first" is "id descending": one
//! indexed integer column gives a total, stable order (no ties between equal
//! timestamps) and a deep page costs the same as the first.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};

use crate::error::{Error, Result};

pub const MAX_PAGE_SIZE: i32 = 100;
pub const DEFAULT_PAGE_SIZE: i32 = 20;

/// A validated request for one page. `after` and `before` are ids of rows that
/// the client saw; "after" is older (smaller id), "before" is newer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<i32>,
    pub before: Option<i32>,
    pub limit: u64,
    /// `last` was given: take the page nearest to `before`.
    pub backward: bool,
}

#[derive(Debug)]
pub struct Page<T> {
    /// Newest first.
    pub items: Vec<T>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
}

impl PageRequest {
    pub fn new(
        first: Option<i32>,
        after: Option<i32>,
        last: Option<i32>,
        before: Option<i32>,
    ) -> Result<Self> {
        let (size, backward) = match (first, last) {
            (Some(_), Some(_)) => {
                return Err(Error::bad_input("Pass either first or last, not both"));
            }
            (Some(first), None) => (checked_size("first", first)?, false),
            (None, Some(last)) => (checked_size("last", last)?, true),
            (None, None) => (DEFAULT_PAGE_SIZE, false),
        };
        Ok(PageRequest {
            after,
            before,
            limit: size as u64,
            backward,
        })
    }

    /// The newest rows, with no cursor: the page that is cached.
    pub fn is_first_forward_page(&self) -> bool {
        self.after.is_none() && self.before.is_none() && !self.backward
    }

    /// Filters, orders and limits `select` to this page, fetching one row more than
    /// asked so that [`PageRequest::finish`] knows whether another page follows.
    pub fn apply<E: EntityTrait>(&self, select: Select<E>, id: E::Column) -> Select<E> {
        let mut select = select;
        if let Some(after) = self.after {
            select = select.filter(id.lt(after));
        }
        if let Some(before) = self.before {
            select = select.filter(id.gt(before));
        }
        let select = if self.backward {
            select.order_by_asc(id)
        } else {
            select.order_by_desc(id)
        };
        select.limit(self.limit + 1)
    }

    pub fn finish<T>(&self, mut rows: Vec<T>) -> Page<T> {
        let more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        if self.backward {
            rows.reverse();
            Page {
                items: rows,
                has_previous_page: more,
                has_next_page: self.before.is_some(),
            }
        } else {
            Page {
                items: rows,
                has_previous_page: self.after.is_some(),
                has_next_page: more,
            }
        }
    }
}

fn checked_size(name: &str, value: i32) -> Result<i32> {
    if (0..=MAX_PAGE_SIZE).contains(&value) {
        Ok(value)
    } else {
        Err(Error::bad_input(format!(
            "{name} must be between 0 and {MAX_PAGE_SIZE}, got {value}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_bounded() {
        assert!(PageRequest::new(Some(101), None, None, None).is_err());
        assert!(PageRequest::new(None, None, Some(-1), None).is_err());
        assert!(PageRequest::new(Some(1), None, Some(1), None).is_err());
        assert_eq!(PageRequest::new(None, None, None, None).unwrap().limit, 20);
    }

    #[test]
    fn finish_reports_the_sides() {
        let forward = PageRequest::new(Some(2), Some(10), None, None).unwrap();
        let page = forward.finish(vec![9, 8, 7]);
        assert_eq!(page.items, vec![9, 8]);
        assert!(page.has_next_page && page.has_previous_page);

        let backward = PageRequest::new(None, None, Some(2), Some(3)).unwrap();
        let page = backward.finish(vec![4, 5, 6]);
        assert_eq!(page.items, vec![5, 4]);
        assert!(page.has_next_page && page.has_previous_page);
    }
}
