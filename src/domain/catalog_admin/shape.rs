//! A product's shape, as the variant and option operations see it: its
//! options with their values, its variants and the value each variant
//! picks, loaded inside an audited transaction.

use std::collections::HashMap;

use entity::{product, variant, variant_option_value};
use sea_orm::{ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::domain::{
    audit,
    catalog::{options_of_products, variants_of_products},
    error::DomainResult,
    tx::begin_write,
};

/// A product's options and variants as the variant operations see them.
pub(super) struct Shape {
    /// Options with their values, in order.
    pub(super) options: Vec<(String, Vec<String>)>,
    /// Row ids of the options, like `options`.
    pub(super) option_ids: Vec<i64>,
    /// The position after the last option's (stored positions may start at
    /// 0 or 1).
    pub(super) next_option_position: i32,
    /// Row ids of the values, like `options`.
    pub(super) value_ids: Vec<Vec<i64>>,
    /// Variants by position.
    pub(super) variants: Vec<variant::Model>,
    /// Each variant's value index per option.
    pub(super) picks: HashMap<i64, Vec<usize>>,
}

impl Shape {
    pub(super) fn chosen(&self, picks: &[usize]) -> Vec<String> {
        picks
            .iter()
            .zip(&self.options)
            .map(|(p, (_, values))| values[*p].clone())
            .collect()
    }
}

/// Loads the product (locked by the caller's audit transaction) and its shape.
async fn shape_of(
    tx: &DatabaseTransaction,
    product_id: i64,
) -> DomainResult<Option<(product::Model, Shape)>> {
    let Some(product) = product::Entity::find_by_id(product_id).one(tx).await? else {
        return Ok(None);
    };
    let opts = options_of_products(tx, &[product_id]).await?;
    let mut position_of: HashMap<i64, (usize, usize)> = HashMap::new();
    for (o, opt) in opts.iter().enumerate() {
        for (v, value) in opt.values.iter().enumerate() {
            position_of.insert(value.id, (o, v));
        }
    }
    let variants = variants_of_products(tx, &[product_id]).await?;
    let links = variant_option_value::Entity::find()
        .filter(variant_option_value::Column::VariantId.is_in(variants.iter().map(|v| v.id)))
        .all(tx)
        .await?;
    let mut picks: HashMap<i64, Vec<usize>> = variants
        .iter()
        .map(|v| (v.id, vec![0; opts.len()]))
        .collect();
    for link in links {
        if let (Some(p), Some((o, v))) = (
            picks.get_mut(&link.variant_id),
            position_of.get(&link.option_value_id),
        ) {
            p[*o] = *v;
        }
    }
    let shape = Shape {
        options: opts
            .iter()
            .map(|o| {
                (
                    o.option.name.clone(),
                    o.values.iter().map(|v| v.value.clone()).collect(),
                )
            })
            .collect(),
        option_ids: opts.iter().map(|o| o.option.id).collect(),
        next_option_position: opts
            .iter()
            .map(|o| o.option.position + 1)
            .max()
            .unwrap_or(0),
        value_ids: opts
            .iter()
            .map(|o| o.values.iter().map(|v| v.id).collect())
            .collect(),
        variants,
        picks,
    };
    Ok(Some((product, shape)))
}

/// Opens an audited transaction on a product: locks the audit head, then
/// loads the product and its shape; none when there is no such product.
pub(super) async fn open_product(
    db: &DatabaseConnection,
    product_id: i64,
) -> DomainResult<Option<(DatabaseTransaction, audit::Head, product::Model, Shape)>> {
    let tx = begin_write(db).await?;
    let head = audit::lock(&tx).await?;
    Ok(shape_of(&tx, product_id)
        .await?
        .map(|(product, shape)| (tx, head, product, shape)))
}
