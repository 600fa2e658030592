//! How revisionSaved delivers: a save reaches its own instance's subscribers
//! without reading it again, as a read would show it, and never before a
//! revision saved ahead of it elsewhere; saves racing on two instances each
//! arrive once and in order.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::{
    common::{TestApp, ws::WsClient},
    subscriptions::{save, watching_with},
};

/// Every field of the revision itself, none that needs another row.
const WHOLE_REVISION: &str = "subscription($id: ID!) {
    revisionSaved(notebookId: $id) { id title content isDraft createdAt }
}";

async fn next_revision(client: &mut WsClient) -> Value {
    client.next_data().await["revisionSaved"].clone()
}

#[tokio::test]
async fn a_save_reaches_its_own_instances_subscriber_without_sql_as_a_read_shows_it() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (watched, _) = app.notebook(&alice, "Live", "v0").await;
    let (unwatched, _) = app.notebook(&alice, "Live", "v0").await;
    let mut client = watching_with(&app, &alice, &watched, WHOLE_REVISION).await;
    // The first save of a notebook may read what the next ones find cached.
    save(&app, &alice, &unwatched, "warm").await;

    let before = app.statements();
    save(&app, &alice, &unwatched, "alone").await;
    let save_alone = app.statements() - before;

    let before = app.statements();
    let id = save(&app, &alice, &watched, "watched").await;
    let delivered = next_revision(&mut client).await;
    assert_eq!(
        app.statements() - before,
        save_alone,
        "the delivery ran SQL"
    );

    let read = app
        .gql(
            Some(&alice),
            "query($id: ID!) { revision(id: $id) { id title content isDraft createdAt } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(delivered, read.data()["revision"]);
    assert_eq!(delivered["content"], "watched");
}

#[tokio::test]
async fn a_kept_save_heard_before_an_earlier_one_from_elsewhere_still_comes_second() {
    let app = TestApp::spawn().await;
    let elsewhere = app.unheard_instance().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Live", "v0").await;
    let mut client = watching_with(&app, &alice, &id, WHOLE_REVISION).await;

    save(&elsewhere, &alice, &id, "elsewhere").await;
    save(&app, &alice, &id, "here").await;

    assert_eq!(next_revision(&mut client).await["content"], "elsewhere");
    assert_eq!(next_revision(&mut client).await["content"], "here");
}

#[tokio::test]
async fn saves_racing_on_two_instances_each_arrive_once_and_in_order() {
    // Two instances on one SQLite file would only queue behind its lock.
    if std::env::var("TEST_DATABASE_URL")
        .unwrap_or_default()
        .is_empty()
    {
        return;
    }
    let Some((first, second, _redis)) = TestApp::builder().spawn_two_sharing_redis().await else {
        return;
    };
    let alice = first.user("alice").await;
    let (id, _) = first.notebook(&alice, "Live", "v0").await;
    let mut client = watching_with(&first, &alice, &id, WHOLE_REVISION).await;

    let contents: Vec<String> = (1..=24).map(|n| format!("v{n}")).collect();
    let saves = contents.iter().enumerate().map(|(n, content)| {
        let instance = if n % 2 == 0 { &first } else { &second };
        save(instance, &alice, &id, content)
    });
    let ids = join_all(saves).await;
    let mut saved: Vec<(i64, String)> = ids
        .into_iter()
        .map(|id| id.parse().unwrap())
        .zip(contents.iter().cloned())
        .collect();
    saved.sort();

    let mut heard = Vec::new();
    for _ in 0..saved.len() {
        let revision = next_revision(&mut client).await;
        let id = revision["id"].as_str().unwrap().parse().unwrap();
        heard.push((id, revision["content"].as_str().unwrap().to_string()));
    }
    assert_eq!(heard, saved);
}
