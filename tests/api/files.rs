use serde_json::json;

use std::{num::NonZeroUsize, sync::Arc};

use crate::common::{Gql, TestApp, TestAppBuilder, TestUser, request::RequestHelper};

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn an_uploaded_file_is_listed_and_downloaded() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Data", "").await;
    let upload = app
        .upload(&alice, &id, "my data.csv", b"a,b\n1,2\n".to_vec())
        .await;
    let file = &upload.data()["uploadFile"];
    assert_eq!(file["filename"], "my data.csv");
    assert_eq!(file["size"], 8);
    assert_eq!(file["contentType"], "text/csv");
    assert_eq!(file["url"], format!("/notebooks/{id}/files/my%20data.csv"));

    let raw = app
        .client
        .get(app.url(file["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    assert_eq!(raw.headers()["content-type"], "text/csv");
    assert_eq!(raw.headers()["x-content-type-options"], "nosniff");
    assert!(
        raw.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );
    assert_eq!(raw.bytes().await.unwrap().as_ref(), b"a,b\n1,2\n");

    let missing = app
        .client
        .get(app.url(&format!("/notebooks/{id}/files/nope.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let not_an_id = app
        .client
        .get(app.url("/notebooks/abc/files/nope.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_an_id.status(), 404);
}

#[tokio::test]
async fn an_upload_over_ten_mebibytes_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Big", "").await;
    let response = app
        .upload(&alice, &id, "big.bin", vec![7u8; 10 * MIB + 1])
        .await;
    assert_eq!(response.status, 413);
    assert_eq!(response.code(), "PAYLOAD_TOO_LARGE");
    let files = app
        .gql(
            None,
            "query($id: ID!) { notebook(id: $id) { files { id } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(files.data()["notebook"]["files"], json!([]));

    let largest = noise(10 * MIB, 3);
    let exactly = app.upload(&alice, &id, "max.bin", largest.clone()).await;
    assert_eq!(exactly.data()["uploadFile"]["size"], 10 * MIB);
    assert!(download(&app, &id, "max.bin").await == largest);
}

/// Bytes that a shifted copy or a short write would not reproduce: every value,
/// in no repeating order.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect()
}

async fn download(app: &TestApp, notebook_id: &str, filename: &str) -> Vec<u8> {
    let raw = app
        .client
        .get(app.url(&format!("/notebooks/{notebook_id}/files/{filename}")))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200, "{filename}");
    raw.bytes().await.unwrap().to_vec()
}

/// `updateFile` with new bytes, as the editor sends it.
async fn replace_bytes(user: &TestUser, file_id: &str, bytes: Vec<u8>) -> Gql {
    let operations = json!({
        "query": "mutation($input: UpdateFileInput!) { updateFile(input: $input) { id filename size } }",
        "variables": { "input": { "id": file_id, "file": null } }
    });
    let map = json!({ "0": ["variables.input.file"] });
    let response = user.send_file(operations, map, "new", bytes).await;
    Gql::read(response).await
}

#[tokio::test]
async fn uploaded_and_replaced_bytes_are_stored_exactly() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Exact", "").await;

    let first = noise(3 * MIB + 7, 1);
    let before = app.statements();
    let uploaded = app.upload(&alice, &id, "noise.bin", first.clone()).await;
    // The API token (unless the shared cache holds it), the notebook's owner,
    // then the insert: the statement that carries the bytes is counted like
    // any other.
    let token_lookup = u64::from(!app.state.cache.reaches_every_process());
    assert_eq!(
        app.statements() - before,
        token_lookup + 2,
        "statements for one upload"
    );
    let file = uploaded.data()["uploadFile"].clone();
    assert_eq!(file["size"], first.len());
    assert!(download(&app, &id, "noise.bin").await == first);

    let second = noise(MIB + 3, 2);
    let file_id = file["id"].as_str().unwrap();
    let before = app.statements();
    let replaced = replace_bytes(&alice, file_id, second.clone()).await;
    // The API token (unless cached), the file, its notebook's owner, the
    // update, the answer's row.
    assert_eq!(
        app.statements() - before,
        token_lookup + 4,
        "statements for one replacement"
    );
    assert_eq!(
        replaced.data()["updateFile"],
        json!({ "id": file_id, "filename": "noise.bin", "size": second.len() })
    );
    assert!(download(&app, &id, "noise.bin").await == second);

    let empty = replace_bytes(&alice, file_id, Vec::new()).await;
    assert_eq!(empty.data()["updateFile"]["size"], 0);
    assert!(download(&app, &id, "noise.bin").await.is_empty());
}

/// One part mapped to many variables would store many files from one copy
/// sent (300 variables made 155 MB of 0.5 MB): refused before anything runs,
/// in one operation or across a batch.
#[tokio::test]
async fn one_part_may_not_fill_two_uploads() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Twice", "").await;
    let bytes = noise(MIB + 5, 4);
    let operations = json!({
        "query": "mutation($id: ID!, $a: Upload!, $b: Upload!) {
                    a: uploadFile(input: { notebookId: $id, filename: \"a.bin\", file: $a }) { size }
                    b: uploadFile(input: { notebookId: $id, filename: \"b.bin\", file: $b }) { size }
                  }",
        "variables": { "id": id, "a": null, "b": null }
    });
    let map = json!({ "0": ["variables.a", "variables.b"] });
    let response = alice.send_file(operations, map, "x", bytes.clone()).await;
    let response = Gql::read(response).await;
    assert_eq!(response.status, 400);
    assert_eq!(response.code(), "BAD_USER_INPUT");
    assert!(
        response.message().contains("one variable"),
        "{}",
        response.body
    );
    assert_eq!(file_count(&app, &id).await, 0);

    let upload =
        "mutation($input: UploadFileInput!) { uploadFile(input: $input) { filename size } }";
    let operations: Vec<_> = ["one.bin", "two.bin", "three.bin"]
        .iter()
        .map(|name| {
            json!({
                "query": upload,
                "variables": { "input": { "notebookId": id, "filename": name, "file": null } }
            })
        })
        .collect();
    let paths: Vec<_> = (0..operations.len())
        .map(|n| format!("{n}.variables.input.file"))
        .collect();
    let response = alice
        .send_file(json!(operations), json!({ "0": paths }), "x", bytes)
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(file_count(&app, &id).await, 0);
}

/// On SQLite an upload is written as a zero-filled blob, then filled in place;
/// SQLite leaves that blob unexpanded only in a row's last column (see
/// migration m20261128_000005). A column added later would go after it.
#[tokio::test]
async fn file_bytes_are_the_last_column_on_sqlite() {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    let app = TestApp::spawn().await;
    if app.state.db.get_database_backend() != DatabaseBackend::Sqlite {
        return;
    }
    let columns = app
        .state
        .db
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "SELECT name FROM pragma_table_info('files') ORDER BY cid",
        ))
        .await
        .unwrap();
    let names: Vec<String> = columns
        .iter()
        .map(|row| row.try_get("", "name").unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "id",
            "notebook_id",
            "filename",
            "size",
            "last_updated",
            "content"
        ]
    );
}

/// A server that runs one request with files at a time.
async fn one_upload_at_a_time() -> Arc<TestApp> {
    Arc::new(
        TestAppBuilder::default()
            // Without Redis the token is looked up in SQL, which tells the
            // test that the server has taken the request in.
            .configure(|config| {
                config.upload_concurrency = Some(NonZeroUsize::MIN);
                config.cache.redis_url = None;
            })
            .spawn()
            .await,
    )
}

async fn file_count(app: &TestApp, notebook_id: &str) -> usize {
    let files = app
        .gql(
            None,
            "query($id: ID!) { notebook(id: $id) { files { id } } }",
            json!({ "id": notebook_id }),
        )
        .await;
    files.data()["notebook"]["files"].as_array().unwrap().len()
}

#[tokio::test]
async fn uploads_over_the_concurrency_limit_wait_and_succeed() {
    let app = one_upload_at_a_time().await;
    let alice = Arc::new(app.user("alice").await);
    let (id, _) = app.notebook(&alice, "Many", "").await;
    let uploads: Vec<_> = (0u8..5)
        .map(|n| {
            let (app, alice, id) = (app.clone(), alice.clone(), id.clone());
            tokio::spawn(async move {
                app.upload(&alice, &id, &format!("{n}.bin"), vec![n; 64 * 1024])
                    .await
            })
        })
        .collect();
    for upload in uploads {
        let response = upload.await.unwrap();
        assert_eq!(response.data()["uploadFile"]["size"], 64 * 1024);
    }
    assert_eq!(file_count(&app, &id).await, 5);
}

#[tokio::test]
async fn an_upload_waits_while_the_limit_is_taken() {
    let app = one_upload_at_a_time().await;
    let alice = Arc::new(app.user("alice").await);
    let (id, _) = app.notebook(&alice, "Held", "").await;
    let held = app.state.uploads.clone().acquire_owned().await.unwrap();
    let before = app.statements();
    let upload = {
        let (app, alice, id) = (app.clone(), alice.clone(), id.clone());
        tokio::spawn(async move { app.upload(&alice, &id, "late.bin", vec![1; 1024]).await })
    };
    // The server has taken the request in once its token was looked up; from
    // there it can only reach the database past the permit we hold.
    for _ in 0..1000 {
        if app.statements() > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(app.statements() > before, "the upload reached the server");
    tokio::task::yield_now().await;
    assert_eq!(file_count(&app, &id).await, 0);
    drop(held);
    let response = upload.await.unwrap();
    assert_eq!(response.data()["uploadFile"]["filename"], "late.bin");
    assert_eq!(file_count(&app, &id).await, 1);
}

/// A request that cannot get an upload permit gives up instead of holding its
/// connection and temporary file forever.
#[tokio::test]
async fn an_upload_gives_up_after_a_bounded_wait() {
    let app = TestAppBuilder::default()
        .configure(|config| {
            config.upload_concurrency = Some(NonZeroUsize::MIN);
            config.upload_wait = std::time::Duration::from_secs(1);
        })
        .spawn()
        .await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Busy", "").await;
    let _held = app.state.uploads.clone().acquire_owned().await.unwrap();
    let refused = app.upload(&alice, &id, "late.bin", vec![1; 1024]).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.code(), "RATE_LIMITED");
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(file_count(&app, &id).await, 0);
}

#[tokio::test]
async fn filenames_are_unique_per_notebook_and_checked() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Files", "").await;
    let (other, _) = app.notebook(&alice, "Other", "").await;
    app.upload(&alice, &id, "a.txt", b"1".to_vec()).await.data();

    let duplicate = app.upload(&alice, &id, "a.txt", b"2".to_vec()).await;
    assert_eq!(duplicate.code(), "BAD_USER_INPUT");
    assert!(
        duplicate
            .message()
            .contains("already has a file named \"a.txt\""),
        "{}",
        duplicate.message()
    );
    app.upload(&alice, &other, "a.txt", b"3".to_vec())
        .await
        .data();

    for bad in ["", "../etc", "a/b", &"x".repeat(121)] {
        let response = app.upload(&alice, &id, bad, b"x".to_vec()).await;
        assert_eq!(response.code(), "BAD_USER_INPUT", "{bad:?}");
    }
    let raw = app
        .client
        .get(app.url(&format!("/notebooks/{id}/files/a.txt")))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.text().await.unwrap(), "1");
}

#[tokio::test]
async fn files_are_renamed_replaced_and_deleted_by_their_owner() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Files", "").await;
    let file_id = app
        .upload(&alice, &id, "old.txt", b"old".to_vec())
        .await
        .data()["uploadFile"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.upload(&alice, &id, "taken.txt", b"t".to_vec())
        .await
        .data();

    let rename = "mutation($id: ID!, $name: String) { updateFile(input: { id: $id, filename: $name }) { filename size } }";
    let clash = app
        .gql(
            Some(&alice),
            rename,
            json!({ "id": file_id, "name": "taken.txt" }),
        )
        .await;
    assert_eq!(clash.code(), "BAD_USER_INPUT");
    let renamed = app
        .gql(
            Some(&alice),
            rename,
            json!({ "id": file_id, "name": "new.txt" }),
        )
        .await;
    assert_eq!(
        renamed.data()["updateFile"],
        json!({ "filename": "new.txt", "size": 3 })
    );

    let raw = app
        .client
        .get(app.url(&format!("/notebooks/{id}/files/new.txt")))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.text().await.unwrap(), "old");

    let deleted = app
        .gql(
            Some(&alice),
            "mutation($id: ID!) { deleteFile(id: $id) }",
            json!({ "id": file_id }),
        )
        .await;
    assert_eq!(deleted.data()["deleteFile"], file_id.as_str());
    let gone = app
        .client
        .get(app.url(&format!("/notebooks/{id}/files/new.txt")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn replacing_a_file_uploads_new_bytes() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let (id, _) = app.notebook(&alice, "Files", "").await;
    let file_id = app
        .upload(&alice, &id, "data.json", b"{}".to_vec())
        .await
        .data()["uploadFile"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let operations = json!({
        "query": "mutation($input: UpdateFileInput!) { updateFile(input: $input) { size contentType } }",
        "variables": { "input": { "id": file_id, "file": null } }
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.input.file"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(b"[1,2,3]".to_vec()).file_name("x"),
        );
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .header("Authorization", format!("Token {}", alice.token))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let response = Gql::read(response).await;
    assert_eq!(
        response.data()["updateFile"],
        json!({ "size": 7, "contentType": "application/json" })
    );
    let raw = app
        .client
        .get(app.url(&format!("/notebooks/{id}/files/data.json")))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.text().await.unwrap(), "[1,2,3]");
}

#[tokio::test]
async fn a_multipart_request_without_a_preflight_header_is_refused() {
    let app = TestApp::spawn().await;
    let form = reqwest::multipart::Form::new()
        .text(
            "operations",
            json!({ "query": "{ viewer { id } }" }).to_string(),
        )
        .text("map", "{}");
    let response = app
        .client
        .post(app.url("/api/graphql"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let response = Gql::read(response).await;
    assert_eq!(response.status, 400);
    assert!(
        response.message().contains("X-Requested-With"),
        "{}",
        response.message()
    );

    let form = reqwest::multipart::Form::new()
        .text(
            "operations",
            json!({ "query": "{ viewer { id } }" }).to_string(),
        )
        .text("map", "{}");
    let allowed = app
        .client
        .post(app.url("/api/graphql"))
        .header("X-Requested-With", "test")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(Gql::read(allowed).await.data()["viewer"], json!(null));
}

#[tokio::test]
async fn file_sources_are_kept_and_refreshed_by_their_owner() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (id, _) = app.notebook(&alice, "Sources", "").await;
    let create = "mutation($input: CreateFileSourceInput!) { createFileSource(input: $input) { id filename url updateInterval latestUpdateOperation { id } } }";
    let created = app
        .gql(
            Some(&alice),
            create,
            json!({ "input": { "notebookId": id, "filename": "data.csv", "url": "https://example.org/data.csv?key=secret", "updateInterval": "DAILY" } }),
        )
        .await;
    let source = created.data()["createFileSource"].clone();
    assert_eq!(source["url"], "https://example.org/data.csv?key=secret");
    assert_eq!(source["updateInterval"], "DAILY");
    assert_eq!(source["latestUpdateOperation"], json!(null));
    let source_id = source["id"].as_str().unwrap();

    for bad_url in ["ftp://example.org/x", "not a url", "file:///etc/passwd"] {
        let response = app
            .gql(
                Some(&alice),
                create,
                json!({ "input": { "notebookId": id, "filename": "x.csv", "url": bad_url } }),
            )
            .await;
        assert_eq!(response.code(), "BAD_USER_INPUT", "{bad_url}");
    }
    let duplicate = app
        .gql(Some(&alice), create, json!({ "input": { "notebookId": id, "filename": "data.csv", "url": "https://example.org/" } }))
        .await;
    assert_eq!(duplicate.code(), "BAD_USER_INPUT");

    let refreshed = app
        .gql(Some(&alice), "mutation($id: ID!) { refreshFileSource(id: $id) { id status startedAt fileSource { id } } }", json!({ "id": source_id }))
        .await;
    let operation = refreshed.data()["refreshFileSource"].clone();
    assert_eq!(operation["status"], "PENDING");
    assert_eq!(operation["startedAt"], json!(null));
    let refused = app
        .gql(
            Some(&bob),
            "mutation($id: ID!) { refreshFileSource(id: $id) { id } }",
            json!({ "id": source_id }),
        )
        .await;
    assert_eq!(refused.code(), "FORBIDDEN");

    let view = "query($id: ID!) { notebook(id: $id) { fileSources { url updateInterval latestUpdateOperation { id status } } } }";
    let public = app.gql(Some(&bob), view, json!({ "id": id })).await;
    assert_eq!(
        public.data()["notebook"]["fileSources"],
        json!([{ "url": null, "updateInterval": "DAILY", "latestUpdateOperation": { "id": operation["id"], "status": "PENDING" } }])
    );
    let op = app
        .gql(
            None,
            "query($id: ID!) { fileUpdateOperation(id: $id) { status fileSource { filename } } }",
            json!({ "id": operation["id"] }),
        )
        .await;
    assert_eq!(
        op.data()["fileUpdateOperation"],
        json!({ "status": "PENDING", "fileSource": { "filename": "data.csv" } })
    );

    let update = "mutation($input: UpdateFileSourceInput!) { updateFileSource(input: $input) { filename updateInterval url } }";
    let updated = app
        .gql(Some(&alice), update, json!({ "input": { "id": source_id, "updateInterval": null, "filename": "renamed.csv" } }))
        .await;
    assert_eq!(
        updated.data()["updateFileSource"],
        json!({ "filename": "renamed.csv", "updateInterval": null, "url": "https://example.org/data.csv?key=secret" })
    );
    let kept = app
        .gql(
            Some(&alice),
            update,
            json!({ "input": { "id": source_id, "url": "http://example.org/v2" } }),
        )
        .await;
    assert_eq!(
        kept.data()["updateFileSource"]["updateInterval"],
        json!(null)
    );
    assert_eq!(
        kept.data()["updateFileSource"]["url"],
        "http://example.org/v2"
    );

    let deleted = app
        .gql(
            Some(&alice),
            "mutation($id: ID!) { deleteFileSource(id: $id) }",
            json!({ "id": source_id }),
        )
        .await;
    assert_eq!(deleted.data()["deleteFileSource"], source_id);
    let gone = app
        .gql(
            None,
            "query($id: ID!) { fileUpdateOperation(id: $id) { id } }",
            json!({ "id": operation["id"] }),
        )
        .await;
    assert_eq!(gone.data()["fileUpdateOperation"], json!(null));
}
