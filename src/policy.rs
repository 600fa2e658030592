//! Every read and write decision of the server, and nowhere else.
//!
//! Public mode: anyone reads everything, only the owner writes. Internal mode
//! (RESTRICT_API=1): nothing is readable without an identity. Staff read
//! everything and see private fields, but never write into others' notebooks.
//! The worker fetches file sources only from public addresses, unless an operator
//! allows more.

use std::{net::IpAddr, sync::LazyLock};

use ipnet::IpNet;

use crate::{
    entity::{notebook, user},
    error::{Error, Result},
    viewer::Viewer,
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

/// Whether every viewer, anonymous or not, may read everything: then whether
/// one may read says nothing about who asks.
pub fn anyone_may_read(mode: ApiMode) -> bool {
    mode == ApiMode::Public
}

pub fn ensure_can_read(viewer: &Viewer, mode: ApiMode) -> Result<()> {
    if anyone_may_read(mode) || viewer.user.is_some() {
        return Ok(());
    }
    Err(Error::Unauthenticated(
        "This server is private: sign in or send a token to read it".into(),
    ))
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

/// Networks that a file source may not reach: a notebook must not make the
/// server talk to its own host or its internal network (cloud metadata
/// services, databases, admin pages).
static NON_PUBLIC_NETWORKS: LazyLock<Vec<IpNet>> = LazyLock::new(|| {
    [
        "0.0.0.0/8",       // "this network"
        "10.0.0.0/8",      // private
        "100.64.0.0/10",   // carrier-grade NAT
        "127.0.0.0/8",     // loopback
        "169.254.0.0/16",  // link-local, cloud metadata
        "172.16.0.0/12",   // private
        "192.0.0.0/24",    // protocol assignments
        "192.0.2.0/24",    // documentation (TEST-NET-1)
        "192.168.0.0/16",  // private
        "198.18.0.0/15",   // benchmarking
        "198.51.100.0/24", // documentation (TEST-NET-2)
        "203.0.113.0/24",  // documentation (TEST-NET-3)
        "224.0.0.0/4",     // multicast
        "240.0.0.0/4",     // reserved, broadcast
        "::/96",           // unspecified, loopback, IPv4-compatible (::10.0.0.1)
        "64:ff9b::/96",    // NAT64: would reach any IPv4 address
        "64:ff9b:1::/48",  // local-use NAT64: likewise
        "100::/64",        // discard-only
        "2001::/32",       // Teredo: embeds an IPv4 address
        "2001:db8::/32",   // documentation
        "2002::/16",       // 6to4: likewise
        "fc00::/7",        // unique local
        "fe80::/10",       // link-local
        "ff00::/8",        // multicast
    ]
    .iter()
    .map(|net| net.parse().expect("a valid network"))
    .collect()
});

/// Whether the worker may fetch a file source from `ip`: public addresses, and
/// the networks the operator allows (FILE_SOURCE_ALLOWED_NETWORKS).
pub fn may_fetch_from(ip: IpAddr, allowed: &[IpNet]) -> bool {
    // ::ffff:10.0.0.1 is 10.0.0.1.
    let ip = ip.to_canonical();
    allowed.iter().any(|net| net.contains(&ip))
        || !NON_PUBLIC_NETWORKS.iter().any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::AuthMethod;

    #[test]
    fn fetches_reach_public_addresses_and_allowed_networks_only() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        for public in ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"] {
            assert!(may_fetch_from(ip(public), &[]), "{public}");
        }
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::a00:1",
            "::a00:1",
            "::7f00:1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "2001:db8::1",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!may_fetch_from(ip(internal), &[]), "{internal}");
        }
        let allowed: Vec<IpNet> = vec!["10.1.0.0/16".parse().unwrap()];
        assert!(may_fetch_from(ip("10.1.2.3"), &allowed));
        assert!(!may_fetch_from(ip("10.2.0.1"), &allowed));
    }

    fn user(id: i32, staff: bool, on_behalf: bool) -> user::Model {
        user::Model {
            is_staff: staff,
            can_create_on_behalf_of_others: on_behalf,
            ..user::Model::example(id)
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
            prune_revisions_at: None,
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
        assert!(anyone_may_read(ApiMode::Public));
        assert!(!anyone_may_read(ApiMode::Internal));
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
