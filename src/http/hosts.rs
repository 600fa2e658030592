//! Which site a request is for, by its Host, compared as browsers compare
//! origins: case, a trailing dot and the scheme's default port do not make
//! another host. A Host that is neither SERVER_URI's nor EVAL_FRAME_ORIGIN's gets
//! 400 (health checks aside, for the platform's probes), so that a name pointed
//! at the server by someone else (DNS rebinding) reaches nothing. In
//! development mode any loopback name is the editor too.

use std::net::IpAddr;

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use url::Url;

use super::is_health_check;
use crate::{app::AppState, config::Config, error::Error};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    Editor,
    /// EVAL_FRAME_ORIGIN, when it is not the editor's own origin.
    EvalFrame,
}

/// A host and port as a browser would tell them apart.
#[derive(Debug, PartialEq, Eq)]
struct HostPort {
    host: String,
    port: Option<u16>,
}

impl HostPort {
    /// `host[:port]` from a Host header; the port is left out when it is the
    /// scheme's default.
    fn parse(authority: &str, scheme: &str) -> Option<Self> {
        if authority.contains(['/', '?', '#', '@', '\\']) {
            return None;
        }
        let url = Url::parse(&format!("{scheme}://{authority}/")).ok()?;
        let only_authority = url.username().is_empty() && url.password().is_none();
        only_authority.then(|| Self::of(&url)).flatten()
    }

    fn of(url: &Url) -> Option<Self> {
        let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
        Some(HostPort {
            host,
            port: url.port(),
        })
    }

    fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host.ends_with(".localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// The site that a request with this Host is for, if any.
pub fn site_of(config: &Config, host: Option<&str>) -> Option<Site> {
    let host = host?;
    if let Some(site) = named_as_configured(config, host) {
        return Some(site);
    }
    let scheme = config.server_uri.scheme();
    let requested = HostPort::parse(host, scheme)?;
    let eval = config
        .eval_frame_origin
        .as_ref()
        .filter(|eval| eval.origin() != config.server_uri.origin());
    if eval
        .and_then(HostPort::of)
        .is_some_and(|eval| eval == requested)
    {
        return Some(Site::EvalFrame);
    }
    let editor = HostPort::of(&config.server_uri)?;
    (requested == editor || (config.dev_mode && requested.is_loopback())).then_some(Site::Editor)
}

/// The site whose configured authority is this Host, byte for byte, when
/// only one site has it. Browsers send the authority as written, so nearly
/// every request is told here without parsing a URL, which every request but
/// health checks pays; the rest take the comparison of [`site_of`].
fn named_as_configured(config: &Config, host: &str) -> Option<Site> {
    let editor = config.server_uri.authority() == host;
    let eval = config
        .eval_frame_origin
        .as_ref()
        .is_some_and(|eval| eval.authority() == host);
    match (editor, eval) {
        (true, false) => Some(Site::Editor),
        (false, true) => Some(Site::EvalFrame),
        _ => None,
    }
}

/// The Host of a request: its header, or the authority of an absolute URI.
pub fn requested_host(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        })
}

/// Middleware, outermost: refuses unknown hosts and tells the layers inside
/// which site the request is for.
pub async fn check_host(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if is_health_check(request.uri().path()) {
        return next.run(request).await;
    }
    match site_of(&state.config, requested_host(&request)) {
        Some(site) => {
            request.extensions_mut().insert(site);
            next.run(request).await
        }
        None => Error::bad_input("This server does not answer for that Host").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(server: &str, eval: Option<&str>, dev_mode: bool) -> Config {
        let mut config = Config::for_database("sqlite::memory:");
        config.server_uri = server.parse().unwrap();
        config.eval_frame_origin = eval.map(|eval| eval.parse().unwrap());
        config.dev_mode = dev_mode;
        config
    }

    #[test]
    fn hosts_compare_as_browsers_compare_them() {
        let config = config(
            "https://notebooks.example/",
            Some("https://eval.example:8443"),
            false,
        );
        let site = |host| site_of(&config, Some(host));
        for editor in [
            "notebooks.example",
            "NoteBooks.Example.",
            "notebooks.example:443",
        ] {
            assert_eq!(site(editor), Some(Site::Editor), "{editor}");
        }
        for eval in ["eval.example:8443", "EVAL.example.:8443"] {
            assert_eq!(site(eval), Some(Site::EvalFrame), "{eval}");
        }
        for other in [
            "evil.example",
            "notebooks.example:8443",
            "eval.example",
            "localhost",
            "user@notebooks.example",
            "notebooks.example.evil.example",
            "",
        ] {
            assert_eq!(site(other), None, "{other}");
        }
        assert_eq!(site_of(&config, None), None);
    }

    #[test]
    fn an_eval_frame_on_the_editors_origin_is_the_editor() {
        let config = config(
            "https://notebooks.example/",
            Some("https://notebooks.example"),
            false,
        );
        assert_eq!(
            site_of(&config, Some("notebooks.example")),
            Some(Site::Editor)
        );
    }

    #[test]
    fn development_mode_accepts_loopback_names() {
        let config = config(
            "http://localhost:8000/",
            Some("http://127.0.0.1:8000/"),
            true,
        );
        let site = |host| site_of(&config, Some(host));
        assert_eq!(site("127.0.0.1:8000"), Some(Site::EvalFrame));
        for editor in [
            "localhost:8000",
            "LOCALHOST.:8000",
            "[::1]:8000",
            "127.0.0.2:8000",
        ] {
            assert_eq!(site(editor), Some(Site::Editor), "{editor}");
        }
        assert_eq!(site("evil.example:8000"), None);
    }
}
