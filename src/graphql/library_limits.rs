//! The limits that async-graphql checks itself: complexity and depth during
//! validation, nesting before it. The library reports them in words only, with no
//! code, type or value. Rather than match those words, which an upgrade may
//! change, each is recognised by the error that the library itself gives, asked
//! once, for a query over that limit in a one-type schema under the same limits.

use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SchemaBuilder, ServerError};
use tokio::sync::OnceCell;

use super::limits::{MAX_COMPLEXITY, MAX_DEPTH, MAX_NESTING};

/// Sets the limits that the library checks: the API's schemas and the probe
/// below share them.
pub fn bound<Q, M, S>(builder: SchemaBuilder<Q, M, S>) -> SchemaBuilder<Q, M, S> {
    builder
        .limit_complexity(MAX_COMPLEXITY)
        .limit_depth(MAX_DEPTH)
        .limit_recursive_depth(MAX_NESTING)
}

/// The messages of the library's refusals, as it gave them to the probe.
pub struct LibraryLimits {
    too_complex: Option<String>,
    too_deep: Option<String>,
    too_nested: Option<String>,
}

impl LibraryLimits {
    pub async fn learned() -> &'static LibraryLimits {
        static LEARNED: OnceCell<LibraryLimits> = OnceCell::const_new();
        LEARNED.get_or_init(learn).await
    }

    /// What to tell a client whose query one of the library's limits refused
    /// (which limit, and its value); None for every other error.
    pub fn message_for(&self, error: &ServerError) -> Option<String> {
        let is = |refusal: &Option<String>| refusal.as_ref() == Some(&error.message);
        if is(&self.too_complex) {
            Some(format!(
                "The query is too complex: its cost is over the limit of {MAX_COMPLEXITY} \
                 (a connection costs its page size times its fields)"
            ))
        } else if is(&self.too_deep) {
            Some(format!(
                "The query is nested more than {MAX_DEPTH} levels deep"
            ))
        } else if is(&self.too_nested) {
            Some(format!(
                "The query nests selections and fragments more than {MAX_NESTING} levels deep"
            ))
        } else {
            None
        }
    }
}

/// The probe's one type: a field that costs more than the limit, and a chain of
/// fields as long as a query likes.
struct Probe;

#[Object]
impl Probe {
    #[graphql(complexity = "MAX_COMPLEXITY + 1")]
    async fn costly(&self) -> bool {
        false
    }

    async fn next(&self) -> Option<Probe> {
        None
    }
}

async fn learn() -> LibraryLimits {
    let probe = bound(Schema::build(Probe, EmptyMutation, EmptySubscription)).finish();
    let refusal = |query: String| {
        let probe = probe.clone();
        async move { Some(probe.execute(query).await.errors.first()?.message.clone()) }
    };
    LibraryLimits {
        too_complex: refusal("{ costly }".to_string()).await,
        too_deep: refusal(chain(MAX_DEPTH + 1)).await,
        too_nested: refusal(chain(MAX_NESTING + 1)).await,
    }
}

/// `{ next { next { __typename } } }`, with `links` times `next`.
fn chain(links: usize) -> String {
    format!(
        "{{ {}__typename {}}}",
        "next { ".repeat(links),
        "} ".repeat(links)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_nests_one_level_per_link() {
        assert_eq!(chain(2), "{ next { next { __typename } } }");
    }

    /// Queries that the API's own schema refuses for each of the library's
    /// limits are recognised, and nothing else is.
    #[tokio::test]
    async fn the_library_limits_of_the_api_schema_are_recognised() {
        let schema = crate::graphql::builder().finish();
        let library = LibraryLimits::learned().await;
        let deep = format!(
            "{{ viewer {} id {} }}",
            "{ notebooks(first: 1) { nodes { owner ".repeat(6),
            "} } } ".repeat(6)
        );
        let nested = format!(
            "{{ {} viewer {{ id }} {} }}",
            "... on Query { ".repeat(MAX_NESTING),
            "} ".repeat(MAX_NESTING)
        );
        let costly =
            "{ notebooks(first: 100) { nodes { revisions(first: 100) { nodes { id } } } } }";
        for (query, limit) in [
            (costly, MAX_COMPLEXITY),
            (&deep, MAX_DEPTH),
            (&nested, MAX_NESTING),
        ] {
            let response = schema.execute(query).await;
            let message = library.message_for(&response.errors[0]);
            assert!(
                message.is_some_and(|message| message.contains(&limit.to_string())),
                "{query}: {:?}",
                response.errors
            );
        }
        let invalid = schema.execute("{ viewer { nope } }").await;
        assert_eq!(library.message_for(&invalid.errors[0]), None);
    }
}
