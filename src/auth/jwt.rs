//! JSON Web Tokens for scripts and the editor: POST /token/ (with a browser
//! identity) returns an access token (5 minutes) and a refresh token (1 day);
//! `Authorization: Bearer ACCESS` then identifies the user.
//!
//! HS256 with SECRET_KEY and nothing else: the algorithm is fixed by the server,
//! never read from the token, so "none" and RS/HS confusion cannot apply. The
//! `token_type` claim keeps a refresh token from ever passing as an access token.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};

pub const ACCESS_LIFETIME: Duration = Duration::minutes(5);
pub const REFRESH_LIFETIME: Duration = Duration::days(1);
/// Clock skew tolerated between servers, and no more.
const LEEWAY_SECONDS: u64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub user_id: i32,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    /// The browser session's token family (refresh tokens from /token/):
    /// signing out revokes it (see refresh_revocation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("The token has expired")]
    Expired,
    #[error("The token is a {0:?} token, not an {1:?} token")]
    WrongType(TokenType, TokenType),
    #[error("The token is malformed or its signature is invalid")]
    Invalid,
    #[error("The token was revoked when its session signed out")]
    Revoked,
}

pub fn issue(secret: &str, user_id: i32, token_type: TokenType, now: DateTime<Utc>) -> String {
    issue_in_family(secret, user_id, token_type, None, now)
}

fn issue_in_family(
    secret: &str,
    user_id: i32,
    token_type: TokenType,
    family: Option<String>,
    now: DateTime<Utc>,
) -> String {
    let lifetime = match token_type {
        TokenType::Access => ACCESS_LIFETIME,
        TokenType::Refresh => REFRESH_LIFETIME,
    };
    let claims = Claims {
        token_type,
        user_id,
        jti: Alphanumeric.sample_string(&mut rand::rng(), 22),
        iat: now.timestamp(),
        exp: (now + lifetime).timestamp(),
        family,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing with an in-memory key cannot fail")
}

/// An access token and a refresh token in `family`, if the pair is for a
/// browser session.
pub fn issue_pair(
    secret: &str,
    user_id: i32,
    family: Option<String>,
    now: DateTime<Utc>,
) -> TokenPair {
    TokenPair {
        access: issue(secret, user_id, TokenType::Access, now),
        refresh: issue_in_family(secret, user_id, TokenType::Refresh, family, now),
    }
}

/// The claims of a valid, unexpired token of the expected type.
pub fn verify(secret: &str, token: &str, expected: TokenType) -> Result<Claims, JwtError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECONDS;
    validation.set_required_spec_claims(&["exp"]);
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|err| match err.kind() {
        ErrorKind::ExpiredSignature => JwtError::Expired,
        _ => JwtError::Invalid,
    })?;
    if data.claims.token_type != expected {
        return Err(JwtError::WrongType(data.claims.token_type, expected));
    }
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a secret of sufficient length";

    #[test]
    fn tokens_verify_only_as_their_own_type() {
        let pair = issue_pair(SECRET, 7, None, Utc::now());
        assert_eq!(
            verify(SECRET, &pair.access, TokenType::Access)
                .unwrap()
                .user_id,
            7
        );
        assert_eq!(
            verify(SECRET, &pair.refresh, TokenType::Refresh)
                .unwrap()
                .user_id,
            7
        );
        assert!(matches!(
            verify(SECRET, &pair.refresh, TokenType::Access),
            Err(JwtError::WrongType(..))
        ));
    }

    #[test]
    fn expiry_allows_only_a_few_seconds_of_leeway() {
        let just_expired = Utc::now() - ACCESS_LIFETIME - Duration::seconds(2);
        let token = issue(SECRET, 1, TokenType::Access, just_expired);
        assert!(verify(SECRET, &token, TokenType::Access).is_ok());
        let long_expired = Utc::now() - ACCESS_LIFETIME - Duration::seconds(30);
        let token = issue(SECRET, 1, TokenType::Access, long_expired);
        assert_eq!(
            verify(SECRET, &token, TokenType::Access).unwrap_err(),
            JwtError::Expired
        );
    }

    #[test]
    fn another_key_or_garbage_is_invalid() {
        let token = issue(SECRET, 1, TokenType::Access, Utc::now());
        assert_eq!(
            verify("another secret entirely", &token, TokenType::Access).unwrap_err(),
            JwtError::Invalid
        );
        for garbage in ["", "a.b.c", "eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoxfQ."] {
            assert_eq!(
                verify(SECRET, garbage, TokenType::Access).unwrap_err(),
                JwtError::Invalid
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_is_never_a_token(text in "\\PC{0,200}") {
            proptest::prop_assert!(verify(SECRET, &text, TokenType::Access).is_err());
        }

        #[test]
        fn a_tampered_token_is_refused(user in 1..i32::MAX, position in 0usize..200, byte in proptest::char::range('a', 'z')) {
            let token = issue(SECRET, user, TokenType::Access, Utc::now());
            let position = position % token.len();
            let mut tampered: Vec<char> = token.chars().collect();
            if tampered[position] == byte || tampered[position] == '.' {
                return Ok(());
            }
            tampered[position] = byte;
            let tampered: String = tampered.into_iter().collect();
            if let Ok(claims) = verify(SECRET, &tampered, TokenType::Access) {
                // Only a change in base64 padding bits can leave the meaning intact.
                proptest::prop_assert_eq!(claims.user_id, user);
            }
        }
    }
}
