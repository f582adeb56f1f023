//! Self-contained GraphiQL playground.
//!
//! The GraphiQL page and every script and stylesheet it needs (GraphiQL,
//! React, ReactDOM and the `graphql-ws` client) are compiled into the binary
//! with `include_str!` / `include_bytes!` and served by emporium itself under
//! `/graphiql/<file>`. Nothing is fetched from a CDN at runtime, so the
//! playground works offline, on air-gapped hosts and behind a strict
//! `Content-Security-Policy`, and the UI version always matches the server
//! build.
//!
//! The vendored files live in `assets/vendor/graphiql/` (see the `README.md`
//! there for their packages, versions and licenses); the page itself is
//! `assets/graphiql.html`.

use axum::{
    Router,
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};

/// The GraphiQL HTML page.
const PAGE: &str = include_str!("../../assets/graphiql.html");

/// `Cache-Control` sent with every embedded asset.
const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Every file name served under `/graphiql/` (mirrors the table in [`asset`]).
#[cfg(test)]
const FILES: &[&str] = &[
    "graphiql.min.js",
    "graphiql.min.css",
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphql-ws.min.js",
    "LICENSES.txt",
];

/// Looks up an embedded asset by file name: `(content type, body)`.
///
/// This is the static table of everything served under `/graphiql/`; any
/// other name yields `None`.
fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    let found: (&'static str, &'static [u8]) = match name {
        "graphiql.min.js" => (
            JAVASCRIPT,
            include_bytes!("../../assets/vendor/graphiql/graphiql.min.js"),
        ),
        "graphiql.min.css" => (
            CSS,
            include_bytes!("../../assets/vendor/graphiql/graphiql.min.css"),
        ),
        "react.production.min.js" => (
            JAVASCRIPT,
            include_bytes!("../../assets/vendor/graphiql/react.production.min.js"),
        ),
        "react-dom.production.min.js" => (
            JAVASCRIPT,
            include_bytes!("../../assets/vendor/graphiql/react-dom.production.min.js"),
        ),
        "graphql-ws.min.js" => (
            JAVASCRIPT,
            include_bytes!("../../assets/vendor/graphiql/graphql-ws.min.js"),
        ),
        "LICENSES.txt" => (
            TEXT,
            include_bytes!("../../assets/vendor/graphiql/LICENSES.txt"),
        ),
        _ => return None,
    };
    Some(found)
}

/// Returns the GraphiQL playground page.
///
/// The page loads its scripts and stylesheet from `/graphiql/<file>` (see
/// [`router`]), sends queries to `/graphql` and subscriptions over
/// WebSocket to `/graphql/ws`, and opens with the [`EXAMPLES`], one tab each.
/// Mount it on whatever path should show the playground, e.g.
/// `get(|| async { graphiql::page() })`.
pub fn page() -> Html<&'static str> {
    Html(PAGE_WITH_EXAMPLES.as_str())
}

/// The example operations the playground opens with, one tab each, in order.
/// A first line `# headers: {...}` becomes the tab's headers.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "01-storefront.graphql",
        include_str!("../../examples/queries/01-storefront.graphql"),
    ),
    (
        "02-staff-login.graphql",
        include_str!("../../examples/queries/02-staff-login.graphql"),
    ),
    (
        "03-whole-catalog.graphql",
        include_str!("../../examples/queries/03-whole-catalog.graphql"),
    ),
    (
        "04-inventory-sync.graphql",
        include_str!("../../examples/queries/04-inventory-sync.graphql"),
    ),
    (
        "05-audit.graphql",
        include_str!("../../examples/queries/05-audit.graphql"),
    ),
    (
        "06-partner-tokens.graphql",
        include_str!("../../examples/queries/06-partner-tokens.graphql"),
    ),
    (
        "07-create-product.graphql",
        include_str!("../../examples/queries/07-create-product.graphql"),
    ),
    (
        "08-catalog-variants-and-prices.graphql",
        include_str!("../../examples/queries/08-catalog-variants-and-prices.graphql"),
    ),
    (
        "09-collections.graphql",
        include_str!("../../examples/queries/09-collections.graphql"),
    ),
    (
        "10-product-import.graphql",
        include_str!("../../examples/queries/10-product-import.graphql"),
    ),
    (
        "11-cart-and-checkout.graphql",
        include_str!("../../examples/queries/11-cart-and-checkout.graphql"),
    ),
    (
        "12-promotions-and-gift-cards.graphql",
        include_str!("../../examples/queries/12-promotions-and-gift-cards.graphql"),
    ),
    (
        "13-live-stock.graphql",
        include_str!("../../examples/queries/13-live-stock.graphql"),
    ),
    (
        "14-webhooks.graphql",
        include_str!("../../examples/queries/14-webhooks.graphql"),
    ),
];

