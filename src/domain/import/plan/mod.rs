//! From checked rows to writes: rows grouped into products, compared with
//! what is stored, and only the differences written, in batches, in one
//! transaction with their audit entries.
//!
//! The stages, one module each: `group` (rows into products), `stored`
//! (what the catalog holds for them), `product` (each product's plan) and
//! `write` (the differences written).

mod group;
mod product;
mod stored;
mod write;

use std::collections::{HashMap, HashSet};

use entity::stock_location;
use sea_orm::{DatabaseConnection, EntityTrait};

use super::{Options, Problem, Report, csv_rows::Row};
use crate::domain::{
    audit::{self, Actor},
    channel::{self, Channel},
    error::{DomainError, DomainResult},
    tx::begin_write,
};
use group::group;
use product::{Lookups, plan_product};
use stored::load;
use write::write;

/// Where an import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading rows (done so far).
    Reading,
    /// Comparing with the catalog.
    Checking,
    /// Writing (products done, of total).
    Writing,
}

/// A callback told where an import is: the stage, done so far, of total.
type Progress<'a> = &'a (dyn Fn(Stage, usize, usize) + Send + Sync);

/// Batch size of multi-row statements (within both backends' parameter limits).
const BATCH: usize = 500;

/// Imports checked rows (see the module documentation of `import`).
pub(super) async fn run_rows(
    db: &DatabaseConnection,
    actor: &Actor,
    rows: Vec<Row>,
    mut problems: Vec<Problem>,
    count: usize,
    opts: &Options,
    progress: Progress<'_>,
) -> DomainResult<Report> {
    progress(Stage::Checking, 0, count);
    let groups = group(rows, &mut problems);
    let handles: Vec<String> = groups.iter().map(|g| g.handle.clone()).collect();
    let skus: Vec<String> = groups
        .iter()
        .flat_map(|g| g.rows.iter().map(|r| r.sku.clone()))
        .collect();
    let channels: HashMap<String, Channel> = channel::list(db)
        .await?
        .into_iter()
        .map(|c| (c.code.clone(), c))
        .collect();
    let default_channel = match channel::resolve(db, opts.channel.as_deref(), None).await {
        Ok(c) => Some(c),
        Err(DomainError::UnknownChannel(_)) => None,
        Err(e) => return Err(e),
    };
    if default_channel.is_none() {
        problems.push(Problem::at(
            1,
            None,
            format!(
                "no channel `{}`",
                opts.channel.as_deref().unwrap_or("(default)")
            ),
        ));
    }
    let look = Lookups {
        channels,
        default_channel,
        locations: stock_location::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|l| l.code)
            .collect(),
    };
    let tx = begin_write(db).await?;
    let mut head = audit::lock(&tx).await?;
    let stored = load(&tx, &handles, &skus).await?;
    let mut planned = Vec::with_capacity(groups.len());
    for g in groups {
        if let Some(p) = plan_product(g, &stored, &look, &mut problems) {
            planned.push(p);
        }
    }
    problems.sort_by_key(|p| p.line);
    let bad_lines: HashSet<u64> = problems.iter().map(|p| p.line).collect();
    let kept: usize = planned.iter().map(|p| p.variants.len()).sum();
    let mut report = Report {
        rows: count,
        rows_skipped: count.saturating_sub(kept),
        dry_run: opts.dry_run,
        ..Default::default()
    };
    debug_assert!(
        planned
            .iter()
            .flat_map(|p| &p.variants)
            .all(|v| !bad_lines.contains(&v.line))
    );
    if !problems.is_empty() && !opts.allow_partial {
        report.problems = problems;
        tx.rollback().await?;
        return Ok(report);
    }
    report.problems = problems;
    write(
        &tx,
        &mut head,
        actor,
        opts,
        &stored,
        planned,
        &mut report,
        progress,
    )
    .await?;
    if opts.dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
        report.applied = true;
    }
    Ok(report)
}
