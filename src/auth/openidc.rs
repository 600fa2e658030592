//! OpenIDC mode: a fronting proxy authenticates people and names the user in a
//! header (OPENIDC_HEADER). Paths that match OPENIDC_AUTH_WHITELIST skip the proxy
//! check (for scripts and for an editor whose proxy session lapsed) and ignore the
//! header entirely: there only a JWT or an API token identifies anyone.
//!
//! The app must then be reachable only through the proxy, or anyone could send the
//! header and be whoever they like.

use percent_encoding::percent_decode_str;
use regex::Regex;

use crate::config::OpenIdcConfig;

/// The paths that skip the proxy's check.
#[derive(Clone, Debug)]
pub struct Whitelist {
    patterns: Vec<Regex>,
}

impl Whitelist {
    /// `patterns` come from the configuration, already anchored.
    pub fn new(patterns: Vec<Regex>) -> Self {
        Whitelist { patterns }
    }

    /// A path is whitelisted only when both its raw form and its normalised form
    /// match, so that neither encoding nor dot segments can smuggle a protected
    /// path past the check. The query string is never looked at.
    pub fn allows(&self, raw_path: &str) -> bool {
        let Some(normalised) = normalise(raw_path) else {
            return false;
        };
        self.matches(raw_path) && self.matches(&normalised)
    }

    fn matches(&self, path: &str) -> bool {
        self.patterns.iter().any(|pattern| pattern.is_match(path))
    }
}

/// Percent-decodes the path, collapses repeated slashes and resolves `.` and `..`.
/// `None` when the path does not decode to UTF-8 or escapes the root.
fn normalise(raw_path: &str) -> Option<String> {
    let decoded = percent_decode_str(raw_path).decode_utf8().ok()?;
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            other => segments.push(other),
        }
    }
    let trailing = decoded.ends_with('/') && !segments.is_empty();
    let mut path = format!("/{}", segments.join("/"));
    if trailing {
        path.push('/');
    }
    Some(path)
}

/// The proxy's settings, ready to use.
#[derive(Clone, Debug)]
pub struct OpenIdc {
    pub header: String,
    pub whitelist: Whitelist,
}

impl OpenIdc {
    pub fn new(config: &OpenIdcConfig) -> Self {
        OpenIdc {
            header: config.header.clone(),
            whitelist: Whitelist::new(config.whitelist.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whitelist(pattern: &str) -> Whitelist {
        Whitelist::new(vec![Regex::new(&format!("^(?:{pattern})")).unwrap()])
    }

    fn default_whitelist() -> Whitelist {
        whitelist("^/api/")
    }

    #[test]
    fn whitelisted_paths_match_at_the_start_only() {
        let api = default_whitelist();
        assert!(api.allows("/api/graphql"));
        assert!(!api.allows("/token/"));
        assert!(!api.allows("/x/api/graphql"));
        assert!(!whitelist("/api/").allows("/evil/api/"));
    }

    #[test]
    fn encodings_and_dot_segments_do_not_bypass_the_check() {
        let whitelist = default_whitelist();
        for sneaky in [
            "/api/../token/",
            "/api/%2e%2e/token/",
            "/api/..%2ftoken/",
            "/api%2f..%2ftoken/",
            "/%61pi/../userinfo/",
            "/api/./../../userinfo/",
            "/api/%ff",
        ] {
            assert!(!whitelist.allows(sneaky), "{sneaky}");
        }
        assert!(whitelist.allows("/api//graphql"));
    }

    #[test]
    fn normalise_resolves_segments() {
        assert_eq!(normalise("/a/./b/../c/").as_deref(), Some("/a/c/"));
        assert_eq!(normalise("//a//b").as_deref(), Some("/a/b"));
        assert_eq!(normalise("/..").as_deref(), None);
        assert_eq!(normalise("/").as_deref(), Some("/"));
    }

    proptest::proptest! {
        #[test]
        fn normalised_paths_have_no_dot_segments(path in "(/|%2[eEfF]|\\.|[a-z]|%[0-9a-fA-F]{2})*") {
            if let Some(normalised) = normalise(&path) {
                proptest::prop_assert!(normalised.starts_with('/'));
                proptest::prop_assert!(!normalised.contains("//"));
                let segments: Vec<&str> = normalised.split('/').collect();
                proptest::prop_assert!(!segments.contains(&"..") && !segments.contains(&"."));
            }
        }

        #[test]
        fn a_whitelisted_path_normalises_into_the_whitelist(path in "/(api|token|%61pi|\\.\\.|%2e|/)*(/[a-z]{0,3})*") {
            let api = default_whitelist();
            if api.allows(&path) {
                let normalised = normalise(&path).unwrap();
                proptest::prop_assert!(normalised.starts_with("/api/"), "{} -> {}", path, normalised);
            }
        }
    }
}
