//! APIv2's flat XML: `<xml><field>value</field>…</xml>` to and from a sorted map.
//!
//! Output wraps every value in CDATA (as WeChat and its SDKs do). A value containing `]]>` is
//! split across two CDATA sections, and characters that XML cannot carry literally (`\r`, which
//! parsers normalise to `\n`, and other C0 controls) are written as character references
//! between sections, so what the peer parses is byte-for-byte what was signed.
//!
//! Input is tolerant of what WeChat actually sends — CDATA or plain text, any element order,
//! whitespace between elements, an XML declaration, any root name (`<xml>`, or `<root>` in
//! decrypted refund notifications) — and strict about everything that is an attack or an
//! ambiguity:
//!
//! - the body is size-checked ([`MAX_BODY`]) before any parsing;
//! - any `<!DOCTYPE` (and with it every entity declaration) is refused: XXE and billion-laughs
//!   payloads never reach an expander, because nothing here expands anything but the five
//!   predefined entities and character references;
//! - nested elements and repeated field names are refused rather than guessed at, so two
//!   parsers can never disagree about which value was signed.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::{BytesRef, Event};

/// The fields of one v2 message, sorted by name (the order signing needs).
pub type Fields = BTreeMap<String, String>;

/// The largest body accepted from WeChat (responses, notifications). Real ones are < 4 KiB.
pub const MAX_BODY: usize = 64 * 1024;

/// Why a body is not an acceptable v2 XML document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("body of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("body is not UTF-8")]
    NotUtf8,
    #[error("DOCTYPE / DTD declarations are not accepted")]
    Doctype,
    #[error("entity reference &{0}; is not one of XML's predefined entities")]
    Entity(String),
    #[error("element <{0}> is nested inside a field; v2 XML is flat")]
    Nested(String),
    #[error("field <{0}> appears more than once")]
    DuplicateField(String),
    #[error("body has no root element")]
    NoRoot,
    #[error("malformed XML: {0}")]
    Malformed(String),
}

/// Encodes `fields` under a `<xml>` root.
///
/// Field names are written as they are: they come from this crate and its callers (WeChat's
/// documented names), never from untrusted input, and must be XML names.
pub fn encode(fields: &Fields) -> String {
    encode_with_root("xml", fields)
}

/// Encodes `fields` under the given root element name (`root` for refund `req_info`).
pub fn encode_with_root(root: &str, fields: &Fields) -> String {
    let mut out = String::with_capacity(
        32 + fields
            .iter()
            .map(|(k, v)| 2 * k.len() + v.len() + 17)
            .sum::<usize>(),
    );
    out.push('<');
    out.push_str(root);
    out.push('>');
    for (k, v) in fields {
        out.push('<');
        out.push_str(k);
        out.push('>');
        push_cdata(&mut out, v);
        out.push_str("</");
        out.push_str(k);
        out.push('>');
    }
    out.push_str("</");
    out.push_str(root);
    out.push('>');
    out
}

/// Whether a character must be written as a character reference, outside CDATA.
fn needs_char_ref(c: char) -> bool {
    (c < ' ' && c != '\t' && c != '\n') || c == '\u{FFFE}' || c == '\u{FFFF}'
}

fn push_cdata(out: &mut String, value: &str) {
    out.push_str("<![CDATA[");
    let mut rest = value;
    while !rest.is_empty() {
        let split = rest
            .char_indices()
            .find(|&(i, c)| needs_char_ref(c) || rest[i..].starts_with("]]>"));
        match split {
            None => {
                out.push_str(rest);
                break;
            }
            Some((i, c)) if needs_char_ref(c) => {
                out.push_str(&rest[..i]);
                out.push_str("]]>&#");
                out.push_str(&u32::from(c).to_string());
                out.push_str(";<![CDATA[");
                rest = &rest[i + c.len_utf8()..];
            }
            Some((i, _)) => {
                // `]]>` ends a section: emit `]]` here and start `>` in the next section.
                out.push_str(&rest[..i + 2]);
                out.push_str("]]><![CDATA[");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str("]]>");
}

/// One piece of a field's content; whitespace-only text next to CDATA is formatting.
enum Piece {
    Text(String),
    CData(String),
    /// A resolved entity or character reference: always content, even `&#13;`.
    Ref(char),
}

struct Field {
    name: String,
    pieces: Vec<Piece>,
}

impl Field {
    fn value(self) -> String {
        let has_cdata = self.pieces.iter().any(|p| matches!(p, Piece::CData(_)));
        let mut out = String::new();
        for p in self.pieces {
            match p {
                Piece::CData(s) => out.push_str(&s),
                Piece::Ref(c) => out.push(c),
                Piece::Text(s) if has_cdata && s.chars().all(char::is_whitespace) => {}
                Piece::Text(s) => out.push_str(&s),
            }
        }
        out
    }

    fn push_text(&mut self, s: &str) {
        match self.pieces.last_mut() {
            Some(Piece::Text(t)) => t.push_str(s),
            _ => self.pieces.push(Piece::Text(s.to_owned())),
        }
    }
}

fn resolve_ref(r: &BytesRef<'_>) -> Result<char, XmlError> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err(XmlError::Malformed(format!(
                "bad character reference &{};",
                &**r
            ))),
        };
    }
    match &**r {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(XmlError::Entity(other.chars().take(64).collect())),
    }
}

