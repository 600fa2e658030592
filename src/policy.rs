//! Every read and write decision of the server, and nowhere else.
//!
//! Public mode: anyone reads everything, only the owner writes. Internal mode
//! (RESTRICT_API=1): nothing is readable without an identity. Staff read
//! everything and see private fields, but never write into others' notebooks.

use crate::{
    auth::Viewer,
    entity::{notebook, user},
    error::{Error, Result},
};

/// Whether reads need an identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiMode {
    Public,
    Internal,
}

impl ApiMode {
    pub fn from_restrict_api(restrict_api: bool) -> Self {
        if restrict_api {
            ApiMode::Internal
        } else {
            ApiMode::Public
        }
    }
}

pub fn ensure_can_read(viewer: &Viewer, mode: ApiMode) -> Result<()> {
    match (mode, &viewer.user) {
        (ApiMode::Internal, None) => Err(Error::Unauthenticated(
            "This server is private: sign in or send a token to read it".into(),
        )),
        _ => Ok(()),
    }
}

/// The signed-in user, or UNAUTHENTICATED: every write needs one.
pub fn signed_in(viewer: &Viewer) -> Result<&user::Model> {
    viewer
        .user
        .as_ref()
        .ok_or_else(|| Error::Unauthenticated("Sign in or send a token to do this".into()))
}

pub fn can_edit_notebook(viewer: &Viewer, notebook: &notebook::Model) -> bool {
    viewer.user_id() == Some(notebook.owner_id)
}

pub fn ensure_can_edit_notebook(viewer: &Viewer, notebook: &notebook::Model) -> Result<()> {
    signed_in(viewer)?;
    if can_edit_notebook(viewer, notebook) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "Only the notebook's owner can change it; fork it to make your own copy".into(),
        ))
    }
}

/// A user's email and grants: the user themself and staff.
pub fn can_see_private_user_fields(viewer: &Viewer, user: &user::Model) -> bool {
    viewer.user_id() == Some(user.id) || viewer.is_staff()
}

/// A file source's URL and a fetch's failure reason may name private hosts or
/// carry secrets in a query string: the notebook's owner only.
pub fn can_see_owner_only_fields(viewer: &Viewer, notebook_owner_id: i32) -> bool {
    viewer.user_id() == Some(notebook_owner_id)
}

/// Who will own a new notebook: the viewer, or another username when the viewer
/// holds the on-behalf-of grant.
pub enum NotebookOwner<'a> {
    Viewer(&'a user::Model),
    OnBehalfOf(&'a str),
}

pub fn notebook_owner<'a>(
    viewer: &'a Viewer,
    requested: Option<&'a str>,
) -> Result<NotebookOwner<'a>> {
    let user = signed_in(viewer)?;
    match requested {
        None => Ok(NotebookOwner::Viewer(user)),
        Some(name) if name == user.username => Ok(NotebookOwner::Viewer(user)),
        Some(_) if !user.can_create_on_behalf_of_others => Err(Error::Forbidden(
            "You may not create notebooks for other users".into(),
        )),
        Some(name) => Ok(NotebookOwner::OnBehalfOf(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthMethod;

    fn user(id: i32, staff: bool, on_behalf: bool) -> user::Model {
        user::Model {
            id,
            username: format!("user{id}"),
            email: None,
            full_name: None,
            avatar: None,
            is_staff: staff,
            can_create_on_behalf_of_others: on_behalf,
            created_at: chrono::Utc::now(),
            last_login_at: None,
        }
    }

    fn notebook(owner_id: i32) -> notebook::Model {
        notebook::Model {
            id: 1,
            owner_id,
            title: "t".into(),
            forked_from_id: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn staff_read_but_do_not_write_others_notebooks() {
        let staff = Viewer::user(user(2, true, false), AuthMethod::ApiToken);
        assert!(ensure_can_read(&staff, ApiMode::Internal).is_ok());
        assert!(can_see_private_user_fields(&staff, &user(1, false, false)));
        assert!(matches!(
            ensure_can_edit_notebook(&staff, &notebook(1)),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn anonymous_reads_only_in_public_mode() {
        let anonymous = Viewer::anonymous();
        assert!(ensure_can_read(&anonymous, ApiMode::Public).is_ok());
        assert!(matches!(
            ensure_can_read(&anonymous, ApiMode::Internal),
            Err(Error::Unauthenticated(_))
        ));
        assert!(matches!(
            ensure_can_edit_notebook(&anonymous, &notebook(1)),
            Err(Error::Unauthenticated(_))
        ));
    }

    #[test]
    fn on_behalf_of_needs_the_grant() {
        let plain = Viewer::user(user(1, false, false), AuthMethod::ApiToken);
        let granted = Viewer::user(user(2, false, true), AuthMethod::ApiToken);
        assert!(matches!(
            notebook_owner(&plain, Some("other")),
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            notebook_owner(&plain, Some("user1")),
            Ok(NotebookOwner::Viewer(_))
        ));
        assert!(matches!(
            notebook_owner(&granted, Some("other")),
            Ok(NotebookOwner::OnBehalfOf("other"))
        ));
    }
}
