//! Locating a key in the config text: byte offsets and dotted key paths mapped to
//! `file:line:col: key`, through a spanned parse of the same text.

use std::fmt;

use super::ConfigError;

/// A dotted path to a key, like `tenants[1].credential.kind`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl KeyPath {
    pub fn key(k: &str) -> Self {
        Self(vec![Segment::Key(k.to_owned())])
    }
    pub fn then(mut self, k: &str) -> Self {
        self.0.push(Segment::Key(k.to_owned()));
        self
    }
    pub fn index(mut self, i: usize) -> Self {
        self.0.push(Segment::Index(i));
        self
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Maps byte offsets and key paths of one TOML text to lines, columns and keys.
pub(super) struct KeyLocator<'a> {
    text: &'a str,
    name: &'a str,
    root: Option<toml::Spanned<toml::de::DeTable<'a>>>,
}

type DeValue<'a> = toml::de::DeValue<'a>;

impl<'a> KeyLocator<'a> {
    pub(super) fn new(text: &'a str, name: &'a str) -> Self {
        Self {
            text,
            name,
            root: toml::de::DeTable::parse(text).ok(),
        }
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    /// An error from toml/serde: its span gives the place, the spanned tree the key.
    pub(super) fn serde_error(&self, e: &toml::de::Error) -> ConfigError {
        let offset = e.span().map_or(0, |s| s.start);
        let (line, column) = self.line_col(offset);
        let key = self
            .root
            .as_ref()
            .and_then(|r| path_at(r.get_ref(), offset, &KeyPath::default()))
            .unwrap_or_default();
        ConfigError::Invalid {
            path: self.name.to_owned(),
            line,
            column,
            key: key.to_string(),
            message: tidy_serde_message(e.message()),
        }
    }

    /// An error about `key`, placed at the key's line. A tenant's key it does not set itself
    /// is placed at `[tenant_defaults]`, where its value came from, and named so.
    pub(super) fn key_error(&self, key: &KeyPath, message: String) -> ConfigError {
        let root = self.root.as_ref().map(toml::Spanned::get_ref);
        let from_defaults = match (root, key.0.as_slice()) {
            (Some(r), [Segment::Key(t), Segment::Index(_), rest @ ..])
                if t == "tenants" && !rest.is_empty() && exact_span_of(r, &key.0).is_none() =>
            {
                let mut path = vec![Segment::Key("tenant_defaults".into())];
                path.extend(rest.iter().cloned());
                exact_span_of(r, &path).map(|o| (o, KeyPath(path)))
            }
            _ => None,
        };
        let (offset, shown) = match from_defaults {
            Some((o, path)) => (o, format!("{path} (for {key})")),
            None => (
                root.and_then(|r| span_of(r, &key.0)).unwrap_or(0),
                key.to_string(),
            ),
        };
        let (line, column) = self.line_col(offset);
        ConfigError::Invalid {
            path: self.name.to_owned(),
            line,
            column,
            key: shown,
            message,
        }
    }
}

/// The deepest key whose key or value span contains `offset`. Table spans cover only their
/// header, so every child is searched.
fn path_at(table: &toml::de::DeTable<'_>, offset: usize, here: &KeyPath) -> Option<KeyPath> {
    for (k, v) in table {
        let path = here.clone().then(k.get_ref());
        if let Some(deeper) = path_in_value(v, offset, &path) {
            return Some(deeper);
        }
        if k.span().contains(&offset) {
            return Some(path);
        }
    }
    None
}

fn path_in_value(
    value: &toml::Spanned<DeValue<'_>>,
    offset: usize,
    here: &KeyPath,
) -> Option<KeyPath> {
    let inside = value.span().contains(&offset) || value.span().end == offset;
    match value.get_ref() {
        DeValue::Table(t) => path_at(t, offset, here).or_else(|| inside.then(|| here.clone())),
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| path_in_value(item, offset, &here.clone().index(i)))
            .or_else(|| inside.then(|| here.clone())),
        _ => inside.then(|| here.clone()),
    }
}

/// Byte offset of the key at `path`.
fn span_of(table: &toml::de::DeTable<'_>, path: &[Segment]) -> Option<usize> {
    let (Segment::Key(first), rest) = path.split_first()? else {
        return None;
    };
    let (key, value) = table.iter().find(|(k, _)| k.get_ref() == first)?;
    if rest.is_empty() {
        return Some(key.span().start);
    }
    span_in_value(value, rest).or(Some(key.span().start))
}

/// The span of exactly `path`, or `None` when some part of it is missing.
fn exact_span_of(table: &toml::de::DeTable<'_>, path: &[Segment]) -> Option<usize> {
    let (Segment::Key(first), rest) = path.split_first()? else {
        return None;
    };
    let (key, value) = table.iter().find(|(k, _)| k.get_ref() == first)?;
    if rest.is_empty() {
        return Some(key.span().start);
    }
    match (value.get_ref(), rest.first()?) {
        (DeValue::Table(t), Segment::Key(_)) => exact_span_of(t, rest),
        (DeValue::Array(items), Segment::Index(i)) => {
            let item = items.get(*i)?;
            match (item.get_ref(), &rest[1..]) {
                (_, []) => Some(item.span().start),
                (DeValue::Table(t), more) => exact_span_of(t, more),
                _ => None,
            }
        }
        _ => None,
    }
}

fn span_in_value(value: &toml::Spanned<DeValue<'_>>, path: &[Segment]) -> Option<usize> {
    match (value.get_ref(), path.first()?) {
        (DeValue::Table(t), Segment::Key(_)) => span_of(t, path),
        (DeValue::Array(items), Segment::Index(i)) => {
            let item = items.get(*i)?;
            if path.len() == 1 {
                Some(item.span().start)
            } else {
                span_in_value(item, &path[1..])
            }
        }
        _ => None,
    }
}

/// serde says "unknown field `x`, expected one of ..."; a config user thinks in keys.
fn tidy_serde_message(message: &str) -> String {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field") {
        let expected = rest.split_once(", expected").map(|(_, e)| e.trim());
        return match expected {
            Some(e) => format!("unknown key (expected {e})"),
            None => "unknown key".to_owned(),
        };
    }
    message.replace("missing field", "missing key")
}
