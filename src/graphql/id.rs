//! Opaque global IDs for the Relay `Node` interface (see [`crate::domain::gid`]).

use async_graphql::ID;

use crate::domain::gid;
pub use crate::domain::gid::Kind;

use super::error::{ApiResult, ErrorCode};

/// The global ID of row `id` of kind `kind`.
pub fn encode(kind: Kind, id: i64) -> ID {
    ID(gid::encode(kind, id))
}

/// Decodes any global ID into its kind and row id.
pub fn decode(id: &ID) -> ApiResult<(Kind, i64)> {
    gid::decode(id.as_str()).ok_or_else(|| {
        ErrorCode::BadUserInput.error(format!("`{}` is not a valid ID", id.as_str()))
    })
}
/// Decodes a global ID that must be of kind `expected`.
pub fn decode_as(expected: Kind, id: &ID) -> ApiResult<i64> {
    match decode(id)? {
        (kind, row) if kind == expected => Ok(row),
        _ => Err(ErrorCode::BadUserInput.error(format!(
            "`{}` is not the ID of a {}",
            id.as_str(),
            expected.name()
        ))),
    }
}

/// Decodes global IDs that must all be of kind `expected`.
pub fn decode_all(expected: Kind, ids: &[ID]) -> ApiResult<Vec<i64>> {
    ids.iter().map(|id| decode_as(expected, id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_id_is_a_user_input_error_and_kinds_are_checked() {
        let id = encode(Kind::Product, 42);
        assert!(matches!(decode(&id), Ok((Kind::Product, 42))));
        assert!(decode_as(Kind::Collection, &id).is_err());
        assert!(decode(&ID("!!!".into())).is_err());
    }
}
