//! The served schema (read by introspection) and every simple path from
//! the query root into protected data, with a document for each.

use super::*;

// ---------------------------------------------------------------------------
// The schema, as the server describes it.

pub(super) const INTROSPECTION: &str = "{ __schema { types { name kind possibleTypes { name } \
     fields { name args { name type { ...T } } type { ...T } } } } } \
     fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// One field of an object or interface type.
#[derive(Debug, Clone)]
pub(super) struct Field {
    pub(super) name: String,
    /// The named type it returns (lists and non-null unwrapped).
    pub(super) target: String,
    /// Names of arguments without a default that must be given.
    pub(super) required: Vec<String>,
    /// Whether it takes `first`.
    pub(super) paged: bool,
}

#[derive(Debug, Default)]
pub(super) struct Schema {
    pub(super) kinds: HashMap<String, String>,
    pub(super) fields: HashMap<String, Vec<Field>>,
    pub(super) possible: HashMap<String, Vec<String>>,
}

pub(super) fn named(t: &Value) -> (String, bool) {
    let mut t = t;
    let mut required = false;
    let mut first = true;
    while t["name"].is_null() {
        if first && t["kind"] == "NON_NULL" {
            required = true;
        }
        first = false;
        t = &t["ofType"];
    }
    (t["name"].as_str().unwrap_or_default().to_owned(), required)
}

