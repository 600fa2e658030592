use serde_json::{Value, json};

use crate::common::TestApp;

/// schema.graphql is what the code serves; regenerate it with
/// `cargo run -- schema > schema.graphql` when this fails.
#[test]
fn schema_graphql_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql at the repository root");
    let served = iodide_server::graphql::sdl();
    assert!(
        committed == served,
        "schema.graphql differs from the code: run `cargo run -- schema > schema.graphql`"
    );
}

/// What GraphiQL's documentation pane shows of every type.
const DOCS_PANE: &str = "{ __schema { types { name description
    fields(includeDeprecated: true) { name description args { name description } }
    inputFields { name description }
    enumValues(includeDeprecated: true) { name description } } } }";

#[tokio::test]
async fn every_type_field_argument_input_field_and_enum_value_is_described() {
    let app = TestApp::spawn().await;
    let schema = app.gql(None, DOCS_PANE, json!({})).await;
    let types = schema.data()["__schema"]["types"].as_array().unwrap();
    let names: Vec<&str> = types.iter().filter_map(|ty| ty["name"].as_str()).collect();
    for expected in [
        "Query",
        "Mutation",
        "Notebook",
        "DateTime",
        "UpdateInterval",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let undescribed = undescribed(types);
    assert!(
        undescribed.is_empty(),
        "these have no description: {undescribed:#?}"
    );
    let date_time = types.iter().find(|ty| ty["name"] == "DateTime").unwrap();
    assert!(
        date_time["description"]
            .as_str()
            .unwrap()
            .contains("RFC 3339"),
        "{date_time}"
    );
}

/// The paths (Type.field(argument), Type.VALUE, ...) of everything of our
/// types that has no description; GraphQL's own `__` types are the library's.
fn undescribed(types: &[Value]) -> Vec<String> {
    let mut missing = Vec::new();
    let mut check = |path: String, item: &Value| {
        let described = item["description"]
            .as_str()
            .is_some_and(|text| !text.trim().is_empty());
        if !described {
            missing.push(path);
        }
    };
    let listed = |item: &Value, key: &str| item[key].as_array().cloned().unwrap_or_default();
    let name_of = |item: &Value| item["name"].as_str().unwrap_or_default().to_string();
    for ty in types {
        let name = name_of(ty);
        if name.starts_with("__") {
            continue;
        }
        check(name.clone(), ty);
        for field in listed(ty, "fields") {
            let path = format!("{name}.{}", name_of(&field));
            for argument in listed(&field, "args") {
                check(format!("{path}({})", name_of(&argument)), &argument);
            }
            check(path, &field);
        }
        for input in listed(ty, "inputFields")
            .into_iter()
            .chain(listed(ty, "enumValues"))
        {
            check(format!("{name}.{}", name_of(&input)), &input);
        }
    }
    missing
}
