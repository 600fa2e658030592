use crate::entity::user;

/// How the viewer proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    Anonymous,
    /// `Authorization: Token KEY`.
    ApiToken,
    /// `Authorization: Bearer ACCESS` from /token/.
    Jwt,
    /// The session cookie after signing in.
    Session,
    /// The OpenIDC proxy's header.
    Proxy,
}

/// The identity of one request.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: Option<user::Model>,
    pub via: AuthMethod,
}

impl Viewer {
    pub fn anonymous() -> Self {
        Viewer {
            user: None,
            via: AuthMethod::Anonymous,
        }
    }

    pub fn user(user: user::Model, via: AuthMethod) -> Self {
        Viewer {
            user: Some(user),
            via,
        }
    }

    pub fn user_id(&self) -> Option<i32> {
        self.user.as_ref().map(|user| user.id)
    }

    /// Signed in through a browser (session cookie or OpenIDC proxy): what
    /// /token/ accepts before it hands out JWTs.
    pub fn is_browser_identity(&self) -> bool {
        self.user.is_some() && matches!(self.via, AuthMethod::Session | AuthMethod::Proxy)
    }

    pub fn is_staff(&self) -> bool {
        self.user.as_ref().is_some_and(|user| user.is_staff)
    }
}
