//! `application/x-www-form-urlencoded` bodies and queries: the one reader behind the
//! protocol endpoints, the authorization request and the pages' forms.

use actix_web::HttpRequest;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::web;
use futures_util::StreamExt;

/// Token requests are a few hundred bytes; anything near this is not one.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// How long a form body may take to arrive once the headers are in.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why a form could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("the body must be application/x-www-form-urlencoded")]
    WrongType,
    #[error("the body must be application/json")]
    NotJson,
    #[error("request body too large")]
    TooLarge,
    #[error("the request body did not arrive in time")]
    TooSlow,
    #[error("could not read the request body")]
    Broken,
    #[error("the body is not valid UTF-8")]
    NotUtf8,
    #[error("parameter {0:?} is repeated")]
    Repeated(String),
}

/// A parsed form. RFC 6749 §3.1/§3.2: parameters without a value are treated as
/// omitted, and a parameter must not appear more than once; `resource` (RFC 8707 §2)
/// is the one that may repeat.
#[derive(Default, Clone)]
pub struct Form {
    params: Vec<(String, String)>,
    pub resources: Vec<String>,
    /// The first parameter that appeared twice (its later values are dropped).
    repeated: Option<String>,
    /// A name or value decoded to bytes that are not UTF-8 (that pair is dropped).
    not_utf8: bool,
}

/// Forms carry passwords, codes, secrets and tokens: `Debug` shows the names only.
impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form")
            .field(
                "names",
                &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("resources", &self.resources.len())
            .field("repeated", &self.repeated)
            .finish()
    }
}

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every parameter but `resource`, in the order sent.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The first parameter that appeared more than once, if any.
    pub fn repeated(&self) -> Option<&str> {
        self.repeated.as_deref()
    }

    /// This form with `name` set to `value` (replacing any value it had).
    pub fn with(mut self, name: &str, value: &str) -> Form {
        self.params.retain(|(k, _)| k != name);
        self.params.push((name.to_string(), value.to_string()));
        self
    }

    /// This form without the parameters `names`.
    pub fn without(mut self, names: &[&str]) -> Form {
        self.params.retain(|(k, _)| !names.contains(&k.as_str()));
        self
    }

    /// The parameters encoded again (used to carry a request through a form).
    pub fn encode(&self) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.params {
            ser.append_pair(k, v);
        }
        for r in &self.resources {
            ser.append_pair("resource", r);
        }
        ser.finish()
    }
}

/// Parse without judging: repeats are recorded (`repeated`), not refused, so that each
/// caller answers them in its own way (a JSON error, an error page). A pair that decodes
/// to bytes that are not UTF-8 is dropped and recorded, never altered: a password that
/// changed in decoding would be a silent change of a credential.
pub fn parse(encoded: &[u8]) -> Form {
    let mut form = Form::default();
    for pair in encoded.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let (Some(k), Some(v)) = (decode(k), decode(v)) else {
            form.not_utf8 = true;
            continue;
        };
        if v.is_empty() {
            continue;
        }
        if k == "resource" {
            form.resources.push(v);
            continue;
        }
        if form.get(&k).is_some() {
            form.repeated.get_or_insert(k);
            continue;
        }
        form.params.push((k, v));
    }
    form
}

/// One name or value of `application/x-www-form-urlencoded` (WHATWG URL, §5.1): `+` is
/// a space and `%XX` a byte; `None` when the bytes are not UTF-8.
fn decode(raw: &[u8]) -> Option<String> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_encoding::percent_decode(&spaced)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// Read and parse a form body; a repeated parameter is an error.
pub async fn read(req: &HttpRequest, payload: web::Payload) -> Result<Form, FormError> {
    let form = parse(read_raw(req, payload).await?.as_bytes());
    if form.not_utf8 {
        return Err(FormError::NotUtf8);
    }
    match form.repeated {
        Some(name) => Err(FormError::Repeated(name)),
        None => Ok(form),
    }
}

/// The body of a form POST as text, with the type, size and time checks.
pub async fn read_raw(req: &HttpRequest, payload: web::Payload) -> Result<String, FormError> {
    read_raw_up_to(req, payload, MAX_FORM_BYTES).await
}

/// `read_raw` with a limit of `max` bytes instead of `MAX_FORM_BYTES`.
pub async fn read_raw_up_to(
    req: &HttpRequest,
    payload: web::Payload,
    max: usize,
) -> Result<String, FormError> {
    if !has_type(req, "application/x-www-form-urlencoded") {
        return Err(FormError::WrongType);
    }
    let body = read_body(req, payload, max).await?;
    String::from_utf8(body).map_err(|_| FormError::NotUtf8)
}

/// A JSON body (dynamic client registration), with the same size and time checks.
pub async fn read_json(
    req: &HttpRequest,
    payload: web::Payload,
    max: usize,
) -> Result<Vec<u8>, FormError> {
    if !has_type(req, "application/json") {
        return Err(FormError::NotJson);
    }
    read_body(req, payload, max).await
}

fn has_type(req: &HttpRequest, expected: &str) -> bool {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    mime.eq_ignore_ascii_case(expected)
}

/// The body, at most `max` bytes, arriving within `BODY_TIMEOUT`.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    max: usize,
) -> Result<Vec<u8>, FormError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(FormError::TooLarge);
    }
    // actix times out slow headers, not slow bodies: a client that declares a length
    // and never sends it would hold the connection for good.
    let read = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| FormError::Broken)?;
            if body.len() + chunk.len() > max {
                return Err(FormError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    let body = actix_web::rt::time::timeout(BODY_TIMEOUT, read)
        .await
        .map_err(|_| FormError::TooSlow)??;
    Ok(body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_omitted_and_repeats_recorded() {
        let f = parse(b"a=1&b=&resource=x&resource=y");
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), None);
        assert_eq!(f.resources, vec!["x", "y"]);
        assert_eq!(f.repeated(), None);
        let f = parse(b"a=1&a=2");
        assert_eq!(f.repeated(), Some("a"));
        assert_eq!(f.get("a"), Some("1"));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_not_replaced() {
        let f = parse(b"password=%FFsilver+tundra&user=ada&%C3%28=x");
        assert!(f.not_utf8);
        assert_eq!(f.get("password"), None);
        assert_eq!(f.get("user"), Some("ada"));
        // Well-formed UTF-8 decodes as sent, the replacement character included.
        let f = parse(b"a=%EF%BF%BD&b=caf%C3%A9&c=a+b%2Bc&d&=e");
        assert!(!f.not_utf8);
        assert_eq!(f.get("a"), Some("\u{fffd}"));
        assert_eq!(f.get("b"), Some("café"));
        assert_eq!(f.get("c"), Some("a b+c"));
        assert_eq!(f.get("d"), None);
    }

    #[test]
    fn encode_round_trips() {
        let f = parse(b"client_id=a&scope=openid+profile&resource=https%3A%2F%2Fr");
        let again = parse(f.encode().as_bytes());
        assert_eq!(again.get("scope"), Some("openid profile"));
        assert_eq!(again.resources, vec!["https://r"]);
    }
}
