//! Reading `application/x-www-form-urlencoded` request bodies for protocol endpoints.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web;
use futures_util::StreamExt;

use crate::oauth::error::OAuthError;

/// Token requests are a few hundred bytes; anything near this is not one.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// A parsed form. RFC 6749 §3.1/§3.2: parameters without a value are treated as
/// omitted, and a parameter must not appear more than once; `resource` (RFC 8707)
/// is the one that may repeat.
#[derive(Default)]
pub struct Form {
    params: Vec<(String, String)>,
    pub resources: Vec<String>,
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
            .finish()
    }
}

impl Form {
    /// Every parameter but `resource`, in the order sent.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How long a form body may take to arrive once the headers are in.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn too_large() -> OAuthError {
    OAuthError::invalid_request("request body too large").with_status(StatusCode::PAYLOAD_TOO_LARGE)
}

pub async fn read(req: &HttpRequest, payload: web::Payload) -> Result<Form, OAuthError> {
    let body = read_raw(req, payload).await?;
    parse(body.as_bytes())
}

/// The body of a form POST as text, with the same type and size checks.
pub async fn read_raw(req: &HttpRequest, mut payload: web::Payload) -> Result<String, OAuthError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_FORM_BYTES) {
        return Err(too_large());
    }
    // actix times out slow headers, not slow bodies: a client that declares a length
    // and never sends it would hold the connection for good.
    let read = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk
                .map_err(|_| OAuthError::invalid_request("could not read the request body"))?;
            if body.len() + chunk.len() > MAX_FORM_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    let body = actix_web::rt::time::timeout(BODY_TIMEOUT, read)
        .await
        .map_err(|_| {
            OAuthError::invalid_request("the request body did not arrive in time")
                .with_status(actix_web::http::StatusCode::REQUEST_TIMEOUT)
        })??;
    String::from_utf8(body.to_vec())
        .map_err(|_| OAuthError::invalid_request("the body is not valid UTF-8"))
}

pub fn parse(body: &[u8]) -> Result<Form, OAuthError> {
    let mut form = Form::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        if v.is_empty() {
            continue;
        }
        if k == "resource" {
            form.resources.push(v.into_owned());
            continue;
        }
        if form.get(&k).is_some() {
            return Err(OAuthError::invalid_request(format!(
                "parameter {k:?} is repeated"
            )));
        }
        form.params.push((k.into_owned(), v.into_owned()));
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_omitted_and_repeats_refused() {
        let f = parse(b"a=1&b=&resource=x&resource=y").unwrap();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), None);
        assert_eq!(f.resources, vec!["x", "y"]);
        assert!(parse(b"a=1&a=2").is_err());
    }
}
