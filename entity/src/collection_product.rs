//! Membership of a product in a collection, at a position.

use sea_orm::entity::prelude::*;

/// A row of `collection_product`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "collection_product")]
pub struct Model {
    /// The `collection_id` column.
    #[sea_orm(primary_key, auto_increment = false)]
    pub collection_id: i64,
    /// The `product_id` column.
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_id: i64,
    /// The `position` column.
    pub position: i32,
}

/// A membership points at its collection and its product.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The collection.
    #[sea_orm(
        belongs_to = "super::collection::Entity",
        from = "Column::CollectionId",
        to = "super::collection::Column::Id"
    )]
    Collection,
    /// The product.
    #[sea_orm(
        belongs_to = "super::product::Entity",
        from = "Column::ProductId",
        to = "super::product::Column::Id"
    )]
    Product,
}

impl Related<super::collection::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Collection.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
