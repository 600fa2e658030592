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
