//! Log lines: text for people at a terminal, or JSON (one object per line) for log
//! pipelines. Every line written while a request is served names its request id (the
//! `request` span the middleware opens, `web::observe`); audit events keep their own
//! target, `audit`.

use std::fmt;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;
use crate::escape::{json_inert, printable};

/// Install the subscriber. `PORTCULLIS_LOG` filters (default `default_level`, without
/// `QUIET`).
pub fn init(format: LogFormat, default_level: &str) {
    let filter = EnvFilter::try_from_env("PORTCULLIS_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("{default_level},{QUIET}")));
    // Colour codes only for a terminal, never into a log file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let registry = tracing_subscriber::registry().with(filter).with(RequestIds);
    match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(InertFields::default())
                    .with_writer(std::io::stderr)
                    .with_ansi(ansi),
            )
            .init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false)
                    .event_format(JsonLines),
            )
            .init(),
    }
}

/// Off by default: actix's HTTP/1 dispatcher writes an ERROR line for every request it
/// cannot parse (a URI over its limit, bad headers), which any client can send at will;
/// ERROR lines are for faults of the server, which operators alert on. The client gets
/// its 400 either way; `PORTCULLIS_LOG=info,actix_http=debug` shows them again. The same
/// for webauthn-rs, which writes ERROR lines (with bytes the browser chose) for every
/// passkey answer it refuses; we log each refusal ourselves, at info.
const QUIET: &str = "actix_http::h1::dispatcher=off,webauthn_rs_core=off";

/// The text format's fields, with every dangerous character of a value (a stored
/// `jwks_uri`, a client's name, an error from the network) written as an escape: a
/// value cannot end the line and forge the next one, nor drive the operator's terminal.
#[derive(Default)]
struct InertFields(DefaultFields);

impl<'w> FormatFields<'w> for InertFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut text = String::new();
        self.0.format_fields(Writer::new(&mut text), fields)?;
        writer.write_str(&printable(&text))
    }
}

/// The request id of a `request` span, kept with the span.
struct RequestId(String);

/// Keeps each span's `request_id` field where the JSON lines can find it.
struct RequestIds;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for RequestIds {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        attrs.record(&mut Fields(&mut fields));
        if let (Some(Value::String(rid)), Some(span)) = (fields.remove("request_id"), ctx.span(id))
        {
            span.extensions_mut().insert(RequestId(rid));
        }
    }
}

/// Collects an event's or a span's fields as JSON values.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

/// One JSON object per line: `timestamp`, `level`, `target`, `message`, `request_id`
/// (inside a request), then the event's fields.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Map::new();
        event.record(&mut Fields(&mut fields));
        let meta = event.metadata();
        let mut line = Map::new();
        let now = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        line.insert("timestamp".into(), now.into());
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        line.insert(
            "message".into(),
            fields.remove("message").unwrap_or_else(|| "".into()),
        );
        let request_id = ctx.event_scope().and_then(|scope| {
            scope
                .from_root()
                .find_map(|span| span.extensions().get::<RequestId>().map(|r| r.0.clone()))
        });
        if let Some(rid) = request_id {
            line.insert("request_id".into(), rid.into());
        }
        line.extend(fields);
        writeln!(writer, "{}", json_inert(&Value::Object(line).to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_text_line_cannot_be_forged_by_a_value() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(InertFields::default())
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let uri = "https://a.example/k\n2026-12-07T00:00:00Z  INFO forged\u{1b}[2J\u{202e}";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(jwks_uri = %uri, "cannot read a client's JWK Set");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            !text.trim_end().chars().any(crate::escape::dangerous),
            "{text:?}"
        );
        assert!(
            text.contains("jwks_uri=https://a.example/k\\u{a}2026"),
            "{text}"
        );
    }
}
