//! Parsing requests: a GET query string's parameters, a JSON body (one
//! request or a bounded batch), and the document, parsed once, checked
//! against the alias limit and told whether it writes or subscribes.

use async_graphql::{BatchRequest, Request as GqlRequest, Variables};
use serde_json::Value;

use crate::graphql::{
    error::{ErrorCode, set_code},
    limits,
};

/// A GET request's query string as its parameters, in order; the message
/// of a 400 when it does not decode.
pub(super) fn query_params(raw: Option<&str>) -> Result<Vec<(String, String)>, String> {
    match raw.map(serde_urlencoded::from_str).transpose() {
        Ok(p) => Ok(p.unwrap_or_default()),
        Err(e) => Err(format!("bad query string: {e}")),
    }
}

/// The value of the first parameter called `name`.
pub(super) fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// The request a GET query string asks for: its `query` with the
/// `operationName`, `variables` and `extensions` parameters; the message of
/// a 400 when one of them is malformed.
pub(super) fn get_request(
    params: &[(String, String)],
    query: String,
) -> Result<GqlRequest, &'static str> {
    let mut request = GqlRequest::new(query);
    if let Some(op) = param(params, "operationName").filter(|s| !s.is_empty()) {
        request = request.operation_name(op);
    }
    if let Some(vars) = param(params, "variables").filter(|s| !s.is_empty()) {
        match serde_json::from_str::<Value>(&vars) {
            Ok(v @ Value::Object(_)) => request = request.variables(Variables::from_json(v)),
            _ => return Err("`variables` must be a JSON object"),
        }
    }
    if let Some(ext) = param(params, "extensions").filter(|s| !s.is_empty())
        && !matches!(serde_json::from_str::<Value>(&ext), Ok(Value::Object(_)))
    {
        return Err("`extensions` must be a JSON object");
    }
    Ok(request)
}

/// Parses a JSON body into one request or a bounded batch.
pub(super) fn parse_body(bytes: &[u8], max_batch: usize) -> Result<BatchRequest, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let one = |v: Value| -> Result<GqlRequest, String> {
        let Value::Object(map) = &v else {
            return Err("each request must be a JSON object".into());
        };
        match map.get("query") {
            Some(Value::String(_)) => {}
            Some(_) => return Err("`query` must be a string".into()),
            None => return Err("missing `query`".into()),
        }
        if map
            .get("variables")
            .is_some_and(|v| !(v.is_object() || v.is_null()))
        {
            return Err("`variables` must be an object".into());
        }
        if map
            .get("operationName")
            .is_some_and(|v| !(v.is_string() || v.is_null()))
        {
            return Err("`operationName` must be a string".into());
        }
        if map
            .get("extensions")
            .is_some_and(|v| !(v.is_object() || v.is_null()))
        {
            return Err("`extensions` must be an object".into());
        }
        serde_json::from_value::<GqlRequest>(v).map_err(|e| format!("bad request: {e}"))
    };
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err("an empty batch".into());
            }
            if items.len() > max_batch {
                return Err(format!(
                    "a batch holds at most {max_batch} operations, got {}",
                    items.len()
                ));
            }
            Ok(BatchRequest::Batch(
                items.into_iter().map(one).collect::<Result<_, _>>()?,
            ))
        }
        other => Ok(BatchRequest::Single(one(other)?)),
    }
}

/// A request whose document parsed and passed the alias limit.
pub(super) struct Prepared {
    pub(super) request: GqlRequest,
    /// Whether the selected operation is a mutation or subscription.
    pub(super) writes: bool,
    /// Whether the document asks for the schema.
    pub(super) introspects: bool,
}

/// Parses the document once (async-graphql reuses the parsed document),
/// applies the alias limit and finds out whether the operation writes.
pub(super) fn prepare(
    mut request: GqlRequest,
    max_aliases: usize,
) -> Result<Prepared, Box<async_graphql::Response>> {
    let operation = request.operation_name.clone();
    let doc = match request.parsed_query() {
        Ok(doc) => doc,
        Err(mut e) => {
            set_code(&mut e, ErrorCode::GraphqlParseFailed);
            return Err(Box::new(async_graphql::Response::from_errors(vec![e])));
        }
    };
    if let Err(e) = limits::check_aliases(doc, max_aliases) {
        return Err(Box::new(async_graphql::Response::from_errors(vec![e])));
    }
    if limits::subscribes(doc, operation.as_deref()) {
        let e = ErrorCode::BadRequest.server_error(
            "subscriptions are served over a WebSocket at /graphql/ws \
             (the graphql-transport-ws protocol of the graphql-ws client)",
        );
        return Err(Box::new(async_graphql::Response::from_errors(vec![e])));
    }
    let writes = limits::writes(doc, operation.as_deref());
    let introspects = limits::introspects(doc);
    Ok(Prepared {
        request,
        writes,
        introspects,
    })
}

/// A copy of `r` (document already parsed) for the costing schema.
pub(crate) fn probe(r: &mut GqlRequest) -> GqlRequest {
    let mut p = GqlRequest::new(r.query.clone()).variables(r.variables.clone());
    p.operation_name = r.operation_name.clone();
    p.introspection_mode = r.introspection_mode;
    if let Ok(doc) = r.parsed_query() {
        p.set_parsed_query(doc.clone());
    }
    p
}