fn name_of(raw: &str) -> String {
    raw.to_owned()
}

/// Attributes are ignored, but must be well-formed: a document is either XML or refused.
fn attributes_ok(e: &quick_xml::events::BytesStart<'_>) -> bool {
    e.attributes().all(|a| a.is_ok())
}

fn is_blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

/// Decodes a v2 XML body into its fields. The root element's name is not checked.
pub fn decode(body: &[u8]) -> Result<Fields, XmlError> {
    if body.len() > MAX_BODY {
        return Err(XmlError::TooLarge {
            len: body.len(),
            max: MAX_BODY,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);

    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;
    config.trim_text(false);

    let mut fields = Fields::new();
    // 0 = before the root, 1 = inside the root, 2 = inside a field, 3 = after the root.
    let mut depth = 0u8;
    let mut current: Option<Field> = None;

    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlError::Malformed(e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Start(e) | Event::Empty(e) if !attributes_ok(&e) => {
                return Err(XmlError::Malformed(format!(
                    "bad attribute in <{}>",
                    name_of(e.name().as_ref())
                )));
            }
            Event::Start(e) => match depth {
                0 => depth = 1,
                1 => {
                    current = Some(Field {
                        name: name_of(e.name().as_ref()),
                        pieces: Vec::new(),
                    });
                    depth = 2;
                }
                2 => return Err(XmlError::Nested(name_of(e.name().as_ref()))),
                _ => return Err(XmlError::Malformed("more than one root element".into())),
            },
            Event::Empty(e) => match depth {
                0 => depth = 3,
                1 => insert(&mut fields, name_of(e.name().as_ref()), String::new())?,
                2 => return Err(XmlError::Nested(name_of(e.name().as_ref()))),
                _ => return Err(XmlError::Malformed("more than one root element".into())),
            },
            Event::End(_) => match depth {
                2 => {
                    if let Some(field) = current.take() {
                        let name = field.name.clone();
                        insert(&mut fields, name, field.value())?;
                    }
                    depth = 1;
                }
                1 => depth = 3,
                _ => return Err(XmlError::Malformed("unexpected end tag".into())),
            },
            Event::Text(t) => {
                let content = t.xml10_content();
                match (&mut current, depth) {
                    (Some(field), 2) => field.push_text(&content),
                    _ if is_blank(&content) => {}
                    _ => return Err(XmlError::Malformed("text outside a field".into())),
                }
            }
            Event::CData(c) => match (&mut current, depth) {
                (Some(field), 2) => field
                    .pieces
                    .push(Piece::CData(c.xml10_content().into_owned())),
                _ => return Err(XmlError::Malformed("CDATA outside a field".into())),
            },
            Event::GeneralRef(r) => {
                let c = resolve_ref(&r)?;
                match (&mut current, depth) {
                    (Some(field), 2) => field.pieces.push(Piece::Ref(c)),
                    _ => return Err(XmlError::Malformed("reference outside a field".into())),
                }
            }
        }
    }
    match depth {
        0 => Err(XmlError::NoRoot),
        3 => Ok(fields),
        _ => Err(XmlError::Malformed(
            "document ends inside an element".into(),
        )),
    }
}

fn insert(fields: &mut Fields, name: String, value: String) -> Result<(), XmlError> {
    if fields.contains_key(&name) {
        return Err(XmlError::DuplicateField(name));
    }
    fields.insert(name, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn encodes_cdata_and_splits_terminators() {
        let out = encode(&f(&[("a", "x]]>y"), ("b", "1")]));
        assert_eq!(
            out,
            "<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a><b><![CDATA[1]]></b></xml>"
        );
        assert_eq!(decode(out.as_bytes()), Ok(f(&[("a", "x]]>y"), ("b", "1")])));
    }

    #[test]
    fn carriage_returns_survive_eol_normalisation() {
        let fields = f(&[("a", "1\r\n2\r3\u{1}")]);
        let out = encode(&fields);
        assert!(!out.contains('\r'), "{out:?}");
        assert_eq!(decode(out.as_bytes()), Ok(fields));
    }

    #[test]
    fn empty_root_and_fields() {
        assert_eq!(decode(b"<xml/>"), Ok(Fields::new()));
        assert_eq!(
            decode(b"<xml><a/><b></b></xml>"),
            Ok(f(&[("a", ""), ("b", "")]))
        );
        assert_eq!(decode(b""), Err(XmlError::NoRoot));
        assert_eq!(decode(b"  \n"), Err(XmlError::NoRoot));
    }
}
