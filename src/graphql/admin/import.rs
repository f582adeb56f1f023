//! `productImport`: the CSV import of `emporium import`, as a mutation
//! taking the file as a GraphQL multipart upload (or, for small files and
//! GraphiQL, as a string).

use async_graphql::{Context, Object, SimpleObject, Upload};

use crate::{
    domain::{
        error::{UserError as DomainUserError, UserErrorCode},
        identity::permission::Permission,
        import::{self, Options, Problem, Report},
    },
    graphql::{
        ContextExt,
        auth::{Need, check},
        common::{UserError, actor, user_errors},
        error::ApiResult,
    },
};

/// A bad row of an import.
#[derive(SimpleObject)]
pub struct ImportProblem {
    /// Line of the file (1 is the header).
    pub line: i32,
    /// The column at fault, if one is.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl From<Problem> for ImportProblem {
    fn from(p: Problem) -> Self {
        Self {
            line: i32::try_from(p.line).unwrap_or(i32::MAX),
            column: p.column,
            message: p.message,
        }
    }
}

/// What an import did, or in a dry run would do.
#[derive(SimpleObject, Default)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: i32,
    /// Rows left out because of problems.
    pub rows_skipped: i32,
    /// Products created.
    pub products_created: i32,
    /// Products changed.
    pub products_updated: i32,
    /// Products left as they were.
    pub products_unchanged: i32,
    /// Variants created.
    pub variants_created: i32,
    /// Variants changed.
    pub variants_updated: i32,
    /// Variants left as they were.
    pub variants_unchanged: i32,
    /// Prices set or changed.
    pub prices_changed: i32,
    /// Images added.
    pub media_added: i32,
    /// Stock levels changed.
    pub stock_changed: i32,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// Whether the changes were committed.
    pub applied: bool,
    /// Every bad row, in line order.
    pub problems: Vec<ImportProblem>,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<Report> for ImportReport {
    fn from(r: Report) -> Self {
        Self {
            rows: count(r.rows),
            rows_skipped: count(r.rows_skipped),
            products_created: count(r.products_created),
            products_updated: count(r.products_updated),
            products_unchanged: count(r.products_unchanged),
            variants_created: count(r.variants_created),
            variants_updated: count(r.variants_updated),
            variants_unchanged: count(r.variants_unchanged),
            prices_changed: count(r.prices_changed),
            media_added: count(r.media_added),
            stock_changed: count(r.stock_changed),
            dry_run: r.dry_run,
            applied: r.applied,
            problems: r.problems.into_iter().map(Into::into).collect(),
        }
    }
}

/// The result of `productImport`.
#[derive(SimpleObject, Default)]
pub struct ProductImportPayload {
    /// The report, unless the request itself was refused.
    pub report: Option<ImportReport>,
    /// Why the request was refused (no file, unreadable upload).
    pub user_errors: Vec<UserError>,
}

/// The CSV import.
#[derive(Default)]
pub struct ImportMutation;

fn refused(field: &str, message: &str) -> ProductImportPayload {
    ProductImportPayload {
        report: None,
        user_errors: user_errors(vec![DomainUserError::new(
            &[field],
            UserErrorCode::Invalid,
            message,
        )]),
    }
}

#[Object]
impl ImportMutation {
    /// Imports products, variants, prices, images and stock from a CSV file
    /// (the columns of `emporium import`, see the README), upserting by
    /// handle and SKU: importing the same file again changes nothing. Give
    /// the file as a multipart upload (`file`) or inline (`csv`). A file with
    /// bad rows writes nothing unless `allowPartial`; `dryRun` writes
    /// nothing and reports what would happen. Price columns also need
    /// `prices:write`, inventory columns `inventory:write`.
    #[graphql(guard = "Need(Permission::CatalogWrite)")]
    async fn product_import(
        &self,
        ctx: &Context<'_>,
        file: Option<Upload>,
        csv: Option<String>,
        #[graphql(default)] dry_run: bool,
        #[graphql(default)] allow_partial: bool,
        channel: Option<String>,
    ) -> ApiResult<ProductImportPayload> {
        let (bytes, reference) = match (file, csv) {
            (Some(f), None) => match f.value(ctx) {
                Ok(v) => (v.content.to_vec(), Some(v.filename)),
                Err(_) => return Ok(refused("file", "the upload could not be read")),
            },
            (None, Some(text)) => (text.into_bytes(), None),
            _ => return Ok(refused("file", "give either `file` or `csv`")),
        };
        let principal = ctx.principal()?;
        let touches = import::touches(&bytes);
        if touches.prices {
            check(principal, Permission::PricesWrite)?;
        }
        if touches.stock {
            check(principal, Permission::InventoryWrite)?;
        }
        let state = ctx.state()?;
        let opts = Options {
            dry_run,
            allow_partial,
            channel: channel.or_else(|| state.config.default_channel.clone()),
            reference,
        };
        let actor = actor(ctx).await?;
        let report = import::run(&state.db, &actor, &bytes, &opts, &|_, _, _| {}).await?;
        Ok(ProductImportPayload {
            report: Some(report.into()),
            user_errors: vec![],
        })
    }
}
