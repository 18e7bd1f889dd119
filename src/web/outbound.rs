//! Calls this server makes to URLs that clients name: their JWK Sets, their back-channel
//! logout URIs. No redirects are followed (a client's URL is the one it registered), each
//! call has a timeout, and a URL named by anyone (open registration) is reached only at
//! public addresses, checked on the addresses actually connected to.

use std::sync::Arc;
use std::time::Duration;

/// The HTTP clients for calls out.
#[derive(Clone)]
pub struct Outbound {
    any: reqwest::Client,
    /// Resolves to public addresses only and refuses IP literals, so that nobody can
    /// point us at our own network.
    public_only: reqwest::Client,
}

/// The refusal of `PublicOnly`: the name resolves, but to no public address. Not worth
/// retrying (unlike a name that does not resolve now).
#[derive(Debug)]
pub struct NotPublic(String);

impl std::fmt::Display for NotPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} has no public address", self.0)
    }
}

impl std::error::Error for NotPublic {}

impl NotPublic {
    /// Whether `e` (or what caused it) is this refusal.
    pub fn caused(e: &(dyn std::error::Error + 'static)) -> bool {
        let mut cause = Some(e);
        while let Some(c) = cause {
            if c.is::<NotPublic>() {
                return true;
            }
            cause = c.source();
        }
        false
    }
}

/// A resolver that answers only with public addresses (`domain::net::is_public`): the
/// check happens at connect time, on the addresses actually used.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| crate::domain::net::is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(NotPublic(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl Outbound {
    pub fn new(timeout: Duration) -> Outbound {
        let builder = || {
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        };
        let any = builder().build().unwrap_or_default();
        // (No fallback to a permissive client: without its resolver it refuses all.)
        let public_only = builder()
            .dns_resolver(Arc::new(PublicOnly))
            .https_only(true)
            .build()
            .unwrap_or_else(|_| any.clone());
        Outbound { any, public_only }
    }

    /// The client to call `uri` with. `public_only`: the URL was named by someone we do
    /// not trust with our network; it must name a host (an IP literal would be connected
    /// to without the resolver).
    pub fn for_url(&self, uri: &str, public_only: bool) -> Result<&reqwest::Client, String> {
        if !public_only {
            return Ok(&self.any);
        }
        let parsed = url::Url::parse(uri).map_err(|_| "not a URL".to_string())?;
        if !matches!(parsed.host(), Some(url::Host::Domain(_))) {
            return Err("a self-registered client's URL must name a host".into());
        }
        Ok(&self.public_only)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name that resolves only to a private address is refused at connect time, and the
    /// refusal is told apart from a failure worth retrying.
    #[actix_web::test]
    async fn a_name_with_only_private_addresses_is_not_called() {
        let o = Outbound::new(Duration::from_secs(5));
        let http = o.for_url("https://localhost/x", true).unwrap();
        let e = http.get("https://localhost/x").send().await.unwrap_err();
        assert!(NotPublic::caused(&e), "{e:?}");
        assert!(
            o.for_url("https://127.0.0.1/x", true).is_err(),
            "no IP literals"
        );
        assert!(o.for_url("http://127.0.0.1/x", false).is_ok());
    }
}
