//! A browser for the server's pages: keeps cookies, does not follow redirects (tests
//! assert on them), and submits forms as a person would, with whatever hidden fields the
//! page put in them.

use super::{TestServer, http_client};

pub struct Browser {
    pub http: reqwest::Client,
    /// The server the forms post to.
    pub base: String,
}

/// The hidden inputs of the form on `page` that posts to `action`, unescaped.
pub fn hidden_fields(page: &str, action: &str) -> Vec<(String, String)> {
    let marker = format!("action=\"{action}\"");
    let Some(start) = page.find(&marker) else {
        return Vec::new();
    };
    let form = &page[start..];
    let form = &form[..form.find("</form>").unwrap_or(form.len())];
    form.split("<input")
        .skip(1)
        .filter(|input| input.contains("type=\"hidden\""))
        .filter_map(|input| {
            let attr = |name: &str| {
                let m = format!("{name}=\"");
                let i = input.find(&m)? + m.len();
                let j = input[i..].find('"')? + i;
                Some(super::unescape(&input[i..j]))
            };
            Some((attr("name")?, attr("value")?))
        })
        .collect()
}

impl Browser {
    /// A browser with its own cookies, for `srv`.
    pub fn new(srv: &TestServer) -> Browser {
        Browser::at(&srv.base)
    }

    /// A browser for the server at `base` (another instance, say).
    pub fn at(base: &str) -> Browser {
        Browser {
            http: http_client(),
            base: base.to_string(),
        }
    }

    /// A browser sharing `http`'s cookies.
    pub fn with(srv: &TestServer, http: &reqwest::Client) -> Browser {
        Browser {
            http: http.clone(),
            base: srv.base.clone(),
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(url).form(form).send().await.unwrap()
    }

    pub async fn text(&self, url: &str) -> String {
        self.get(url).await.text().await.unwrap()
    }

    /// Submit the form on `page` that posts to `action`: its hidden fields, and `fields`.
    pub async fn submit(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let hidden = hidden_fields(page, action);
        assert!(
            !hidden.is_empty() || page.contains(&format!("action=\"{action}\"")),
            "no form posting to {action} on the page"
        );
        let mut form: Vec<(&str, &str)> = hidden
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        form.extend_from_slice(fields);
        self.post(&format!("{}{action}", self.base), &form).await
    }

    /// Submit the sign-in form found on `page`.
    pub async fn login(&self, page: &str, user: &str, password: &str) -> reqwest::Response {
        self.submit(
            page,
            "/login",
            &[("username", user), ("password", password)],
        )
        .await
    }

    /// Submit the second sign-in step found on `page`.
    pub async fn second_step(&self, page: &str, code: &str) -> reqwest::Response {
        self.submit(page, "/login/mfa", &[("code", code)]).await
    }

    /// Answer the consent form found on `page` ("allow" or "deny").
    pub async fn consent(&self, page: &str, decision: &str) -> reqwest::Response {
        self.submit(page, "/consent", &[("decision", decision)])
            .await
    }

    /// Open the sign-in page and sign in with a password.
    pub async fn sign_in(&self, user: &str, password: &str) -> reqwest::Response {
        let page = self.text(&format!("{}/login", self.base)).await;
        self.login(&page, user, password).await
    }
}
