//! QR codes as inline SVG, so that the enrolment page can show the `otpauth://` URI
//! without an image endpoint, a `data:` URL or a script.
//!
//! The output obeys our Content-Security-Policy: no `<script>`, no `style` attribute,
//! no external reference (colours are `fill` attributes). Error correction is level M
//! (about 15 % of modules recoverable), which tolerates screen glare and moiré.

use qrcodegen::{QrCode, QrCodeEcc};

/// Light modules around the symbol, as ISO/IEC 18004 §9.1 requires for reliable scanning.
const QUIET_ZONE: i32 = 4;

/// `data` as a QR code in an `<svg role="img" aria-label="...">` element, or None when
/// `data` is too long for the largest symbol (version 40). `label` is the accessible
/// name read by screen readers; it is HTML-escaped here.
pub fn svg(data: &str, label: &str) -> Option<String> {
    let qr = QrCode::encode_text(data, QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let dim = size + 2 * QUIET_ZONE;
    // One subpath per horizontal run of dark modules keeps the path short.
    let mut path = String::new();
    for y in 0..size {
        let mut x = 0;
        while x < size {
            if !qr.get_module(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < size && qr.get_module(x, y) {
                x += 1;
            }
            use std::fmt::Write;
            let run = x - start;
            let _ = write!(
                path,
                "M{},{}h{run}v1h-{run}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE
            );
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" \
         role=\"img\" aria-label=\"{label}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{dim}\" height=\"{dim}\" fill=\"#fff\"/>\
         <path d=\"{path}\" fill=\"#000\"/></svg>",
        label = escape(label),
    ))
}

/// The five characters that are special in HTML text and attribute values, escaped as
/// the templates escape them (askama's HTML escaper).
fn escape(s: &str) -> String {
    match askama::filters::escape(s, askama::filters::Html) {
        Ok(safe) => safe.to_string(),
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_self_contained_svg() {
        let uri = "otpauth://totp/Acme:alice?secret=MZXW6YTBOI&issuer=Acme";
        let svg = svg(uri, "Scan me").expect("fits in a QR code");
        assert!(svg.starts_with("<svg "));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-label=\"Scan me\""));
        assert_eq!(svg.matches("<path").count(), 1);
        assert!(svg.contains("<rect"));
        for forbidden in ["<script", "style", "href", "url(", "data:"] {
            assert!(!svg.contains(forbidden), "{forbidden}");
        }
        // Version 1 is 21 modules; with the quiet zone the view box is at least 29.
        let qr = QrCode::encode_text(uri, QrCodeEcc::Medium).expect("encodes");
        let dim = qr.size() + 8;
        assert!(svg.contains(&format!("viewBox=\"0 0 {dim} {dim}\"")));
    }

    #[test]
    fn path_draws_exactly_the_dark_modules() {
        let data = "otpauth://totp/Acme:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let qr = QrCode::encode_text(data, QrCodeEcc::Medium).expect("encodes");
        let svg = svg(data, "code").expect("renders");
        let d = svg
            .split("<path d=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("path data");
        let n = qr.size() + 2 * QUIET_ZONE;
        let mut drawn = vec![false; (n * n) as usize];
        for segment in d.split('z').filter(|s| !s.is_empty()) {
            let (xy, rest) = segment[1..].split_once('h').expect("h");
            let (x, y) = xy.split_once(',').expect("x,y");
            let (x, y): (i32, i32) = (x.parse().expect("x"), y.parse().expect("y"));
            let run: i32 = rest.split_once('v').expect("v").0.parse().expect("run");
            assert_eq!(segment, format!("M{x},{y}h{run}v1h-{run}"));
            for dx in 0..run {
                drawn[(y * n + x + dx) as usize] = true;
            }
        }
        for y in 0..n {
            for x in 0..n {
                let dark = qr.get_module(x - QUIET_ZONE, y - QUIET_ZONE);
                assert_eq!(drawn[(y * n + x) as usize], dark, "module {x},{y}");
            }
        }
    }

    #[test]
    fn label_is_escaped() {
        let svg = svg("x", "Tom & Jerry <script>\"'").expect("renders");
        assert!(
            svg.contains("aria-label=\"Tom &#38; Jerry &#60;script&#62;&#34;&#39;\""),
            "{svg}"
        );
        assert!(!svg.contains("<script"));
    }

    #[test]
    fn too_much_data_is_refused() {
        assert_eq!(svg(&"x".repeat(5000), "big"), None);
    }
}
