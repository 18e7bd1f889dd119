//! actix-web glue (feature `actix`): the `Verified` extractor, and `Rejection` as a
//! response with the status and `WWW-Authenticate` challenge the RFCs ask for.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use portcullis_verify::actix::{Verified, ResourceUrl};
//! use portcullis_verify::{Rejection, Verifier, require_scope};
//!
//! async fn orders(token: Verified) -> Result<String, Rejection> {
//!     require_scope(&token.0, "orders:read")?;
//!     Ok(format!("orders of {}", token.0.sub))
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let verifier = Verifier::discover("https://auth.example.com", "https://api.example.com")
//!     .await
//!     .expect("the issuer answers");
//! let verifier = web::Data::new(verifier);
//! HttpServer::new(move || {
//!     App::new()
//!         .app_data(verifier.clone())
//!         .app_data(web::Data::new(ResourceUrl("https://api.example.com".into())))
//!         .route("/orders", web::get().to(orders))
//! })
//! .bind("127.0.0.1:9000")?
//! .run()
//! .await
//! # }
//! ```

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::future::LocalBoxFuture;

use crate::claims::Claims;
use crate::rejection::Rejection;
use crate::verifier::{Presented, Verifier};

/// The verified claims of the request's access token.
pub struct Verified(pub Claims);

/// The public base URL of this API (`https://api.example.com`), for the `htu` of DPoP
/// proofs: what clients address, never the Host header a proxy passed on. Without it,
/// the URL is rebuilt from the connection (scheme and host as actix sees them).
#[derive(Debug, Clone)]
pub struct ResourceUrl(pub String);

fn request_url(req: &HttpRequest) -> String {
    match req.app_data::<web::Data<ResourceUrl>>() {
        Some(base) => format!("{}{}", base.0.trim_end_matches('/'), req.path()),
        None => {
            let info = req.connection_info();
            format!("{}://{}{}", info.scheme(), info.host(), req.path())
        }
    }
}

impl FromRequest for Verified {
    type Error = Rejection;
    type Future = LocalBoxFuture<'static, Result<Verified, Rejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let verifier = req
                .app_data::<web::Data<Verifier>>()
                .cloned()
                .ok_or(Rejection::Unavailable)?;
            let text = |name: header::HeaderName| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let authorization = text(header::AUTHORIZATION);
            let dpop = text(header::HeaderName::from_static("dpop"));
            let url = request_url(&req);
            let presented = Presented {
                authorization: authorization.as_deref(),
                dpop: dpop.as_deref(),
                method: req.method().as_str(),
                url: &url,
            };
            verifier.verify(&presented).await.map(Verified)
        })
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::UNAUTHORIZED)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        let dpop = matches!(self, Rejection::InvalidDpopProof(_));
        if let Some(c) = self.challenge(dpop) {
            res.insert_header((header::WWW_AUTHENTICATE, c));
        }
        res.finish()
    }
}