impl Schema {
    pub(super) async fn of(app: &TestApp) -> Self {
        let data = app.query(INTROSPECTION, json!({})).await;
        let mut schema = Self::default();
        for t in data["__schema"]["types"].as_array().into_iter().flatten() {
            let name = t["name"].as_str().unwrap_or_default().to_owned();
            if name.starts_with("__") {
                continue;
            }
            schema
                .kinds
                .insert(name.clone(), t["kind"].as_str().unwrap_or_default().into());
            let possible = t["possibleTypes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect();
            schema.possible.insert(name.clone(), possible);
            let fields = t["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| Field {
                    name: f["name"].as_str().unwrap_or_default().to_owned(),
                    target: named(&f["type"]).0,
                    required: f["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|a| named(&a["type"]).1)
                        .filter_map(|a| a["name"].as_str().map(str::to_owned))
                        .collect(),
                    paged: f["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|a| a["name"] == "first"),
                })
                .collect();
            schema.fields.insert(name, fields);
        }
        schema
    }

    pub(super) fn kind(&self, t: &str) -> &str {
        self.kinds.get(t).map_or("", String::as_str)
    }

    /// The type a field leads to, seeing through connections: `(node type,
    /// whether it is a connection)`.
    pub(super) fn leads_to(&self, f: &Field) -> (String, bool) {
        if f.target.ends_with("Connection")
            && let Some(nodes) = self
                .fields
                .get(&f.target)
                .and_then(|fs| fs.iter().find(|n| n.name == "nodes"))
        {
            return (nodes.target.clone(), true);
        }
        (f.target.clone(), false)
    }

    pub(super) fn is_composite(&self, t: &str) -> bool {
        matches!(self.kind(t), "OBJECT" | "INTERFACE")
    }

    /// Object types that are only a connection's plumbing.
    pub(super) fn is_plumbing(t: &str) -> bool {
        t.ends_with("Connection") || t.ends_with("Edge") || t == "PageInfo"
    }
}

pub(super) fn edge_rule(parent: &str, field: &str) -> Option<Rule> {
    EDGES
        .iter()
        .find(|(p, f, _)| *p == parent && *f == field)
        .map(|(_, _, r)| *r)
}

/// The rule of crossing a field: its entry here, else for a root field what
/// the root-operation matrix says it needs.
pub(super) fn rule_of(parent: &str, field: &str) -> Rule {
    if let Some(rule) = edge_rule(parent, field) {
        return rule;
    }
    if parent != "Query" {
        return Public;
    }
    match root_needs(field) {
        Some(Needs::Customer) => SignedInCustomer,
        Some(Needs::Staff) => SignedInStaff,
        Some(Needs::Perm(p) | Needs::CustomerOr(p)) => Perm(p),
        Some(Needs::Public) | None => Public,
    }
}

pub(super) fn node_kind(t: &str) -> Option<(Rule, &'static str)> {
    NODE_KINDS
        .iter()
        .find(|(k, _, _)| *k == t)
        .map(|(_, r, id)| (*r, *id))
}

// ---------------------------------------------------------------------------
// Paths from the query root.

/// One step of a path.
#[derive(Debug, Clone)]
pub(super) enum Step {
    /// A field of `parent`.
    Field {
        parent: String,
        field: Field,
        connection: bool,
    },
    /// Into a concrete type behind an interface (`... on T`).
    On(String),
}

impl Step {
    pub(super) fn rule(&self) -> Rule {
        match self {
            Step::Field { parent, field, .. } => rule_of(parent, &field.name),
            Step::On(t) => node_kind(t).map_or(Public, |(r, _)| r),
        }
    }

    pub(super) fn is_protected_edge(&self) -> bool {
        match self {
            Step::Field { parent, field, .. } => edge_rule(parent, &field.name).is_some(),
            Step::On(t) => node_kind(t).is_some_and(|(r, _)| r != Public),
        }
    }
}

pub(super) type Path = Vec<Step>;

pub(super) fn walk(
    schema: &Schema,
    at: &str,
    path: &mut Path,
    seen: &mut Vec<String>,
    out: &mut Vec<Path>,
) {
    if path.len() >= MAX_HOPS {
        return;
    }
    if schema.kind(at) == "INTERFACE" {
        for t in schema.possible.get(at).cloned().unwrap_or_default() {
            if seen.contains(&t) {
                continue;
            }
            path.push(Step::On(t.clone()));
            if path.last().is_some_and(Step::is_protected_edge) {
                out.push(path.clone());
            }
            seen.push(t.clone());
            walk(schema, &t, path, seen, out);
            seen.pop();
            path.pop();
        }
        return;
    }
    for f in schema.fields.get(at).cloned().unwrap_or_default() {
        if SKIP.contains(&f.name.as_str()) {
            continue;
        }
        let (target, connection) = schema.leads_to(&f);
        if !schema.is_composite(&target) || seen.contains(&target) {
            continue;
        }
        path.push(Step::Field {
            parent: at.to_owned(),
            field: f,
            connection,
        });
        if path.last().is_some_and(Step::is_protected_edge) {
            out.push(path.clone());
        }
        seen.push(target.clone());
        walk(schema, &target, path, seen, out);
        seen.pop();
        path.pop();
    }
}

/// Every simple path from the query root that ends on a protected field.
pub(super) fn paths(schema: &Schema) -> Vec<Path> {
    let mut out = Vec::new();
    walk(
        schema,
        "Query",
        &mut Vec::new(),
        &mut vec!["Query".to_owned()],
        &mut out,
    );
    out
}

pub(super) fn describe(path: &Path) -> String {
    path.iter()
        .map(|s| match s {
            Step::Field { parent, field, .. } => format!("{parent}.{}", field.name),
            Step::On(t) => format!("(on {t})"),
        })
        .collect::<Vec<_>>()
        .join(" > ")
}

/// The document for `path`, or why none can be made.
pub(super) fn document(path: &Path) -> Result<String, String> {
    let mut open = String::new();
    let mut close = String::new();
    for (i, step) in path.iter().enumerate() {
        match step {
            Step::Field {
                parent,
                field,
                connection,
            } => {
                let mut args: Vec<String> = Vec::new();
                if let Some((_, _, a)) = ARGS
                    .iter()
                    .find(|(p, f, _)| p == parent && *f == field.name)
                {
                    args.push((*a).to_owned());
                } else if matches!(field.name.as_str(), "node" | "nodes") && parent == "Query" {
                    let Some(Step::On(t)) = path.get(i + 1) else {
                        return Err("node without a type".into());
                    };
                    let Some((_, id)) = node_kind(t) else {
                        return Err(format!("no NODE_KINDS entry for {t}"));
                    };
                    args.push(if field.name == "node" {
                        format!("id: \"{id}\"")
                    } else {
                        format!("ids: [\"{id}\"]")
                    });
                } else if let Some(missing) = field.required.first() {
                    return Err(format!(
                        "{parent}.{} needs `{missing}`: add it to ARGS",
                        field.name
                    ));
                }
                if field.paged && !args.iter().any(|a| a.starts_with("first")) {
                    args.push("first: 2".into());
                }
                let args = if args.is_empty() {
                    String::new()
                } else {
                    format!("({})", args.join(", "))
                };
                open.push_str(&format!(" {}{args} {{", field.name));
                close.insert_str(0, " }");
                if *connection {
                    open.push_str(" nodes {");
                    close.insert_str(0, " }");
                }
            }
            Step::On(t) => {
                open.push_str(&format!(" ... on {t} {{"));
                close.insert_str(0, " }");
            }
        }
    }
    Ok(format!("{{{open} __typename{close} }}"))
}

/// Whether `data` holds an object at the end of `path` (through lists, any
/// element will do).
pub(super) fn reaches(value: &Value, path: &[Step]) -> bool {
    let Some((step, rest)) = path.split_first() else {
        return match value {
            Value::Null => false,
            Value::Array(items) => items.iter().any(|v| reaches(v, &[])),
            _ => true,
        };
    };
    match value {
        Value::Array(items) => items.iter().any(|v| reaches(v, path)),
        Value::Object(o) => match step {
            Step::On(t) => {
                o.get("__typename").is_none_or(|n| n == t.as_str()) && reaches(value, rest)
            }
            Step::Field {
                field, connection, ..
            } => {
                let Some(mut v) = o.get(&field.name) else {
                    return false;
                };
                if *connection {
                    v = &v["nodes"];
                }
                reaches(v, rest)
            }
        },
        _ => false,
    }
}
