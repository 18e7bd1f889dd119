//! Verify one access token against an issuer, as a resource server would:
//!
//! ```sh
//! cargo run -p portcullis-verify --example check -- \
//!     --issuer http://127.0.0.1:8080 --audience http://127.0.0.1:8080 "$TOKEN"
//! ```
//!
//! Prints the verified claims as JSON and exits 0, or prints the `WWW-Authenticate`
//! value a resource server would answer with and exits 1.

use portcullis_verify::{Presented, Verifier};

fn usage() -> ! {
    eprintln!("usage: check --issuer URL --audience AUD [--dpop PROOF --method M --url U] TOKEN");
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut issuer, mut audience, mut token) = (None, None, None);
    let (mut dpop, mut method, mut url) = (None, "GET".to_string(), None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--issuer" => issuer = args.next(),
            "--audience" => audience = args.next(),
            "--dpop" => dpop = args.next(),
            "--method" => method = args.next().unwrap_or_else(|| usage()),
            "--url" => url = args.next(),
            _ if a.starts_with("--") => usage(),
            _ => token = Some(a),
        }
    }
    let (Some(issuer), Some(audience), Some(token)) = (issuer, audience, token) else {
        usage()
    };
    let verifier = match Verifier::discover(&issuer, &audience).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("check: {e}");
            std::process::exit(2)
        }
    };
    let scheme = if dpop.is_some() { "DPoP" } else { "Bearer" };
    let authorization = format!("{scheme} {token}");
    let url = url.unwrap_or_else(|| audience.clone());
    let presented = Presented {
        authorization: Some(&authorization),
        dpop: dpop.as_deref(),
        method: &method,
        url: &url,
    };
    match verifier.verify(&presented).await {
        Ok(claims) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&claims).unwrap_or_default()
            );
        }
        Err(refusal) => {
            let dpop = dpop.is_some()
                || matches!(refusal, portcullis_verify::Rejection::InvalidDpopProof(_));
            println!(
                "{} {}",
                refusal.status(),
                refusal
                    .challenge(dpop)
                    .unwrap_or_else(|| refusal.to_string())
            );
            std::process::exit(1)
        }
    }
}
