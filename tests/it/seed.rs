//! The demo catalog generator: deterministic, believable, and never seeded twice.

use emporium::seed::{self, SeedOptions};
use entity::product_status::ProductStatus;
use sea_orm::{EntityTrait, Iterable, PaginatorTrait, PrimaryKeyToColumn, QueryOrder};

use crate::harness::{Options, TestApp};

/// All rows of one table, by primary key, as text.
async fn rows<E>(app: &TestApp) -> String
where
    E: EntityTrait,
    E::Model: std::fmt::Debug,
{
    let mut query = E::find();
    for key in E::PrimaryKey::iter() {
        query = query.order_by_asc(key.into_column());
    }
    format!(
        "{:?}",
        query
            .all(&app.db)
            .await
            .unwrap_or_else(|e| panic!("query: {e}"))
    )
}

/// Everything a storefront shows of the catalog, in a stable order.
async fn snapshot(app: &TestApp) -> String {
    [
        rows::<entity::product::Entity>(app).await,
        rows::<entity::variant::Entity>(app).await,
        rows::<entity::variant_price::Entity>(app).await,
        rows::<entity::stock_level::Entity>(app).await,
        rows::<entity::media::Entity>(app).await,
        rows::<entity::collection_product::Entity>(app).await,
    ]
    .join("\n")
}

#[tokio::test]
async fn the_same_size_gives_the_same_catalog() {
    let a = TestApp::spawn_with(Options {
        products: Some(60),
        ..Default::default()
    })
    .await;
    let b = TestApp::spawn_with(Options {
        products: Some(60),
        ..Default::default()
    })
    .await;
    let (sa, sb) = (snapshot(&a).await, snapshot(&b).await);
    assert!(sa.len() > 10_000);
    assert!(sa == sb, "two seeds of 60 products differ");
}

#[tokio::test]
async fn statuses_follow_the_documented_rule_and_a_second_seed_is_refused() {
    let app = TestApp::spawn_with(Options {
        products: Some(100),
        ..Default::default()
    })
    .await;
    let products = entity::product::Entity::find()
        .order_by_asc(entity::product::Column::Id)
        .all(&app.db)
        .await
        .unwrap_or_else(|e| panic!("query: {e}"));
    assert_eq!(products.len(), 100);
    for (i, p) in products.iter().enumerate() {
        assert_eq!(p.status, seed::product_status(i), "product {i}");
    }
    assert!(products.iter().any(|p| p.status == ProductStatus::Draft));
    assert!(products.iter().any(|p| p.status == ProductStatus::Archived));
    assert_eq!(products[0].handle, "pocket-journal-0");
    // Two currencies, two locations, every variant priced in both channels.
    let variants = entity::variant::Entity::find()
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("query: {e}"));
    let channels = entity::channel::Entity::find()
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("query: {e}"));
    let locations = entity::stock_location::Entity::find()
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("query: {e}"));
    let levels = entity::stock_level::Entity::find()
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("query: {e}"));
    assert_eq!((channels, locations), (2, 2));
    assert_eq!(levels, variants * 2);

    let again = seed::seed(
        &app.db,
        &SeedOptions {
            products: 5,
            ..Default::default()
        },
    )
    .await;
    assert!(again.is_err(), "seeding a non-empty catalog must fail");
    let after = entity::product::Entity::find()
        .count(&app.db)
        .await
        .unwrap_or_else(|e| panic!("query: {e}"));
    assert_eq!(after, 100, "a refused seed writes nothing");
}
