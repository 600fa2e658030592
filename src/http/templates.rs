//! The HTML that the server writes itself, from templates/. askama compiles the
//! templates into the binary (the server needs no files beside it) and escapes
//! every value unless a template marks it safe.

use askama::Template;
use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};

use crate::error::{Error, Shown};

/// The escaper of every .html template (askama.toml): `& < > " '` as entities,
/// by html-escape.
#[derive(Clone, Copy)]
pub struct NamedEntities;

impl askama::filters::Escaper for NamedEntities {
    fn write_escaped_str<W: std::fmt::Write>(&self, mut dest: W, text: &str) -> std::fmt::Result {
        dest.write_str(&html_escape::encode_quoted_attribute(text))
    }
}

/// One page of the editor: the SPA in frontend-stub/ reads `data`.
#[derive(Template)]
#[template(path = "shell.html")]
pub struct Shell<'a> {
    pub title: &'a str,
    /// The Google Analytics id, when the visitor has not asked not to be tracked.
    pub analytics: Option<&'a str>,
    /// JSON that cannot close its script element.
    pub data: &'a str,
}

/// A page that says one thing, with a way on.
#[derive(Template)]
#[template(path = "message.html")]
pub struct Message<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub link: Option<Link>,
}

pub struct Link {
    pub href: String,
    pub text: &'static str,
}

#[derive(Template)]
#[template(path = "sign_in_unavailable.html")]
pub struct SignInUnavailable;

/// Development mode only: sign in as any local username.
#[derive(Template)]
#[template(path = "sign_in_form.html")]
pub struct SignInForm<'a> {
    pub problem: Option<&'a str>,
    pub next: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "signed_in.html")]
pub struct SignedIn;

#[derive(Template)]
#[template(path = "new_notebook.html")]
pub struct ConfirmNewNotebook;

/// The page with its status; a template that fails to render is a bug, shown
/// as any internal error.
pub fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => Error::Internal(format!("template: {err}")).into_response(),
    }
}

/// Middleware for the routes that people open in a browser: an error answers
/// with a page that says what the JSON would have said, with the same status
/// and headers, and a way on (to sign in and come back, or to the notebooks).
pub async fn errors_as_pages(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let Some(shown) = response.extensions().get::<Shown>().cloned() else {
        return response;
    };
    let html = match error_page(&shown, &path).render() {
        Ok(html) => html,
        Err(err) => {
            tracing::error!(%err, "the error page did not render");
            return response;
        }
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response::from_parts(parts, Body::from(html))
}

fn error_page<'a>(shown: &'a Shown, path: &str) -> Message<'a> {
    let all_notebooks = Link {
        href: "/".into(),
        text: "All notebooks",
    };
    let (title, link) = match shown.status {
        StatusCode::UNAUTHORIZED => (
            "Sign in to continue",
            Link {
                href: format!("/login/?next={path}"),
                text: "Sign in",
            },
        ),
        StatusCode::NOT_FOUND => ("Not found", all_notebooks),
        status => (status.canonical_reason().unwrap_or("Error"), all_notebooks),
    };
    Message {
        title,
        message: &shown.message,
        link: Some(link),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_leave_their_text_or_attribute() {
        let form = SignInForm {
            problem: Some("<b>bold</b> & co"),
            next: Some("/x\"><script>alert(1)</script>"),
        };
        let html = form.render().unwrap();
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; co"), "{html}");
        assert!(
            html.contains("value=\"/x&quot;&gt;&lt;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>alert"), "{html}");
    }

    #[test]
    fn an_unauthenticated_page_invites_sign_in_and_comes_back() {
        let shown = Shown {
            status: StatusCode::UNAUTHORIZED,
            message: "This server is private".into(),
        };
        let html = error_page(&shown, "/notebooks/7/").render().unwrap();
        assert!(
            html.contains("<a href=\"/login/?next=/notebooks/7/\">Sign in</a>"),
            "{html}"
        );
        assert!(html.contains("<p>This server is private</p>"), "{html}");
    }
}
