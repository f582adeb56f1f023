//! Secret settings: keys and tokens that `Debug` never shows, and URLs
//! (database, Redis, SMTP) whose passwords it hides.

use std::fmt;

/// A secret setting (a key, a token). `Debug` never shows it, so a logged or
/// printed configuration does not leak it; [`Secret::expose`] is the one
/// way to read it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the code that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// A URL that may carry credentials (database, Redis, SMTP). `Debug` and
/// [`SecretUrl::redacted`] show it with its password replaced by `***`;
/// [`SecretUrl::expose`] gives it whole, for connecting.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// The whole URL, password included.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password hidden, for messages and logs.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl From<String> for SecretUrl {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for SecretUrl {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// `url` with the password of its user info and the values of `password`
/// query parameters replaced by `***`. Works on text that is not a valid
/// URL too: whatever sits between `://` and the last `@` of the authority
/// after a `:` is hidden.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (user_info, host) = authority.split_at(at);
            match user_info.split_once(':') {
                Some((user, _)) => format!("{user}:***{host}"),
                None => authority.to_owned(),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.to_ascii_lowercase().contains("pass") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted_whatever_their_shape() {
        for (url, shown) in [
            ("postgres://u:p@h:5432/db", "postgres://u:***@h:5432/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("redis://:secret@h:6379/2", "redis://:***@h:6379/2"),
            ("rediss://u:a:b@c@h", "rediss://u:***@h"),
            (
                "postgres://h/db?user=u&password=p&sslmode=require",
                "postgres://h/db?user=u&password=***&sslmode=require",
            ),
            (
                "sqlite://emporium.db?mode=rwc",
                "sqlite://emporium.db?mode=rwc",
            ),
            ("u:p@h", "u:***@h"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