static PAGE_WITH_EXAMPLES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let tabs: Vec<serde_json::Value> = EXAMPLES
        .iter()
        .map(|(_, query)| {
            let headers = query
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# headers: "))
                .map(str::trim);
            serde_json::json!({ "query": query, "headers": headers })
        })
        .collect();
    // `</` would end the script element early.
    let json = serde_json::to_string(&tabs)
        .unwrap_or_else(|_| "[]".into())
        .replace("</", "<\\/");
    PAGE.replace("/*EXAMPLES*/[]", &json)
});

/// Routes serving the embedded GraphiQL assets at `GET /graphiql/{file}`.
///
/// Known files are answered with their content type and a one-year
/// `immutable` `Cache-Control`; any other file name gets `404 Not Found`.
/// The router needs no state, so it can be merged into a router of any
/// state type `S`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/graphiql/{file}", get(serve_asset))
}

/// Handler for `GET /graphiql/{file}`.
async fn serve_asset(Path(file): Path<String>) -> Response {
    match asset(&file) {
        Some((content_type, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(CACHE_CONTROL),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    async fn get_file(path: &str) -> Result<Response, Box<dyn std::error::Error>> {
        let request = Request::builder().uri(path).body(Body::empty())?;
        Ok(router::<()>().oneshot(request).await?)
    }

    fn header_str(response: &Response, name: header::HeaderName) -> &str {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn javascript_asset_is_served() -> TestResult {
        let response = get_file("/graphiql/graphiql.min.js").await?;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header_str(&response, header::CONTENT_TYPE).contains("javascript"));
        assert_eq!(
            header_str(&response, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        assert!(!body.is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn stylesheet_is_served_as_css() -> TestResult {
        let response = get_file("/graphiql/graphiql.min.css").await?;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header_str(&response, header::CONTENT_TYPE).starts_with("text/css"));
        Ok(())
    }

    #[tokio::test]
    async fn unknown_file_is_not_found() -> TestResult {
        for path in [
            "/graphiql/nope.js",
            "/graphiql/README.md",
            "/graphiql/..%2FCargo.toml",
        ] {
            let response = get_file(path).await?;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
        Ok(())
    }

    #[test]
    fn every_listed_file_is_embedded_and_non_empty() {
        for file in FILES {
            let found = asset(file);
            assert!(found.is_some_and(|(_, body)| !body.is_empty()), "{file}");
        }
    }

    #[test]
    fn page_references_every_embedded_asset() {
        let Html(html) = page();
        for file in FILES {
            let path = format!("/graphiql/{file}");
            assert!(html.contains(&path), "page does not reference {path}");
        }
    }

    #[test]
    fn the_page_opens_every_example_and_every_example_file_is_listed() {
        let Html(html) = page();
        assert!(!html.contains("/*EXAMPLES*/"));
        for (_, query) in EXAMPLES {
            let encoded = serde_json::to_string(query).unwrap_or_default();
            assert!(html.contains(&encoded.replace("</", "<\\/")));
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/queries");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".graphql"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let listed: Vec<String> = EXAMPLES.iter().map(|(n, _)| (*n).to_owned()).collect();
        assert_eq!(files, listed, "examples/queries and EXAMPLES differ");
    }

    #[test]
    fn page_targets_this_server() {
        let Html(html) = page();
        assert!(html.contains("<title>emporium — GraphiQL</title>"));
        assert!(html.contains("url: '/graphql'"));
        assert!(html.contains("/graphql/ws"));
        assert!(html.contains("query Storefront {"));
        assert!(html.contains("isHeadersEditorEnabled: true"));
        // No third-party hosts: everything comes from this binary.
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}
