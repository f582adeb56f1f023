//! What the catalog holds for the products and SKUs a file names, loaded
//! in batches before anything is planned.

use std::collections::HashMap;

use entity::{
    media, product, product_option, product_option_value, product_tag, variant,
    variant_option_value, variant_price,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::BATCH;
use crate::domain::error::DomainResult;

/// What is stored for the products and SKUs a file names.
#[derive(Default)]
pub(super) struct Stored {
    pub(super) products: HashMap<String, product::Model>,
    /// Options of each product, in order, each with its values in order.
    pub(super) options:
        HashMap<i64, Vec<(product_option::Model, Vec<product_option_value::Model>)>>,
    pub(super) tags: HashMap<i64, Vec<String>>,
    pub(super) media: HashMap<i64, Vec<media::Model>>,
    pub(super) variants_by_sku: HashMap<String, variant::Model>,
    pub(super) variants_of: HashMap<i64, Vec<variant::Model>>,
    /// Option value ids of each variant.
    pub(super) values_of: HashMap<i64, Vec<i64>>,
    /// Base prices by (variant, channel).
    pub(super) prices: HashMap<(i64, i64), variant_price::Model>,
}

/// Loads what is stored for these handles and SKUs.
pub(super) async fn load(
    db: &impl ConnectionTrait,
    handles: &[String],
    skus: &[String],
) -> DomainResult<Stored> {
    let mut s = Stored::default();
    for chunk in handles.chunks(BATCH) {
        for p in product::Entity::find()
            .filter(product::Column::Handle.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            s.products.insert(p.handle.clone(), p);
        }
    }
    let ids: Vec<i64> = s.products.values().map(|p| p.id).collect();
    let mut option_ids = Vec::new();
    for chunk in ids.chunks(BATCH) {
        let c = chunk.iter().copied();
        for o in product_option::Entity::find()
            .filter(product_option::Column::ProductId.is_in(c.clone()))
            .order_by_asc(product_option::Column::Position)
            .order_by_asc(product_option::Column::Id)
            .all(db)
            .await?
        {
            option_ids.push(o.id);
            s.options
                .entry(o.product_id)
                .or_default()
                .push((o, Vec::new()));
        }
        for t in product_tag::Entity::find()
            .filter(product_tag::Column::ProductId.is_in(c.clone()))
            .all(db)
            .await?
        {
            s.tags.entry(t.product_id).or_default().push(t.tag);
        }
        for m in media::Entity::find()
            .filter(media::Column::ProductId.is_in(c.clone()))
            .all(db)
            .await?
        {
            s.media.entry(m.product_id).or_default().push(m);
        }
        for v in variant::Entity::find()
            .filter(variant::Column::ProductId.is_in(c))
            .all(db)
            .await?
        {
            s.variants_by_sku.insert(v.sku.clone(), v.clone());
            s.variants_of.entry(v.product_id).or_default().push(v);
        }
    }
    let mut value_owner: HashMap<i64, (i64, usize)> = HashMap::new();
    for (product_id, opts) in &s.options {
        for (i, (o, _)) in opts.iter().enumerate() {
            value_owner.insert(o.id, (*product_id, i));
        }
    }
    for chunk in option_ids.chunks(BATCH) {
        for v in product_option_value::Entity::find()
            .filter(product_option_value::Column::OptionId.is_in(chunk.iter().copied()))
            .order_by_asc(product_option_value::Column::Position)
            .order_by_asc(product_option_value::Column::Id)
            .all(db)
            .await?
        {
            if let Some((p, i)) = value_owner.get(&v.option_id)
                && let Some(opts) = s.options.get_mut(p)
            {
                opts[*i].1.push(v);
            }
        }
    }
    let unknown: Vec<String> = skus
        .iter()
        .filter(|k| !s.variants_by_sku.contains_key(*k))
        .cloned()
        .collect();
    for chunk in unknown.chunks(BATCH) {
        for v in variant::Entity::find()
            .filter(variant::Column::Sku.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            s.variants_by_sku.insert(v.sku.clone(), v);
        }
    }
    let variant_ids: Vec<i64> = s.variants_by_sku.values().map(|v| v.id).collect();
    for chunk in variant_ids.chunks(BATCH) {
        for l in variant_option_value::Entity::find()
            .filter(variant_option_value::Column::VariantId.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            s.values_of
                .entry(l.variant_id)
                .or_default()
                .push(l.option_value_id);
        }
        for p in variant_price::Entity::find()
            .filter(variant_price::Column::VariantId.is_in(chunk.iter().copied()))
            .filter(variant_price::Column::CustomerGroupId.is_null())
            .filter(variant_price::Column::MinQuantity.eq(1))
            .all(db)
            .await?
        {
            s.prices.insert((p.variant_id, p.channel_id), p);
        }
    }
    Ok(s)
}
