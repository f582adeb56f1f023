//! Stock holds on add to cart.

use super::*;

fn hold_long(c: &mut Config) {
    c.commerce.cart_reservation_secs = 600;
}

/// Holds of ten minutes, swept every second.
fn hold_and_sweep(c: &mut Config) {
    hold_long(c);
    c.commerce.sweep_interval_secs = 1;
}

#[tokio::test]
async fn adding_to_a_cart_holds_stock_against_other_carts() {
    // A long hold, so that nothing expires while the test looks.
    let (app, admin) = shop_with(Some(hold_long)).await;
    let (_, r) = product(
        &app,
        &admin,
        "HELD-1",
        json!({ "prices": [usd("5.00")], "trackInventory": true }),
    )
    .await;
    stock(&app, &admin, "HELD-1", 5).await;

    let a = new_cart(&app, GUEST, json!({ "lines": [line(&r, 3)] })).await;
    assert_eq!(a["lines"][0]["quantityAvailable"], 2);
    assert_eq!(reserved(&app, "HELD-1").await, (3, 3));
    // Another cart sees what is left.
    let refused = mutate(
        &app,
        GUEST,
        "cartCreate",
        json!({ "input": { "lines": [line(&r, 3)] } }),
    )
    .await;
    assert_eq!(error_codes(&refused), ["OUT_OF_STOCK"]);
    assert_eq!(refused["userErrors"][0]["quantityAvailable"], 2);
    let b = new_cart(&app, GUEST, json!({ "lines": [line(&r, 2)] })).await;
    assert_eq!(b["lines"][0]["quantityAvailable"], 0);
    assert_eq!(reserved(&app, "HELD-1").await, (5, 5));

    // A cart's own hold is available to it; nothing more is.
    let update = |q: i64| {
        mutate(
            &app,
            GUEST,
            "cartLinesUpdate",
            json!({ "cartId": a["id"], "lines": [{ "id": a["lines"][0]["id"], "quantity": q }] }),
        )
    };
    let refused = update(4).await;
    assert_eq!(error_codes(&refused), ["OUT_OF_STOCK"]);
    assert_eq!(refused["userErrors"][0]["quantityAvailable"], 3);
    ok(update(1).await);
    assert_eq!(reserved(&app, "HELD-1").await, (3, 3));
    // Removing the line lets the stock go.
    ok(mutate(
        &app,
        GUEST,
        "cartLinesRemove",
        json!({ "cartId": a["id"], "lineIds": [a["lines"][0]["id"]] }),
    )
    .await);
    assert_eq!(reserved(&app, "HELD-1").await, (2, 2));
    let c = new_cart(&app, GUEST, json!({ "lines": [line(&r, 3)] })).await;
    assert_eq!(c["lines"][0]["quantityAvailable"], 0);
}

#[tokio::test]
async fn held_stock_is_released_when_the_hold_expires() {
    let (app, admin) = shop_with(Some(hold_and_sweep)).await;
    let (_, r) = product(
        &app,
        &admin,
        "EXPIRES-1",
        json!({ "prices": [usd("5.00")], "trackInventory": true }),
    )
    .await;
    stock(&app, &admin, "EXPIRES-1", 5).await;
    let a = new_cart(&app, GUEST, json!({ "lines": [line(&r, 5)] })).await;
    let id = id_of(&a);
    assert_eq!(reserved(&app, "EXPIRES-1").await, (5, 5));

    // Ten minutes later the sweeper (every second) releases it.
    app.clock.advance(std::time::Duration::from_secs(601));
    crate::checkout::eventually(
        std::time::Duration::from_secs(30),
        "the hold is released",
        || async { read(&app, GUEST, &id).await["lines"][0]["quantityAvailable"] == 5 },
    )
    .await;
    assert_eq!(reserved(&app, "EXPIRES-1").await, (0, 0));
    // The lines stay in the cart; another cart can now take the stock.
    assert_eq!(read(&app, GUEST, &id).await["totalQuantity"], 5);
    new_cart(&app, GUEST, json!({ "lines": [line(&r, 5)] })).await;
}

#[tokio::test]
async fn without_reservations_adding_to_a_cart_holds_nothing() {
    let (app, admin) = shop().await;
    let (_, r) = product(
        &app,
        &admin,
        "FREE-1",
        json!({ "prices": [usd("5.00")], "trackInventory": true }),
    )
    .await;
    stock(&app, &admin, "FREE-1", 5).await;
    let a = new_cart(&app, GUEST, json!({ "lines": [line(&r, 3)] })).await;
    assert_eq!(a["lines"][0]["quantityAvailable"], 5);
    let b = new_cart(&app, GUEST, json!({ "lines": [line(&r, 5)] })).await;
    assert_eq!(b["lines"][0]["quantityAvailable"], 5);
    assert_eq!(reserved(&app, "FREE-1").await, (0, 0));
}

#[tokio::test]
async fn merging_a_guest_cart_keeps_its_holds_and_leaks_none() {
    let (app, admin) = shop_with(Some(hold_long)).await;
    let (_, r) = product(
        &app,
        &admin,
        "MERGE-HELD",
        json!({ "prices": [usd("5.00")], "trackInventory": true }),
    )
    .await;
    stock(&app, &admin, "MERGE-HELD", 5).await;
    let me = accounts::customer(&app, "holder@example.com").await;
    let mine = new_cart(
        &app,
        signed_in(&me.access),
        json!({ "lines": [line(&r, 1)] }),
    )
    .await;
    let guest = new_cart(&app, GUEST, json!({ "lines": [line(&r, 2)] })).await;
    assert_eq!(reserved(&app, "MERGE-HELD").await, (3, 3));

    let (token, cart_id) = login_with_cart(&app, "holder@example.com", &id_of(&guest)).await;
    assert_eq!(cart_id, mine["id"]);
    // The merged cart holds what both held; no unit is held by nobody.
    assert_eq!(reserved(&app, "MERGE-HELD").await, (3, 3));
    let merged = read(&app, signed_in(&token), &id_of(&mine)).await;
    assert_eq!(merged["lines"][0]["quantity"], 3);
    assert_eq!(merged["lines"][0]["quantityAvailable"], 2);
    // Emptying the cart gives every unit back.
    ok(mutate(
        &app,
        signed_in(&token),
        "cartLinesRemove",
        json!({ "cartId": mine["id"], "lineIds": [merged["lines"][0]["id"]] }),
    )
    .await);
    assert_eq!(reserved(&app, "MERGE-HELD").await, (0, 0));
}
