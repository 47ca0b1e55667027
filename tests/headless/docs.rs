//! The documentation's examples work: the full scene example in scenes/README.md
//! parses, and every message example in data-feeds/SCHEMA.md decodes.

use crate::common::*;
use citytwin::feeds::schema::FeedMessage;
use citytwin::scene::Scene;

#[test]
fn scene_readme_example_parses() {
    let md = std::fs::read_to_string(repo_root().join("scenes/README.md")).unwrap();
    let examples = citytwin::markdown_blocks(&md, "ron");
    assert!(!examples.is_empty());
    let scene = Scene::parse(&examples[0], std::path::Path::new("scenes/README.md"))
        .unwrap_or_else(|e| panic!("the README's example does not parse: {e}"));
    assert_eq!(scene.file.layers.len(), 6);
    assert_eq!(scene.file.layers[3].encoding.as_deref(), Some("GBK"));
    assert_eq!(scene.file.layers[4].table.as_deref(), Some("街道"));
    assert_eq!(
        citytwin::city::import::Format::of(&scene.file.layers[5].path),
        Ok(citytwin::city::import::Format::FlatGeobuf)
    );
    assert_eq!(
        scene.file.extent,
        Some(citytwin::scene::Extent::Radius(30000.0))
    );
    assert_eq!(scene.file.views[0].name, "overview");
    assert_eq!(scene.file.tls_ca.as_deref(), Some("certs/city-ca.pem"));
    assert_eq!(scene.file.security.control_topics, ["city/control/#"]);
    let project = &scene.file.projects[0];
    assert_eq!(project.scenarios[0].models.len(), 2);
    assert_eq!(
        project.scenarios[0].models[1].role,
        citytwin::plan::project::ModelRole::Facility("childcare".into())
    );
    // The credentials file example parses, its secrets kept out of its Debug text.
    let creds = examples
        .iter()
        .find(|b| b.trim_start().starts_with('['))
        .expect("a credentials example");
    credentials_example_parses(creds);
}

/// Parses the credentials example with its `password_env`/`bearer_env` entries
/// replaced by literal values (no environment is touched by the test).
fn credentials_example_parses(example: &str) {
    let text = example
        .replace("password_env: \"HOTLINE_PW\"", "password: \"pw\"")
        .replace("bearer_env: \"IOT_TOKEN\"", "bearer: \"tok\"");
    let creds =
        citytwin::feeds::secrets::Credentials::parse(&text, std::path::Path::new("/etc/citytwin"))
            .unwrap_or_else(|e| panic!("the credentials example does not parse: {e}"));
    let broker = creds
        .for_source("mqtts", "broker.zz.gov.cn", 8883, "")
        .expect("the broker entry");
    assert_eq!(broker.user.as_deref(), Some("wall"));
    assert_eq!(
        broker.client_cert,
        Some((
            "/etc/citytwin/wall.pem".into(),
            "/etc/citytwin/wall.key".into()
        ))
    );
    assert!(
        creds
            .for_source("https", "api.zz.gov.cn", 443, "/hotline/today")
            .is_some()
    );
    assert!(
        !format!("{creds:?}").contains("pw\""),
        "secrets print as ***"
    );
}

#[test]
fn schema_examples_decode() {
    let md = std::fs::read_to_string(repo_root().join("data-feeds/SCHEMA.md")).unwrap();
    let examples: Vec<String> = citytwin::markdown_blocks(&md, "json")
        .into_iter()
        .filter(|b| !b.contains('…'))
        .collect();
    assert_eq!(examples.len(), 7, "one example per kind");
    for text in examples {
        let one_line = text.lines().map(str::trim).collect::<String>();
        FeedMessage::decode(&one_line)
            .unwrap_or_else(|e| panic!("SCHEMA.md example does not decode: {e}\n{one_line}"));
    }
}
