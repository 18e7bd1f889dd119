//! Text that callers typed, made inert for terminals and logs: control characters (C0,
//! DEL, C1), line and paragraph separators, and the invisible formatting characters that
//! reorder or hide text (bidirectional controls, zero-width characters) are written as
//! escapes. One value then prints as one line, showing exactly what was stored, and
//! nothing in it can move a cursor, start a terminal sequence or reorder what follows.

/// Characters that must never reach a terminal or a log as themselves (and that a name
/// shown to people must not contain: they hide or reorder the text around them): control
/// characters, line and paragraph separators, bidirectional controls, and every
/// Default_Ignorable_Code_Point of Unicode (DerivedCoreProperties.txt: soft hyphen,
/// zero-width and filler characters, variation selectors, tag characters), which
/// render as nothing.
pub fn dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00ad}'                      // soft hyphen
            | '\u{034f}'                    // combining grapheme joiner
            | '\u{061c}'                    // Arabic letter mark
            | '\u{115f}'..='\u{1160}'       // Hangul fillers
            | '\u{17b4}'..='\u{17b5}'       // Khmer inherent vowels
            | '\u{180b}'..='\u{180f}'       // Mongolian selectors and vowel separator
            | '\u{200b}'..='\u{200f}'       // zero-width characters, LRM, RLM
            | '\u{2028}'..='\u{202e}'       // line/paragraph separators, embeddings, overrides
            | '\u{2060}'..='\u{206f}'       // word joiner, isolates, invisible operators
            | '\u{3164}'                    // Hangul filler
            | '\u{fe00}'..='\u{fe0f}'       // variation selectors
            | '\u{feff}'                    // zero-width no-break space (BOM)
            | '\u{ffa0}'                    // halfwidth Hangul filler
            | '\u{fff0}'..='\u{fffb}'       // unassigned specials, interlinear annotations
            | '\u{1bca0}'..='\u{1bca3}'     // shorthand format controls
            | '\u{1d173}'..='\u{1d17a}'     // musical formatting
            | '\u{e0000}'..='\u{e0fff}') // tags, variation selectors supplement
}

/// `s` for a terminal: dangerous characters (and backslashes, so that an escape cannot be
/// faked) as `\u{..}`.
pub fn inert(s: &str) -> String {
    escaped(s, |c| dangerous(c) || c == '\\')
}

/// `s` for a text log line: dangerous characters as `\u{..}`, everything else as it is
/// (backslashes too, so that Debug-formatted values stay readable).
pub fn printable(s: &str) -> String {
    escaped(s, dangerous)
}

fn escaped(s: &str, escape: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if escape(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// JSON text with every dangerous character written as a `\uXXXX` escape (a surrogate
/// pair beyond the Basic Multilingual Plane). Valid JSON in, the same JSON value out:
/// such characters can only stand inside strings, where the escape means the same
/// character.
pub fn json_inert(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if dangerous(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORGED: &str = "x\n2026-11-30 signin.success \u{1b}[2J\u{9b}2J\u{9d}0;t\u{9c}\u{202e}\u{2028}\u{2029}\u{61c}\u{200b}\u{feff}\u{7f}\r\u{ad}\u{e0041}\u{3164}\u{34f}";

    #[test]
    fn nothing_dangerous_survives_for_the_terminal() {
        let out = inert(FORGED);
        assert!(!out.chars().any(dangerous), "{out}");
        assert_eq!(out.lines().count(), 1);
        assert!(out.contains("\\u{1b}") && out.contains("\\u{2028}") && out.contains("\\u{9b}"));
        assert_eq!(inert("plain text é"), "plain text é");
        assert_eq!(
            inert("a\\u{1b}"),
            "a\\u{5c}u{1b}",
            "a typed escape cannot pass for ours"
        );
    }

    #[test]
    fn json_stays_the_same_value() {
        let v = serde_json::json!({ "username": FORGED });
        let text = json_inert(&v.to_string());
        assert!(!text.chars().any(dangerous), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
