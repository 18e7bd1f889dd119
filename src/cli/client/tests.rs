use super::*;
use crate::escape::dangerous;
use crate::keys::KeyAlg;
use crate::oauth::clients::{AuthMethod, ClientKeys, ClientMetadata};

/// A client stored before registration refused such characters (or written to the
/// database by other means): what the operator sees must still be inert.
fn hostile() -> Client {
    let evil = "https://a.example/cb\u{1b}]52;c;ZXZpbA==\u{7}\u{202e}\u{2028}\u{85}\n";
    Client {
        client_id: "c1".into(),
        name: format!("app{evil}"),
        secret_hash: None,
        keys: ClientKeys::Uri(evil.into()),
        dpop_bound: false,
        require_par: false,
        registered_by: crate::oauth::clients::RegisteredBy::Open,
        registration_token_hash: None,
        metadata: ClientMetadata {
            client_uri: Some(evil.into()),
            software_id: Some(evil.into()),
            contacts: vec![evil.into()],
            ..Default::default()
        },
        disabled_at: None,
        tokens_not_before: None,
        introspection: crate::oauth::clients::Introspection::Own,
        auth_methods: vec![AuthMethod::None],
        grant_types: vec![GrantType::AuthorizationCode],
        redirect_uris: vec![evil.into()],
        scope: crate::domain::scope::Scope::parse("openid").unwrap(),
        resources: vec![evil.into()],
        post_logout_redirect_uris: vec![evil.into()],
        id_token_alg: KeyAlg::RS256,
        backchannel_logout: None,
        secret_reported_at: None,
        created_at: 0,
    }
}

#[test]
fn show_prints_every_field_inert() {
    let text = describe(&hostile(), None);
    for line in text.lines() {
        assert!(!line.chars().any(dangerous), "{line:?}");
    }
    assert!(text.contains("\\u{1b}]52;c;"), "{text}");
    assert!(
        text.contains("\\u{202e}") && text.contains("\\u{85}"),
        "{text}"
    );
}

#[test]
fn json_output_is_inert_and_the_same_value() {
    let c = hostile();
    let line = json_line(&c, None);
    assert!(!line.chars().any(dangerous), "{line:?}");
    let back: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(back, to_json(&c, None));
}
