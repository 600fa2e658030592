//! Sign-in with GitHub (OAuth2 authorization code with PKCE S256). The server
//! holds no passwords: GitHub says who the person is, and we keep their login,
//! name, avatar and email.

use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl, basic::BasicClient,
};
use serde::Deserialize;
use url::Url;

use crate::config::{Config, GithubConfig};

/// What a sign-in attempt must remember until GitHub sends the person back.
#[derive(Debug, serde::Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub pkce_verifier: String,
    pub next: Option<String>,
}

/// The person, as GitHub's API describes them.
#[derive(Debug, Deserialize)]
pub struct GithubUser {
    pub login: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GitHub did not accept the sign-in code: {0}")]
    Exchange(String),
    #[error("GitHub's user API failed: {0}")]
    UserApi(String),
}

#[derive(Clone, Debug)]
pub struct Github {
    config: GithubConfig,
    redirect_url: Url,
    http: reqwest::Client,
}

impl Github {
    pub fn from_config(config: &Config) -> Option<Self> {
        let github = config.github.clone()?;
        let redirect_url = config
            .server_uri
            .join("oauth/complete/github/")
            .expect("a path joins any base URL");
        // Following redirects from a token endpoint opens the door to SSRF.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .user_agent(concat!("iodide-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's settings are valid");
        Some(Github {
            config: github,
            redirect_url,
            http,
        })
    }

    fn client(
        &self,
    ) -> BasicClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    > {
        BasicClient::new(ClientId::new(self.config.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.config.client_secret.clone()))
            .set_auth_uri(AuthUrl::from_url(self.config.authorize_url.clone()))
            .set_token_uri(TokenUrl::from_url(self.config.token_url.clone()))
            .set_redirect_uri(RedirectUrl::from_url(self.redirect_url.clone()))
    }

    /// The URL to send the person to, and what to remember meanwhile.
    pub fn start(&self, next: Option<String>) -> (Url, PendingLogin) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client()
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("user:email".into()))
            .set_pkce_challenge(challenge)
            .url();
        let pending = PendingLogin {
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            next,
        };
        (url, pending)
    }

    /// Trades the code that GitHub sent back for the person's profile.
    pub async fn finish(
        &self,
        code: String,
        pkce_verifier: String,
    ) -> Result<GithubUser, GithubError> {
        let token = self
            .client()
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|err| GithubError::Exchange(err.to_string()))?;
        let user_url = self
            .config
            .api_url
            .join("user")
            .map_err(|err| GithubError::UserApi(err.to_string()))?;
        let response = self
            .http
            .get(user_url)
            .bearer_auth(token.access_token().secret())
            .header("Accept", "application/vnd.github+json")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| GithubError::UserApi(err.to_string()))?;
        response
            .json::<GithubUser>()
            .await
            .map_err(|err| GithubError::UserApi(err.to_string()))
    }
}
