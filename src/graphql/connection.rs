//! Relay connections over keyset pages: opaque cursors, and the page arguments.

use async_graphql::{
    Context, Object,
    connection::{Connection, CursorType, Edge},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::context::db;
use crate::{
    error::{Error, Result},
    notebooks::{self, NotebookFilter, revisions::RevisionFilter},
    pagination::{Page, PageRequest},
};

/// A row's id, opaque to clients so that the encoding may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdCursor(pub i32);

const CURSOR_TAG: &str = "id:";

impl CursorType for IdCursor {
    type Error = Error;

    fn decode_cursor(cursor: &str) -> Result<Self> {
        URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.strip_prefix(CURSOR_TAG)?.parse::<i32>().ok())
            .map(IdCursor)
            .ok_or_else(|| Error::bad_input(format!("{cursor:?} is not a cursor of this API")))
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{CURSOR_TAG}{}", self.0))
    }
}

/// `first`, `after`, `last` and `before`, as the client sent them.
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    pub fn into_request(self) -> Result<PageRequest> {
        let decode = |cursor: Option<String>| {
            cursor
                .map(|cursor| IdCursor::decode_cursor(&cursor).map(|c| c.0))
                .transpose()
        };
        PageRequest::new(
            self.first,
            decode(self.after)?,
            self.last,
            decode(self.before)?,
        )
    }
}

/// Builds a connection from a page of rows, wrapping each row as `node`.
pub fn connection<Row, Node, Fields>(
    page: Page<Row>,
    fields: Fields,
    id: impl Fn(&Row) -> i32,
    node: impl Fn(Row) -> Node,
) -> Connection<IdCursor, Node, Fields>
where
    Node: async_graphql::OutputType,
    Fields: async_graphql::ObjectType,
{
    let mut connection =
        Connection::with_additional_fields(page.has_previous_page, page.has_next_page, fields);
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|row| Edge::new(IdCursor(id(&row)), node(row))),
    );
    connection
}

/// `totalCount` of a notebook list, counted only when asked for.
pub struct NotebookTotal(pub NotebookFilter);

#[Object]
impl NotebookTotal {
    /// How many notebooks the list holds, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        Ok(clamp(notebooks::count(db(ctx), &self.0).await?))
    }
}

/// `totalCount` of a notebook's revisions, counted only when asked for.
pub struct RevisionTotal(pub RevisionFilter);

#[Object]
impl RevisionTotal {
    /// How many revisions the list holds, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        Ok(clamp(notebooks::revisions::count(db(ctx), &self.0).await?))
    }
}

fn clamp(count: u64) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_strangers() {
        let cursor = IdCursor(42).encode_cursor();
        assert_eq!(IdCursor::decode_cursor(&cursor).unwrap(), IdCursor(42));
        for bad in ["", "42", "aWQ6", "aWQ6eA", "!!!", "bm9wZTo0Mg"] {
            assert!(IdCursor::decode_cursor(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_id_round_trips(id in proptest::num::i32::ANY) {
            let cursor = IdCursor(id).encode_cursor();
            proptest::prop_assert_eq!(IdCursor::decode_cursor(&cursor).unwrap(), IdCursor(id));
        }

        #[test]
        fn any_text_decodes_or_is_refused_without_panicking(text in ".{0,64}") {
            let _ = IdCursor::decode_cursor(&text);
        }
    }
}
