//! The one error a field parser returns: which value was wrong and why.

/// A value that failed to parse. The importer adds the line and column; the API adds the field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct FieldError {
    pub reason: String,
}

impl FieldError {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

/// Parse a value that must be one of a closed set, case-insensitively, naming the choices on error.
pub(crate) fn one_of<T: Copy>(
    input: &str,
    what: &str,
    choices: &[(&str, T)],
) -> Result<T, FieldError> {
    let trimmed = input.trim();
    for (name, value) in choices {
        if name.eq_ignore_ascii_case(trimmed) {
            return Ok(*value);
        }
    }
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    Err(FieldError::new(format!(
        "unknown {what} '{}': expected one of {}",
        crate::text::preview(trimmed),
        names.join(", ")
    )))
}

/// Declare a closed enum with its canonical wire names, `as_str`, `FromStr`, serde and OpenAPI.
macro_rules! closed_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
        pub enum $name { $(#[schema(rename = $wire)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }
        impl std::str::FromStr for $name {
            type Err = $crate::error::FieldError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::error::one_of(s, $what, &[$(($wire, $name::$variant)),+])
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use closed_enum;
