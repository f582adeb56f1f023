//! Bulk catalog import from CSV: products, options, variants, prices,
//! images and stock, upserted by handle and SKU.
//!
//! The file is read and checked whole before anything is written: every bad
//! row is reported with its line number and reason. A file with problems
//! writes nothing unless `allow_partial` is asked for, in which case the
//! good rows are imported and rows of a product with a product-level problem
//! are all left out. A dry run does the whole import in a transaction and
//! rolls it back, so its figures are exactly what a real run would do.
//!
//! Importing the same file twice changes nothing the second time: every
//! value is compared with what is stored and only differences are written
//! (and audited).

mod csv_rows;
mod plan;

use serde::Serialize;

use sea_orm::DatabaseConnection;

use super::{audit::Actor, error::DomainResult};

pub use plan::Stage;
use plan::run_rows;

/// Most data rows one file may have.
pub const MAX_ROWS: usize = 100_000;

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Check and count, write nothing.
    pub dry_run: bool,
    /// Import the good rows of a file that has bad ones.
    pub allow_partial: bool,
    /// Channel of the `price` and `compare_at_price` columns (default: the
    /// default channel).
    pub channel: Option<String>,
    /// Kept on stock movements as their reference (e.g. the file name).
    pub reference: Option<String>,
}

/// A bad row (or header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// 1-based line of the file (1 is the header).
    pub line: u64,
    /// The column, when one is at fault.
    pub column: Option<String>,
    /// What is wrong, for people.
    pub message: String,
}

impl Problem {
    pub(crate) fn at(line: u64, column: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            line,
            column: column.map(|c| c.trim().to_owned()),
            message: message.into(),
        }
    }
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Data rows read.
    pub rows: usize,
    /// Rows left out because of problems.
    pub rows_skipped: usize,
    /// Products created.
    pub products_created: usize,
    /// Products whose own fields or tags changed.
    pub products_updated: usize,
    /// Products named by the file and left as they were.
    pub products_unchanged: usize,
    /// Variants created.
    pub variants_created: usize,
    /// Variants changed.
    pub variants_updated: usize,
    /// Variants named by the file and left as they were.
    pub variants_unchanged: usize,
    /// Prices set or changed.
    pub prices_changed: usize,
    /// Images added.
    pub media_added: usize,
    /// Stock levels changed.
    pub stock_changed: usize,
    /// Every problem found, in line order.
    pub problems: Vec<Problem>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Whether the changes were committed.
    pub applied: bool,
}

/// What a file's header says it will write beyond products and variants,
/// so a caller can ask for the matching permissions first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Touches {
    /// It has price columns.
    pub prices: bool,
    /// It has inventory columns.
    pub stock: bool,
}

/// Reads only the header of a file.
pub fn touches(csv: &[u8]) -> Touches {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv);
    let mut t = Touches::default();
    if let Some(Ok(header)) = reader.records().next() {
        for c in header.iter().filter_map(csv_rows::column) {
            match c {
                csv_rows::Col::Price(_) | csv_rows::Col::CompareAt(_) => t.prices = true,
                csv_rows::Col::Inventory(_) => t.stock = true,
                _ => {}
            }
        }
    }
    t
}

/// Imports a CSV file (see the README for the columns).
pub async fn run(
    db: &DatabaseConnection,
    actor: &Actor,
    csv: &[u8],
    opts: &Options,
    progress: &(dyn Fn(Stage, usize, usize) + Send + Sync),
) -> DomainResult<Report> {
    let (rows, mut problems, count) = read(csv, progress);
    let fatal = problems.iter().any(|p| p.line == 1) || count > MAX_ROWS;
    if count > MAX_ROWS {
        problems.push(Problem::at(
            1,
            None,
            format!("the file has {count} rows; at most {MAX_ROWS} per import"),
        ));
    }
    if fatal {
        return Ok(Report {
            rows: count,
            rows_skipped: count,
            problems,
            dry_run: opts.dry_run,
            ..Default::default()
        });
    }
    run_rows(db, actor, rows, problems, count, opts, progress).await
}

/// Reads and checks every row; the rows that passed, every problem, and the
/// number of data rows.
fn read(
    csv: &[u8],
    progress: &(dyn Fn(Stage, usize, usize) + Send + Sync),
) -> (Vec<csv_rows::Row>, Vec<Problem>, usize) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(csv);
    let mut records = reader.records();
    let mut problems = Vec::new();
    let cols = match records.next() {
        None => {
            problems.push(Problem::at(1, None, "the file is empty"));
            return (Vec::new(), problems, 0);
        }
        Some(Err(e)) => {
            problems.push(Problem::at(1, None, format!("unreadable header: {e}")));
            return (Vec::new(), problems, 0);
        }
        Some(Ok(h)) => match csv_rows::header(&h) {
            Ok(cols) => cols,
            Err(p) => return (Vec::new(), p, 0),
        },
    };
    let mut rows = Vec::new();
    let mut count = 0;
    for record in records {
        count += 1;
        if count % 1000 == 0 {
            progress(Stage::Reading, count, 0);
        }
        if count > MAX_ROWS {
            continue;
        }
        match record {
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                problems.push(Problem::at(line, None, format!("unreadable row: {e}")));
            }
            Ok(r) => {
                let line = r.position().map_or(0, |p| p.line());
                if r.iter().all(|c| c.trim().is_empty()) {
                    count -= 1;
                    continue;
                }
                if r.len() != cols.len() {
                    problems.push(Problem::at(
                        line,
                        None,
                        format!("{} fields, the header has {}", r.len(), cols.len()),
                    ));
                    continue;
                }
                if let Some(row) = csv_rows::row(line, &cols, &r, &mut problems) {
                    rows.push(row);
                }
            }
        }
    }
    progress(Stage::Reading, count, count);
    (rows, problems, count)
}
