//! The back-channel logout metrics, scraped as Prometheus would: deliveries by outcome,
//! and the queue. One test in this file: the recorder is process-wide, and a test binary
//! is a process of its own.

mod common;

use std::time::Duration;

use common::browser::Browser;
use common::oidc::{PASSWORD, app_request, app_with, start};
use common::receiver::{Receiver, Reply};
use common::scrape::{Scrape, delta};
use common::{create_user, spawn_with};
use portcullis::oauth::clients::ClientRequest;

#[actix_web::test]
async fn deliveries_count_by_outcome_and_the_queue_shows_what_waits() {
    let srv = spawn_with(|a| a.metrics_bind = Some("127.0.0.1:0".into())).await;
    let r = Receiver::start().await;
    create_user(&srv, "alice", PASSWORD, None);
    let before = Scrape::take(&srv).await;
    for series in [
        "portcullis_backchannel_deliveries_total{outcome=\"delivered\"}",
        "portcullis_backchannel_deliveries_total{outcome=\"gave_up\"}",
        "portcullis_outbox_pending{kind=\"backchannel_logout\"}",
    ] {
        assert!(before.0.contains_key(series), "{series} from the start");
    }
    let mut apps = Vec::new();
    for path in ["ok", "refuses", "later"] {
        apps.push(app_with(
            &srv,
            ClientRequest {
                scope: Some("openid".into()),
                backchannel_logout_uri: Some(r.uri(path)),
                ..app_request()
            },
        ));
    }
    let browser = Browser::new(&srv);
    let page = browser.text(&start(&apps[0], &["openid"], &[]).url).await;
    let res = browser.login(&page, "alice", PASSWORD).await;
    browser.consent(&res.text().await.unwrap(), "allow").await;
    for app in &apps[1..] {
        let page = browser.text(&start(app, &["openid"], &[]).url).await;
        browser.consent(&page, "allow").await;
    }
    // The three requests come in some order: answer by app, not by order.
    let page = browser.text(&srv.url("/account")).await;
    r.answer_by_app(&[
        ("refuses", Reply::Status(400)),
        ("later", Reply::Status(503)),
    ]);
    browser.submit(&page, "/logout", &[]).await;
    for app in ["ok", "refuses", "later"] {
        r.wait_for(app, 1, Duration::from_secs(10)).await;
    }
    // The gauges are sampled every 5 seconds.
    actix_web::rt::time::sleep(Duration::from_secs(6)).await;
    let after = Scrape::take(&srv).await;
    let d = |k: &str| delta(&before, &after, k);
    assert_eq!(
        d("portcullis_backchannel_deliveries_total{outcome=\"delivered\"}"),
        1.0
    );
    assert_eq!(
        d("portcullis_backchannel_deliveries_total{outcome=\"refused\"}"),
        1.0
    );
    assert_eq!(
        d("portcullis_backchannel_deliveries_total{outcome=\"retry\"}"),
        1.0
    );
    assert_eq!(
        after.get("portcullis_outbox_pending{kind=\"backchannel_logout\"}"),
        1.0
    );
    r.stop().await;
    srv.stop().await;
}
