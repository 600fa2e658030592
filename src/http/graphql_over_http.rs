//! The GraphQL-over-HTTP spec (GraphQL Foundation) for /api/graphql: which
//! media type an answer takes (from Accept), which requests are well-formed,
//! and which status each answer gets under each media type.
//!
//! Under `application/json` every answer to a well-formed request is 200, as
//! legacy clients expect. Under `application/graphql-response+json` a request
//! error (the document does not parse or validate, the variables do not
//! coerce) is 400 with no `data` entry, so that a client can trust the status.

use std::collections::BTreeMap;

use async_graphql::{BatchRequest, BatchResponse, Request, Response, ServerError, Value};
use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response as HttpResponse,
};
use serde_json::{Map, Value as Json};

use crate::error::Error;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMedia {
    GraphqlResponseJson,
    /// For legacy clients: every well-formed request answers 200.
    Json,
}

impl ResponseMedia {
    /// The type the client prefers among the two we serve. No Accept, or only
    /// wildcards, means `application/json`: what clients written before the
    /// spec expect (the spec's watershed default would surprise them).
    pub fn negotiate(headers: &HeaderMap) -> Result<Self, Error> {
        let accept: Vec<&str> = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        if accept.is_empty() {
            return Ok(ResponseMedia::Json);
        }
        let ranges: Vec<MediaRange> = accept
            .iter()
            .flat_map(|value| value.split(','))
            .filter_map(MediaRange::parse)
            .collect();
        let graphql = preference(&ranges, GRAPHQL_RESPONSE_JSON);
        let json = preference(&ranges, JSON);
        if graphql.quality == 0 && json.quality == 0 {
            return Err(Error::NotAcceptable(format!(
                "Answers are {GRAPHQL_RESPONSE_JSON} or {JSON} (UTF-8): accept one of them"
            )));
        }
        // Between equals, a type named outright wins over a wildcard, and
        // between two named ones the spec's own type; wildcards alone get
        // application/json.
        let named_both = graphql.specificity == EXACT && json.specificity == EXACT;
        Ok(if graphql > json || (graphql == json && named_both) {
            ResponseMedia::GraphqlResponseJson
        } else {
            ResponseMedia::Json
        })
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            ResponseMedia::GraphqlResponseJson => {
                "application/graphql-response+json; charset=utf-8"
            }
            ResponseMedia::Json => "application/json; charset=utf-8",
        })
    }

    /// An answer written elsewhere (a refusal from `Error`) in this media type.
    pub fn label(self, mut response: HttpResponse) -> HttpResponse {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, self.content_type());
        response
    }

    /// The GraphQL response as this media type says: its status, and under
    /// graphql-response+json no `data` entry after a request error.
    pub fn render(self, response: &BatchResponse) -> HttpResponse {
        let (status, body) = match response {
            BatchResponse::Single(one) if self.refuses(one) => {
                (StatusCode::BAD_REQUEST, to_json(&WithoutData::from(one)))
            }
            other => (StatusCode::OK, to_json(other)),
        };
        let mut http = HttpResponse::new(Body::from(body));
        *http.status_mut() = status;
        http.headers_mut()
            .insert(header::CONTENT_TYPE, self.content_type());
        http
    }

    fn refuses(self, response: &Response) -> bool {
        self == ResponseMedia::GraphqlResponseJson && is_request_error(response)
    }
}

/// The answer's bytes, written once. The response can hold 20 KB of content,
/// which serde_json escapes byte by byte; sonic-rs checks 32 bytes at a time
/// and writes the same JSON, byte for byte (see the tests below). It reserves
/// room for every string byte escaped (six times its length): fine for an
/// answer sent and dropped; one kept for longer is copied to its size.
fn to_json(value: &impl serde::Serialize) -> Vec<u8> {
    // Only a map with keys that are not strings fails, and the response has none.
    sonic_rs::to_vec(value).unwrap_or_else(|_| b"null".to_vec())
}

/// Whether the request failed before execution began (the document does not
/// parse or validate, the operation cannot be chosen, the variables do not
/// coerce, a limit refused it): then there is no data and no error has a path,
/// whereas a field error always has one, even when it nulls the whole data.
pub fn is_request_error(response: &Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

/// A response serialised without its `data` entry.
#[derive(serde::Serialize)]
struct WithoutData<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "<[ServerError]>::is_empty")]
    errors: &'a [ServerError],
}

impl<'a> From<&'a Response> for WithoutData<'a> {
    fn from(response: &'a Response) -> Self {
        WithoutData {
            extensions: &response.extensions,
            errors: &response.errors,
        }
    }
}

/// One entry of Accept, its quality in thousandths (RFC 9110, 12.4.2).
struct MediaRange<'a> {
    essence: &'a str,
    quality: u16,
}

