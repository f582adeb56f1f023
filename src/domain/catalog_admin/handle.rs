//! URL handles and codes: made from titles, and checked to be lower-case
//! ASCII letters, digits and dashes (products, collections, channels and
//! the other codes of the catalog share this form).

use crate::domain::error::{UserError, UserErrorCode};

/// Makes a URL handle from a title: lower-case ASCII letters, digits and dashes.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(200).collect()
}

/// The handle asked for (trimmed), or one made from the title.
pub(crate) fn handle_or_slug(given: Option<&str>, title: &str) -> String {
    given.map_or_else(|| slug(title), |h| h.trim().to_owned())
}

/// Whether a handle is valid; if not, a user error on `input.handle`.
pub(crate) fn check_handle(handle: &str, errors: &mut Vec<UserError>) -> bool {
    let ok = valid_handle(handle);
    if !ok {
        errors.push(UserError::new(
            &["handle"],
            UserErrorCode::Invalid,
            "a handle is lower-case letters, digits and dashes",
        ));
    }
    ok
}

/// Whether `h` is a valid handle or code: lower-case ASCII letters, digits
/// and dashes, 1 to 255 of them.
pub fn valid_handle(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
