//! An app's back-channel logout endpoint, in the test process: it records every request
//! (path, content type, `logout_token`) and answers as the test tells it (200 unless told
//! otherwise, per request in order).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

#[derive(Debug, Clone)]
pub struct Received {
    /// The app the request was for: the first path segment (`/{app}/logout`).
    pub app: String,
    pub content_type: String,
    pub token: String,
}

/// How to answer the next request.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// Accept the request and say nothing for a minute.
    Silence,
}

#[derive(Default)]
struct Shared {
    got: Mutex<Vec<Received>>,
    replies: Mutex<VecDeque<Reply>>,
    /// One answer for the next request to an app, before `replies`.
    by_app: Mutex<Vec<(String, Reply)>>,
}

pub struct Receiver {
    pub base: String,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
}

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let app = req
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    let token = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    shared.got.lock().unwrap().push(Received {
        app: app.clone(),
        content_type,
        token,
    });
    let for_app = {
        let mut by_app = shared.by_app.lock().unwrap();
        let i = by_app.iter().position(|(a, _)| *a == app);
        i.map(|i| by_app.remove(i).1)
    };
    let reply = for_app.or_else(|| shared.replies.lock().unwrap().pop_front());
    match reply {
        None => HttpResponse::Ok().finish(),
        Some(Reply::Status(s)) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(s).unwrap()).finish()
        }
        Some(Reply::Silence) => {
            actix_web::rt::time::sleep(Duration::from_secs(60)).await;
            HttpResponse::Ok().finish()
        }
    }
}

impl Receiver {
    pub async fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(2)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Receiver {
            base: format!("http://{addr}"),
            shared,
            handle,
        }
    }

    /// The back-channel logout URI of `app`.
    pub fn uri(&self, app: &str) -> String {
        format!("{}/{app}/logout", self.base)
    }

    /// Answer the next requests so, in order (then 200 again).
    pub fn answer(&self, replies: &[Reply]) {
        self.shared.replies.lock().unwrap().extend(replies);
    }

    /// Answer the next request to each app so (then as `answer` says).
    pub fn answer_by_app(&self, replies: &[(&str, Reply)]) {
        let mut by_app = self.shared.by_app.lock().unwrap();
        by_app.extend(replies.iter().map(|(a, r)| (a.to_string(), *r)));
    }

    /// What `app` received so far.
    pub fn got(&self, app: &str) -> Vec<Received> {
        let got = self.shared.got.lock().unwrap();
        got.iter().filter(|r| r.app == app).cloned().collect()
    }

    /// Wait until `app` has received `n` requests (at most `within`); what it got.
    pub async fn wait_for(&self, app: &str, n: usize, within: Duration) -> Vec<Received> {
        let until = std::time::Instant::now() + within;
        loop {
            let got = self.got(app);
            if got.len() >= n {
                return got;
            }
            assert!(
                std::time::Instant::now() < until,
                "{app} received {} request(s), not {n}, within {within:?}",
                got.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// The claims of a logout token, unverified (to find one by `sid`).
pub fn claims(token: &str) -> serde_json::Value {
    super::jose::claims(token)
}