impl<'a> MediaRange<'a> {
    /// None for an entry that asks for another charset than UTF-8, the only
    /// one the spec's media types use.
    fn parse(entry: &'a str) -> Option<Self> {
        let mut parts = entry.split(';').map(str::trim);
        let essence = parts.next().filter(|essence| !essence.is_empty())?;
        let mut quality = 1000;
        for parameter in parts {
            let (name, value) = parameter.split_once('=')?;
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "q" => quality = parse_quality(value)?,
                "charset" if !is_utf8(value) => return None,
                _ => {}
            }
        }
        Some(MediaRange { essence, quality })
    }

    /// How specifically this range names `media` (exact beats `type/*`, which
    /// beats `*/*`), or None when it does not.
    fn specificity(&self, media: &str) -> Option<u8> {
        let (kind, _) = media.split_once('/')?;
        if self.essence.eq_ignore_ascii_case(media) {
            Some(EXACT)
        } else if self.essence.eq_ignore_ascii_case(&format!("{kind}/*")) {
            Some(1)
        } else if self.essence == "*/*" {
            Some(0)
        } else {
            None
        }
    }
}

const EXACT: u8 = 2;

/// How much a client wants one media type: ordered by quality, then by how
/// specifically it was named.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Preference {
    quality: u16,
    specificity: u8,
}

/// The quality the most specific matching range gives `media` (RFC 9110):
/// 0 when none does.
fn preference(ranges: &[MediaRange], media: &str) -> Preference {
    ranges
        .iter()
        .filter_map(|range| {
            Some(Preference {
                specificity: range.specificity(media)?,
                quality: range.quality,
            })
        })
        .max_by_key(|preference| preference.specificity)
        .unwrap_or(Preference {
            quality: 0,
            specificity: 0,
        })
}

fn parse_quality(value: &str) -> Option<u16> {
    let quality: f32 = value.parse().ok()?;
    (0.0..=1.0)
        .contains(&quality)
        .then(|| (quality * 1000.0).round() as u16)
}

fn is_utf8(charset: &str) -> bool {
    charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")
}

/// A POST body as the spec's JSON encoding defines it: an object (or, for the
/// editor's batches, an array of them) whose `query` is a string (absent only
/// with a persisted query), `operationName` a string, `variables` and
/// `extensions` objects. Anything else is not a GraphQL request.
pub fn parse_json_body(body: &[u8]) -> Result<BatchRequest, Error> {
    let json: Json = serde_json::from_slice(body)
        .map_err(|err| Error::bad_input(format!("The body is not JSON: {err}")))?;
    match json {
        Json::Array(entries) if entries.is_empty() => {
            Err(Error::bad_input("A batch must hold at least one operation"))
        }
        Json::Array(entries) => entries
            .into_iter()
            .map(well_formed)
            .collect::<Result<_, _>>()
            .map(BatchRequest::Batch),
        other => well_formed(other).map(BatchRequest::Single),
    }
}

/// The parameters of a GET request, whose `variables` and `extensions` are
/// JSON text; an empty `operationName` is the same as none.
pub fn parse_query_string(query: &str) -> Result<Request, Error> {
    let mut request = Map::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let (name, value) = (name.into_owned(), value.into_owned());
        let value = match name.as_str() {
            "operationName" if value.is_empty() => continue,
            "variables" | "extensions" => serde_json::from_str(&value).map_err(|err| {
                Error::bad_input(format!("The parameter {name} is not JSON: {err}"))
            })?,
            _ => Json::String(value),
        };
        if request.insert(name.clone(), value).is_some() {
            return Err(Error::bad_input(format!(
                "The parameter {name} is given more than once"
            )));
        }
    }
    well_formed(Json::Object(request))
}

