//! Guessing discount and gift card codes: wrong codes are throttled per
//! cart and per client address, codes that apply cost nothing, and a gift
//! card in another currency answers like an unknown code.

use emporium::infra::ratelimit::Budget;
use serde_json::{Value, json};

use crate::harness::{Options, TestApp, first_code};

const CREATE: &str = "mutation { cartCreate { cart { id } userErrors { code } } }";
const GIFT: &str = "mutation($c: ID!, $g: [String!]!) { cartGiftCardCodesUpdate(cartId: $c, giftCardCodes: $g) { cart { id } userErrors { field code message } } }";
const DISCOUNT: &str = "mutation($c: ID!, $d: [String!]!) { cartDiscountCodesUpdate(cartId: $c, discountCodes: $d) { cart { id } userErrors { field code message } } }";

const GUESSER: &str = "203.0.113.7";
const SHOPPER: &str = "198.51.100.20";

async fn call(app: &TestApp, from: &str, query: &str, vars: Value) -> Value {
    app.post_with(query, vars, &[("x-forwarded-for", from)])
        .await
        .1
}

async fn cart(app: &TestApp, from: &str) -> String {
    let body = call(app, from, CREATE, json!({})).await;
    body["data"]["cartCreate"]["cart"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no cart: {body}"))
        .to_owned()
}

/// `userErrors` codes of a code mutation, or its top-level error code.
fn answer(body: &Value, field: &str) -> Vec<String> {
    if body.get("errors").is_some() {
        return vec![first_code(body)];
    }
    body["data"][field]["userErrors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| e["code"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn wrong_codes_are_throttled_per_cart_and_per_address() {
    let app = TestApp::spawn_with(Options {
        products: Some(2),
        configure: Some(|c| {
            c.edge.trusted_proxy_hops = 1;
            c.rate.code_cart = Budget::parse("3,0.001").ok();
            c.rate.code_ip = Budget::parse("5,0.001").ok();
        }),
        ..Default::default()
    })
    .await;
    let gift = |cart: &str, code: &str| json!({ "c": cart, "g": [code] });
    let discount = |cart: &str, code: &str| json!({ "c": cart, "d": [code] });

    // Three wrong gift card codes on one cart ...
    let first = cart(&app, GUESSER).await;
    for i in 0..3 {
        let body = call(&app, GUESSER, GIFT, gift(&first, &format!("GUESS-{i:012}"))).await;
        assert_eq!(
            answer(&body, "cartGiftCardCodesUpdate"),
            ["INVALID_CODE"],
            "{body}"
        );
    }
    // ... and the cart takes no more codes, not even a right one, from anywhere.
    for from in [GUESSER, SHOPPER] {
        let body = call(&app, from, GIFT, gift(&first, "DEMO-GIFT-CARD-0001")).await;
        assert_eq!(
            answer(&body, "cartGiftCardCodesUpdate"),
            ["RATE_LIMITED"],
            "{body}"
        );
    }
    // A fresh cart from the same address gets two more tries: the
    // address's budget (five) is then spent too.
    let second = cart(&app, GUESSER).await;
    for code in ["GUESS10", "GUESS20"] {
        let body = call(&app, GUESSER, DISCOUNT, discount(&second, code)).await;
        assert_eq!(
            answer(&body, "cartDiscountCodesUpdate"),
            ["INVALID_CODE"],
            "{body}"
        );
    }
    let body = call(&app, GUESSER, DISCOUNT, discount(&second, "SAVE10")).await;
    assert_eq!(
        answer(&body, "cartDiscountCodesUpdate"),
        ["RATE_LIMITED"],
        "{body}"
    );
    assert!(
        body["errors"][0]["extensions"]["retryAfterMs"]
            .as_u64()
            .is_some_and(|ms| ms > 0)
    );

    // Another shopper is not affected, and codes that apply cost nothing.
    let theirs = cart(&app, SHOPPER).await;
    for _ in 0..8 {
        let body = call(&app, SHOPPER, DISCOUNT, discount(&theirs, "SAVE10")).await;
        assert_eq!(
            answer(&body, "cartDiscountCodesUpdate"),
            Vec::<String>::new(),
            "{body}"
        );
    }
    let body = call(&app, SHOPPER, GIFT, gift(&theirs, "DEMO-GIFT-CARD-0001")).await;
    assert_eq!(
        answer(&body, "cartGiftCardCodesUpdate"),
        Vec::<String>::new(),
        "{body}"
    );
}
