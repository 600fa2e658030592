//! Descriptions of the types that async-graphql defines for us (scalars, Relay
//! connections and edges), which otherwise carry the library's generic words or
//! none. Our own types describe themselves in their doc comments.

use async_graphql::{
    ID, SchemaBuilder, Upload,
    connection::{Connection, Edge, EmptyFields, PageInfo},
};
use chrono::{DateTime, Utc};

use super::{
    Mutation, Query, Subscription,
    connection::{IdCursor, NotebookTotal, RevisionTotal},
    notebook::Notebook,
    revision::Revision,
};

const DATE_TIME: &str = "A moment in time, in UTC: an RFC 3339 string with the offset +00:00 and \
as many fractional-second digits as it needs, such as \"2026-12-07T10:57:48.123456+00:00\".";

const IDENTIFIER: &str = "An id: a database integer, sent as a string (\"42\"), so that the \
notebook with id 42 is the one at /notebooks/42/. Ids are unique within a type.";

const UPLOAD: &str = "A file, sent as one part of a multipart/form-data request as the GraphQL \
multipart request spec describes (operations, map, then the files): the map names the variable \
that the part fills, and one part fills one variable. Such a request needs an X-Requested-With \
(or Authorization) header, which a cross-site form cannot send. A file may be at most 10 MiB.";

const PAGE_INFO: &str = "Where a page lies in its list: whether more items come before or after \
it, and the cursors to ask for them (after: endCursor, before: startCursor).";

const NOTEBOOK_CONNECTION: &str = "A page of notebooks, newest first, and how to reach the next.";
const NOTEBOOK_EDGE: &str = "A notebook in a page, with its cursor.";
const REVISION_CONNECTION: &str = "A page of revisions, newest first, and how to reach the next.";
const REVISION_EDGE: &str = "A revision in a page, with its cursor.";

type Builder = SchemaBuilder<Query, Mutation, Subscription>;

pub fn describe_library_types(builder: Builder) -> Builder {
    builder
        .override_output_type_description::<ID>(IDENTIFIER)
        .override_output_type_description::<DateTime<Utc>>(DATE_TIME)
        .override_input_type_description::<Upload>(UPLOAD)
        .override_output_type_description::<PageInfo>(PAGE_INFO)
        .override_output_type_description::<Connection<IdCursor, Notebook, NotebookTotal>>(
            NOTEBOOK_CONNECTION,
        )
        .override_output_type_description::<Edge<IdCursor, Notebook, EmptyFields>>(NOTEBOOK_EDGE)
        .override_output_type_description::<Connection<IdCursor, Revision, RevisionTotal>>(
            REVISION_CONNECTION,
        )
        .override_output_type_description::<Edge<IdCursor, Revision, EmptyFields>>(REVISION_EDGE)
}