fn well_formed(request: Json) -> Result<Request, Error> {
    let Json::Object(mut request) = request else {
        return Err(Error::bad_input(
            "A GraphQL request is a JSON object with a query",
        ));
    };
    // null stands for absent, as in the spec's JSON encoding.
    request.retain(|_, value| !value.is_null());
    let persisted = request
        .get("extensions")
        .and_then(|extensions| extensions.get("persistedQuery"))
        .is_some();
    let shape_error = |name: &str, shape: &str| {
        Error::bad_input(format!(
            "The request's {name} must be {shape} (see the GraphQL-over-HTTP spec)"
        ))
    };
    match request.get("query") {
        Some(Json::String(_)) => {}
        None if persisted => {}
        None => return Err(shape_error("query", "given, as a string")),
        Some(_) => return Err(shape_error("query", "a string")),
    }
    if request
        .get("operationName")
        .is_some_and(|name| !name.is_string())
    {
        return Err(shape_error("operationName", "a string"));
    }
    for name in ["variables", "extensions"] {
        if request.get(name).is_some_and(|value| !value.is_object()) {
            return Err(shape_error(name, "an object"));
        }
    }
    serde_json::from_value(Json::Object(request))
        .map_err(|err| Error::bad_input(format!("The request cannot be read: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiate(accept: &str) -> Result<ResponseMedia, Error> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        ResponseMedia::negotiate(&headers)
    }

    #[test]
    fn accept_picks_the_preferred_type_we_serve() {
        use ResponseMedia::*;
        assert_eq!(ResponseMedia::negotiate(&HeaderMap::new()).unwrap(), Json);
        assert_eq!(negotiate("*/*").unwrap(), Json);
        assert_eq!(negotiate("application/*").unwrap(), Json);
        assert_eq!(negotiate("application/json").unwrap(), Json);
        assert_eq!(
            negotiate("application/graphql-response+json, application/json").unwrap(),
            GraphqlResponseJson
        );
        assert_eq!(
            negotiate("application/graphql-response+json;q=0.5, application/json").unwrap(),
            Json
        );
        assert_eq!(
            negotiate("application/json;q=0.9, application/graphql-response+json").unwrap(),
            GraphqlResponseJson
        );
        assert_eq!(
            negotiate("text/html, application/graphql-response+json; charset=utf-8").unwrap(),
            GraphqlResponseJson
        );
        assert_eq!(
            negotiate("*/*, application/json;q=0").unwrap(),
            GraphqlResponseJson
        );
        assert!(negotiate("text/html").is_err());
        assert!(negotiate("application/json; charset=latin1").is_err());
    }

    /// Every character JSON escapes, or that a writer could mangle, at every
    /// offset of a 32-byte block.
    fn awkward_text() -> String {
        let controls: String = (0u8..0x20).map(char::from).collect();
        let specials = "\"\\/'<>&\u{7f}\u{80}\u{2028}\u{2029}\u{feff}😀\u{10ffff}é日本";
        (0..40)
            .map(|shift| format!("{}{controls}{specials}", "x".repeat(shift)))
            .collect()
    }

    #[test]
    fn answers_are_the_json_that_serde_json_writes() {
        let text = awkward_text();
        let data = Value::from_json(serde_json::json!({
            "notebook": { "id": "7", "title": text, "count": -12, "big": u64::MAX,
                          "list": [true, null, "", text], "none": null }
        }))
        .unwrap();
        let mut error = ServerError::new(
            text.clone(),
            Some(async_graphql::Pos { line: 1, column: 9 }),
        );
        error.path = vec![
            async_graphql::PathSegment::Field("notebook".into()),
            async_graphql::PathSegment::Index(3),
        ];
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", "BAD_USER_INPUT");
        extensions.set("retryAfter", 30);
        error.extensions = Some(extensions);
        let answer = || Response::new(data.clone()).extension("cost", Value::from(3));
        let failed = || Response::from_errors(vec![error.clone()]);
        for response in [
            BatchResponse::Single(answer()),
            BatchResponse::Single(failed()),
            BatchResponse::Batch(vec![answer(), failed()]),
        ] {
            assert_eq!(
                String::from_utf8(to_json(&response)).unwrap(),
                serde_json::to_string(&response).unwrap()
            );
        }
        let failed = failed();
        assert_eq!(
            to_json(&WithoutData::from(&failed)),
            serde_json::to_vec(&WithoutData::from(&failed)).unwrap()
        );
    }

    #[test]
    fn only_graphql_requests_are_well_formed() {
        assert!(parse_json_body(br#"{"query":"{ __typename }"}"#).is_ok());
        assert!(parse_json_body(br#"{"query":"{ a }","variables":null}"#).is_ok());
        assert!(parse_json_body(br#"{"extensions":{"persistedQuery":{"version":1}}}"#).is_ok());
        for bad in [
            &br#"{"foo": 1}"#[..],
            br#"{"query": 1}"#,
            br#"{"query":"{ a }","variables":[7]}"#,
            br#"{"query":"{ a }","operationName":1}"#,
            br#"{"query":"{ a }","extensions":"x"}"#,
            br#"[]"#,
            br#""{ a }""#,
            b"NONSENSE",
        ] {
            assert!(
                parse_json_body(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(parse_query_string("query=%7Ba%7D&operationName=").is_ok());
        assert!(parse_query_string("variables=%7B%7D").is_err());
        assert!(parse_query_string("query=%7Ba%7D&variables=nope").is_err());
        assert!(parse_query_string("query=%7Ba%7D&query=%7Bb%7D").is_err());
    }
}
