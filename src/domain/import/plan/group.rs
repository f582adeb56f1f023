//! Rows grouped by handle into products: each product-level value taken
//! once (a row that contradicts an earlier one of its product is a
//! problem), and a SKU given twice in the file is a problem on its second
//! line.

use std::collections::HashMap;

use entity::product_status::ProductStatus;

use crate::domain::{
    catalog_admin::clean_tags,
    import::{
        Problem,
        csv_rows::{ProductCells, Row},
    },
};

/// A product-level value and the line it came from.
pub(super) type Cell<T> = Option<(T, u64)>;

/// A product's own fields as the file gives them.
#[derive(Default)]
pub(super) struct Fields {
    pub(super) title: Cell<String>,
    pub(super) description: Cell<String>,
    pub(super) vendor: Cell<String>,
    pub(super) product_type: Cell<String>,
    pub(super) tags: Cell<Vec<String>>,
    pub(super) status: Cell<ProductStatus>,
}

/// The rows of one handle.
pub(super) struct Group {
    pub(super) handle: String,
    pub(super) first_line: u64,
    pub(super) fields: Fields,
    pub(super) names: Cell<Vec<Option<String>>>,
    pub(super) rows: Vec<Row>,
}

/// Takes a product-level value into its slot, or reports that it differs
/// from the one already there.
fn merge<T: PartialEq>(
    slot: &mut Cell<T>,
    value: Option<T>,
    line: u64,
    column: &str,
    problems: &mut Vec<Problem>,
) {
    let Some(v) = value else { return };
    match slot {
        None => *slot = Some((v, line)),
        Some((first, first_line)) if *first != v => problems.push(Problem::at(
            line,
            Some(column),
            format!("differs from line {first_line} of the same product"),
        )),
        Some(_) => {}
    }
}

/// Groups rows by handle, in the order the handles first appear.
pub(super) fn group(rows: Vec<Row>, problems: &mut Vec<Problem>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut skus: HashMap<String, u64> = HashMap::new();
    for mut row in rows {
        if let Some(first) = skus.get(&row.sku) {
            problems.push(Problem::at(
                row.line,
                Some("sku"),
                format!("SKU `{}` is already on line {first}", row.sku),
            ));
            continue;
        }
        skus.insert(row.sku.clone(), row.line);
        let i = *index.entry(row.handle.clone()).or_insert_with(|| {
            groups.push(Group {
                handle: row.handle.clone(),
                first_line: row.line,
                fields: Fields::default(),
                names: None,
                rows: Vec::new(),
            });
            groups.len() - 1
        });
        let g = &mut groups[i];
        let cells = std::mem::take(&mut row.product);
        let ProductCells {
            title,
            description,
            vendor,
            product_type,
            tags,
            status,
        } = cells;
        let line = row.line;
        let f = &mut g.fields;
        merge(&mut f.title, title, line, "title", problems);
        merge(
            &mut f.description,
            description,
            line,
            "description",
            problems,
        );
        merge(&mut f.vendor, vendor, line, "vendor", problems);
        merge(&mut f.product_type, product_type, line, "type", problems);
        merge(
            &mut f.tags,
            tags.map(|t| clean_tags(&t)),
            line,
            "tags",
            problems,
        );
        merge(&mut f.status, status, line, "status", problems);
        if row.option_names.iter().any(Option::is_some) {
            let lower = |n: &[Option<String>]| -> Vec<Option<String>> {
                n.iter()
                    .map(|x| x.as_ref().map(|s| s.to_lowercase()))
                    .collect()
            };
            match &g.names {
                None => g.names = Some((row.option_names.clone(), line)),
                Some((names, first)) if lower(names) != lower(&row.option_names) => {
                    problems.push(Problem::at(
                        line,
                        Some("option1_name"),
                        format!("option names differ from line {first} of the same product"),
                    ));
                }
                Some(_) => {}
            }
        }
        g.rows.push(row);
    }
    groups
}
