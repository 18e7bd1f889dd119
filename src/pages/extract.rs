//! Extractors for page handlers: who is signed in, and forms whose CSRF token matched.
//! A handler that takes one of these starts where the checks end.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::PageError;
use super::{csrf, session};
use crate::state::AppState;
use crate::store::sessions::Session;
use crate::store::users::User;
use crate::web::form::{self, Form};

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, PageError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(PageError::Unavailable)
}

async fn signed_in(state: &AppState, req: &HttpRequest) -> Result<(Session, User), PageError> {
    session::current(state, req).await?.ok_or(PageError::SignIn)
}

/// The signed-in person; anyone else is sent to sign in.
pub struct SignedIn {
    pub session: Session,
    pub user: User,
}

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<SignedIn, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req)?;
            let (session, user) = signed_in(&state, &req).await?;
            Ok(SignedIn { session, user })
        })
    }
}

/// A form POST whose CSRF token matches the browser's (whether or not anyone is signed
/// in: the sign-in and sign-out forms).
pub struct CsrfForm(pub Form);

/// Read a form body and check its CSRF token.
async fn read_checked(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(web::Data<AppState>, Form), PageError> {
    let state = state(req)?;
    let form = form::read(req, payload).await?;
    if !csrf::verify(&state, req, form.get("csrf")) {
        return Err(PageError::StaleForm);
    }
    Ok((state, form))
}

impl FromRequest for CsrfForm {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<CsrfForm, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload);
        Box::pin(async move {
            let payload = payload.await.map_err(|_| PageError::Unavailable)?;
            let (_, form) = read_checked(&req, payload).await?;
            Ok(CsrfForm(form))
        })
    }
}

/// A form POST from a signed-in person: the body, its CSRF check, and who they are.
pub struct SignedInForm {
    pub form: Form,
    pub session: Session,
    pub user: User,
}

impl FromRequest for SignedInForm {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<SignedInForm, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload);
        Box::pin(async move {
            let payload = payload.await.map_err(|_| PageError::Unavailable)?;
            let (state, form) = read_checked(&req, payload).await?;
            let (session, user) = signed_in(&state, &req).await?;
            Ok(SignedInForm {
                form,
                session,
                user,
            })
        })
    }
}
