//! Runs GraphQL requests, with the request limits checked before the schema
//! sees them (and the schema hidden from those who may not read it), and every
//! error put into SERVER.md's shape after.
//!
//! Neither is a schema extension: as soon as a schema has one, async-graphql
//! sends every field through the extension chain and looks its type up by name,
//! which costs every list page dearly (docs/performance.md). Only a batch needs an
//! extension (its operations' complexities are summed, and only validation knows
//! them), so batches run in a second copy of the schema that has it.

use std::sync::Arc;

use async_graphql::{
    BatchRequest, BatchResponse, Request, Response, ServerError, ServerResult, Value,
    futures_util::stream::{self, BoxStream, StreamExt},
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
};

use super::{
    AppSchema, ParsedDocuments, errors, hidden_schema, library_limits::LibraryLimits, limits,
    mutation_accounting,
};
use crate::error::Error;

#[derive(Clone)]
pub struct Executor {
    single: AppSchema,
    batch: AppSchema,
    documents: ParsedDocuments,
}

impl Executor {
    pub(super) fn new(single: AppSchema, batch: AppSchema, documents: ParsedDocuments) -> Self {
        Executor {
            single,
            batch,
            documents,
        }
    }

    /// The request with its parsed document, looked up once for everything
    /// that asks about it before and during execution.
    pub fn prepare(&self, request: Request) -> Operation {
        let document = self.documents.get_or_parse(&request.query);
        Operation { request, document }
    }

    /// Each operation of the batch, prepared.
    pub fn prepare_batch(&self, batch: BatchRequest) -> Operations {
        match batch {
            BatchRequest::Single(request) => Operations::Single(self.prepare(request)),
            BatchRequest::Batch(requests) => {
                Operations::Batch(requests.into_iter().map(|r| self.prepare(r)).collect())
            }
        }
    }

    pub async fn execute(&self, batch: Operations) -> BatchResponse {
        match batch {
            Operations::Single(operation) => {
                BatchResponse::Single(self.run(&self.single, operation).await)
            }
            Operations::Batch(operations) => {
                // One after another (async-graphql's execute_batch would run them
                // together): the shared budget is spent in order, and a batch of
                // uploads holds one operation's files in memory at a time.
                let budget = limits::BatchBudget::default();
                let mut responses = Vec::with_capacity(operations.len());
                for operation in operations {
                    let operation = operation.map_request(|r| r.data(budget.clone()));
                    responses.push(self.run(&self.batch, operation).await);
                }
                BatchResponse::Batch(responses)
            }
        }
    }

    /// Runs a subscription for a WebSocket, with the limits and error codes of
    /// a query. Queries and mutations are refused there: they go over HTTP,
    /// where their own rules (CSRF, time limit, charges) apply.
    pub fn subscribe(&self, mut request: Request) -> BoxStream<'static, Response> {
        let schema_hidden = hidden_schema::is_hidden_from(&request);
        let refuse = move |error: ServerError| {
            stream::once(async move {
                let mut response = Response::from_errors(vec![error]);
                present_all(&mut response, schema_hidden).await;
                response
            })
            .boxed()
        };
        match limits::check_document(&self.documents, &request.query) {
            Ok(document) if schema_hidden && hidden_schema::asks_for_schema(&document) => {
                refuse(errors::refusal(hidden_schema::refusal(), []))
            }
            Ok(document) if !is_subscription(&document, request.operation_name.as_deref()) => {
                refuse(errors::refusal(
                    Error::bad_input(
                        "Only subscriptions are served over WebSocket: send queries and mutations with POST",
                    ),
                    [],
                ))
            }
            Ok(document) => {
                request.set_parsed_query(document);
                self.single
                    .execute_stream(request)
                    .then(move |mut response| async move {
                        present_all(&mut response, schema_hidden).await;
                        response
                    })
                    .boxed()
            }
            Err(refusal) => refuse(refusal),
        }
    }

    async fn run(&self, schema: &AppSchema, operation: Operation) -> Response {
        let Operation {
            mut request,
            document,
        } = operation;
        let schema_hidden = hidden_schema::is_hidden_from(&request);
        let checked =
            document.and_then(|document| limits::check_aliases(&document).map(|_| document));
        let mut response = match checked {
            Ok(document) if schema_hidden && hidden_schema::asks_for_schema(&document) => {
                Response::from_errors(vec![errors::refusal(hidden_schema::refusal(), [])])
            }
            Ok(document) => match missing_variable(&document, &request) {
                Some(missing) => Response::from_errors(vec![missing]),
                None => {
                    // async-graphql takes the document by value: the one copy.
                    request.set_parsed_query(ExecutableDocument::clone(&document));
                    schema.execute(request).await
                }
            },
            Err(refusal) => Response::from_errors(vec![refusal]),
        };
        present_all(&mut response, schema_hidden).await;
        response
    }
}

