//! The metrics listener, scraped as Prometheus would.
#![allow(dead_code)]

use std::collections::HashMap;

use super::TestServer;

/// One scrape: `name{labels}` (labels sorted) → value.
pub struct Scrape(pub HashMap<String, f64>);

impl Scrape {
    pub async fn take(srv: &TestServer) -> Scrape {
        let addr = srv.running.as_ref().unwrap().metrics_addr.unwrap();
        let res = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let ct = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        let body = res.text().await.unwrap();
        let mut out = HashMap::new();
        for line in body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let key = match series.split_once('{') {
                Some((name, labels)) => {
                    let mut l: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                    l.sort_unstable();
                    format!("{name}{{{}}}", l.join(","))
                }
                None => series.to_string(),
            };
            out.insert(key, value.parse().unwrap());
        }
        Scrape(out)
    }

    pub fn get(&self, key: &str) -> f64 {
        self.0.get(key).copied().unwrap_or(0.0)
    }

    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.0.keys().any(|k| k.starts_with(prefix))
    }
}

pub fn delta(before: &Scrape, after: &Scrape, key: &str) -> f64 {
    after.get(key) - before.get(key)
}
