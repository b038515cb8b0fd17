//! Property tests of the parsers that face operators and attackers: the timezone offset, the whole
//! configuration loader, and the `/secret` authenticator. Arbitrary input never panics, valid input
//! is accepted exactly, secrets never leak into errors or `Debug`, tampered tokens never pass.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use greeter::auth::Authenticator;
use greeter::configuration::{load_from, parse_offset, SECRET_VARIABLES, VARIABLES};
use jsonwebtoken::{encode, EncodingKey, Header};
use proptest::prelude::*;

use crate::helpers::{auth_env, test_env, API_KEY, JWT_SECRET};

proptest! {
    #[test]
    fn parse_offset_never_panics(text in "\\PC{0,24}") {
        let _ = parse_offset(&text);
    }

    #[test]
    fn parse_offset_accepts_every_hh_mm_up_to_14_hours(
        negative: bool,
        minutes in 0i32..=14 * 60,
    ) {
        let sign = if negative { "-" } else { "+" };
        let text = format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60);
        let expected = if negative { -minutes } else { minutes } * 60;
        prop_assert_eq!(parse_offset(&text).map(|o| o.local_minus_utc()), Ok(expected));
    }

    #[test]
    fn parse_offset_rejects_beyond_14_hours(negative: bool, minutes in 14 * 60 + 1..100 * 60) {
        let sign = if negative { "-" } else { "+" };
        let text = format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60);
        prop_assert!(parse_offset(&text).is_err(), "{} accepted", text);
    }

    #[test]
    fn parse_offset_hours_and_half_hours(negative: bool, halves in 0i32..=28) {
        let hours = f64::from(halves) / 2.0;
        let text = format!("{}{hours}", if negative { "-" } else { "" });
        let expected = if negative { -halves } else { halves } * 30 * 60;
        prop_assert_eq!(parse_offset(&text).map(|o| o.local_minus_utc()), Ok(expected));
    }
}

/// Variables whose values the loader parses, filled with arbitrary text below.
/// Every non-secret setting the service reads, plus `APP_ENV` (which selects a layer).
fn parsed() -> Vec<&'static str> {
    VARIABLES
        .iter()
        .copied()
        .filter(|v| !SECRET_VARIABLES.contains(v))
        .chain(["APP_ENV"])
        .collect()
}

/// Plausible values and arbitrary text, so runs reach both the happy path and every error.
fn setting_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,20}",
        "-?[0-9]{1,6}",
        Just("true".to_string()),
        Just("+05:30".to_string()),
        Just("http://127.0.0.1:4318".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn config_never_panics_and_never_echoes_a_secret(
        parsed in proptest::collection::hash_map(proptest::sample::select(parsed()), setting_value(), 0..8),
        secrets in proptest::collection::vec("[a-z0-9]{32}", SECRET_VARIABLES.len()),
    ) {
        let mut env: HashMap<String, String> = test_env(&[]);
        let markers: Vec<String> = secrets.iter().map(|s| format!("S3CR3T-{s}")).collect();
        env.extend(SECRET_VARIABLES.iter().zip(&markers).map(|(k, v)| (k.to_string(), v.clone())));
        env.extend(parsed.into_iter().map(|(k, v)| (k.to_string(), v)));
        let shown = match load_from(&env) {
            Ok(settings) => format!("{settings:?}"),
            Err(error) => {
                prop_assert!(
                    env.contains_key(&error.variable) || error.variable == "CONFIG_DIR",
                    "the error names {:?}, which was not set", error.variable
                );
                error.to_string()
            }
        };
        for marker in &markers {
            prop_assert!(!shown.contains(marker.as_str()), "a secret leaked: {}", shown);
        }
    }
}

fn authenticator() -> Authenticator {
    let settings = load_from(&test_env(&auth_env())).unwrap();
    Authenticator::new(&settings.secrets.auth)
}

fn headers(name: HeaderName, value: &[u8]) -> Option<HeaderMap> {
    let value = HeaderValue::from_bytes(value).ok()?;
    let mut map = HeaderMap::new();
    map.insert(name, value);
    Some(map)
}

fn valid_token(subject: &str, lifetime: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "sub": subject,
        "iss": "https://issuer.test",
        "aud": "greeter",
        "exp": now + lifetime,
    });
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

proptest! {
    #[test]
    fn arbitrary_api_keys_are_rejected(key in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assume!(key != API_KEY.as_bytes());
        if let Some(map) = headers(HeaderName::from_static("x-api-key"), &key) {
            prop_assert!(authenticator().authenticate(&map).1.is_err());
        }
    }

    #[test]
    fn arbitrary_authorization_values_are_rejected(
        scheme in prop_oneof![Just("Bearer "), Just("bearer "), Just("Basic "), Just("")],
        value in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let raw = [scheme.as_bytes(), &value].concat();
        if let Some(map) = headers(AUTHORIZATION, &raw) {
            prop_assert!(authenticator().authenticate(&map).1.is_err());
        }
    }

    #[test]
    fn valid_tokens_pass_and_any_tampered_character_fails(
        subject in "[a-zA-Z0-9 ]{0,40}",
        lifetime in 60u64..86_400,
        position in any::<prop::sample::Index>(),
        replacement in proptest::sample::select(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()
        ),
    ) {
        let auth = authenticator();
        let token = valid_token(&subject, lifetime);
        let bearer = |t: &str| headers(AUTHORIZATION, format!("Bearer {t}").as_bytes()).unwrap();
        prop_assert!(auth.authenticate(&bearer(&token)).1.is_ok());

        // The last character of each base64url segment carries padding bits that decoders may
        // ignore; every other character is significant.
        let bytes = token.as_bytes();
        let significant: Vec<usize> = (0..bytes.len())
            .filter(|&i| bytes[i] != b'.' && bytes.get(i + 1).is_some_and(|&next| next != b'.'))
            .collect();
        let i = significant[position.index(significant.len())];
        prop_assume!(bytes[i] != replacement);
        let mut tampered = bytes.to_vec();
        tampered[i] = replacement;
        let tampered = String::from_utf8(tampered).unwrap();
        prop_assert!(auth.authenticate(&bearer(&tampered)).1.is_err(), "accepted {}", tampered);
    }
}
