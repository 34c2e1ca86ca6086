//! Identifiers as newtypes, so a tenant name, a tracking id and a Message-ID can never be
//! passed in each other's place.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type!(
    /// A tenant's name as configured (`[[tenants]] name`).
    TenantName
);
id_type!(
    /// Azure's tracking id of an event (its `name`, e.g. `BC_1-FXZ`).
    TrackingId
);
id_type!(
    /// An RFC 5322 `Message-ID`, angle brackets included: `<…@domain>`.
    MessageId
);

/// `s` encoded so that the result uses only `A-Z a-z 0-9 - _` and `=`, and different inputs
/// never give the same output: every other byte (and `=` itself) becomes `=XX`. Safe in a
/// `Message-ID` and a file name; `.` never appears, so it can join encoded parts.
pub fn encode_token(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_injective_and_keeps_plain_names_readable() {
        let names = [
            "acme.eu",
            "acme-eu",
            "acme_eu",
            "acme=2Eeu",
            "acme eu",
            "acmeeu",
            "é",
            "=C3=A9",
        ];
        let encoded: std::collections::BTreeSet<String> =
            names.iter().map(|n| encode_token(n)).collect();
        assert_eq!(encoded.len(), names.len(), "{encoded:?}");
        assert_eq!(encode_token("BC_1-FXZ"), "BC_1-FXZ");
        assert_eq!(encode_token("acme.eu"), "acme=2Eeu");
        for e in &encoded {
            assert!(!e.contains('.'), "{e}");
        }
    }
}
