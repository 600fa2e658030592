"""Schemathesis checks for a GraphQL API whose errors are answers, not failures.

Schemathesis' own not_a_server_error treats every GraphQL error as a server
error; here a refusal with a code of the contract (BAD_USER_INPUT, NOT_FOUND,
FORBIDDEN, ...) is a correct answer. What fails: an HTTP 5xx, an error without a
code, and an INTERNAL error (a bug: the server's own fault).
"""
import schemathesis


@schemathesis.check
def no_internal_error(response, case):
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]}")
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"not JSON: {response.text[:500]}")
    parts = body if isinstance(body, list) else [body]
    for part in parts:
        for error in part.get("errors") or []:
            code = (error.get("extensions") or {}).get("code")
            if code is None:
                raise AssertionError(f"an error without a code: {error}")
            if code == "INTERNAL":
                raise AssertionError(f"an internal error: {error}")


# A JSON request cannot carry a file: any value for Upload must be refused with
# BAD_USER_INPUT, which is worth checking too.
from hypothesis import strategies as st  # noqa: E402
from schemathesis.graphql import nodes  # noqa: E402

schemathesis.graphql.scalar("Upload", st.text(max_size=20).map(nodes.String))