/// One operation of a request and its document (or why it has none), parsed
/// or found once.
pub struct Operation {
    request: Request,
    document: ServerResult<Arc<ExecutableDocument>>,
}

/// The operations of one HTTP request, as a [`BatchRequest`] holds them.
// As in BatchRequest, a single operation is held inline: one value per HTTP
// request, and boxing it would cost an allocation on every read.
#[allow(clippy::large_enum_variant)]
pub enum Operations {
    Single(Operation),
    Batch(Vec<Operation>),
}

impl Operations {
    pub fn iter(&self) -> impl Iterator<Item = &Operation> {
        match self {
            Operations::Single(operation) => std::slice::from_ref(operation).iter(),
            Operations::Batch(operations) => operations.iter(),
        }
    }
}

impl Operation {
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The same operation with its request changed (data added, introspection
    /// turned off); the document stays, as the query text does.
    pub fn map_request(self, change: impl FnOnce(Request) -> Request) -> Self {
        Operation {
            request: change(self.request),
            document: self.document,
        }
    }

    /// Whether the operation that would run is anything but a query. A document
    /// that does not parse runs nothing; execution reports why.
    pub fn changes_state(&self) -> bool {
        let Ok(document) = &self.document else {
            return false;
        };
        let is_query = |ty: &OperationType| *ty == OperationType::Query;
        match &document.operations {
            DocumentOperations::Single(operation) => !is_query(&operation.node.ty),
            DocumentOperations::Multiple(operations) => match &self.request.operation_name {
                Some(name) => operations
                    .iter()
                    .any(|(op_name, op)| op_name.as_str() == name && !is_query(&op.node.ty)),
                None => operations.values().any(|op| !is_query(&op.node.ty)),
            },
        }
    }

    /// The mutation fields that the operation would run: see mutation_accounting.
    pub fn mutation_fields(&self) -> usize {
        self.document.as_ref().map_or(0, |document| {
            mutation_accounting::count_mutation_fields(document, &self.request)
        })
    }
}

/// Puts every error of `response` into SERVER.md's shape.
async fn present_all(response: &mut Response, schema_hidden: bool) {
    if response.errors.is_empty() {
        return;
    }
    let library = LibraryLimits::learned().await;
    for error in &mut response.errors {
        errors::present(error, library, schema_hidden);
    }
    if schema_hidden {
        // Validation errors now read the same: one says as much as many.
        response.errors.dedup();
    }
}

/// Whether the operation that would run is a subscription.
fn is_subscription(document: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    let subscription = |ty: &OperationType| *ty == OperationType::Subscription;
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => subscription(&operation.node.ty),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .iter()
            .any(|(op_name, op)| op_name.as_str() == name && subscription(&op.node.ty)),
        // Several operations and no name: execution says which is missing.
        (DocumentOperations::Multiple(_), None) => true,
    }
}

/// A variable that the operation requires and the request leaves out or sends
/// as null. async-graphql notices it only at the field that uses it, once
/// execution has begun; the GraphQL spec (CoerceVariableValues) refuses the
/// request before, so that nothing runs and HTTP can answer 400.
fn missing_variable(document: &ExecutableDocument, request: &Request) -> Option<ServerError> {
    let operation = match (&document.operations, &request.operation_name) {
        (DocumentOperations::Single(operation), _) => operation,
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name.as_str())?,
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()?
        }
        // No operation can be chosen: execution says so.
        _ => return None,
    };
    operation
        .node
        .variable_definitions
        .iter()
        .find(|definition| {
            let definition = &definition.node;
            let given = request
                .variables
                .get(&definition.name.node)
                .is_some_and(|value| *value != Value::Null);
            !definition.var_type.node.nullable && definition.default_value.is_none() && !given
        })
        .map(|definition| {
            ServerError::new(
                format!(
                    "Variable ${} of type {} must be given a value",
                    definition.node.name.node, definition.node.var_type.node
                ),
                Some(definition.pos),
            )
        })
}
