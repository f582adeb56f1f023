//! Bulk catalog import: `productImport` (multipart upload or inline CSV)
//! and `emporium import`, on a real database.

use std::fmt::Write as _;

use emporium::domain::identity::permission::Role;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::{
    accounts,
    harness::{Options, TestApp},
};

const IMPORT: &str = "mutation($csv: String, $dry: Boolean! = false, $partial: Boolean! = false) {
  productImport(csv: $csv, dryRun: $dry, allowPartial: $partial) {
    report {
      rows rowsSkipped productsCreated productsUpdated productsUnchanged
      variantsCreated variantsUpdated variantsUnchanged pricesChanged mediaAdded
      stockChanged dryRun applied problems { line column message }
    }
    userErrors { code field message }
  }
}";

const HEADER: &str = "handle,title,description,vendor,type,tags,status,option1_name,option1_value,option2_name,option2_value,sku,price,compare_at_price,price:eu,barcode,weight,inventory:warehouse,inventory:store,image_src,image_alt";

/// A generated file: `products` products of five sizes each.
fn generated(products: usize) -> String {
    let mut csv = String::from(HEADER);
    csv.push('\n');
    for p in 0..products {
        for (i, size) in ["XS", "S", "M", "L", "XL"].iter().enumerate() {
            let first = i == 0;
            let _ = writeln!(
                csv,
                "gen-{p},{},{},{},{},{},{},Size,{size},Fit,Regular,GEN-{p}-{size},{}.{:02},{},{}.50,,{} g,{},{},{},{}",
                if first {
                    format!("Generated {p}")
                } else {
                    String::new()
                },
                if first {
                    "\"Soft, warm\nand durable\""
                } else {
                    ""
                },
                if first { "Acme" } else { "" },
                if first { "Shirts" } else { "" },
                if first { "\"gen, cotton\"" } else { "" },
                if first { "active" } else { "" },
                10 + p % 50,
                i * 10,
                if i == 4 { "49.00" } else { "" },
                9 + p % 50,
                150 + i * 10,
                (p + i) % 30,
                i,
                if first {
                    format!("https://img.example.com/gen-{p}.jpg")
                } else {
                    String::new()
                },
                if first { "Front" } else { "" },
            );
        }
    }
    csv
}

async fn count(app: &TestApp, table: &str) -> i64 {
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no count"));
    row.try_get::<i64>("", "n")
        .unwrap_or_else(|e| panic!("{e}"))
}

const TABLES: &[&str] = &[
    "product",
    "product_option",
    "product_option_value",
    "variant",
    "variant_option_value",
    "variant_price",
    "media",
    "product_tag",
    "stock_level",
    "inventory_movement",
    "audit_entry",
];

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for t in TABLES {
        out.push(count(app, t).await);
    }
    out
}

async fn app() -> TestApp {
    TestApp::spawn_with(Options {
        products: Some(2),
        ..Default::default()
    })
    .await
}

fn report(v: &Value) -> &Value {
    &v["productImport"]["report"]
}

#[tokio::test]
async fn ten_thousand_rows_import_and_a_reimport_changes_nothing() {
    let app = app().await;
    let admin = accounts::staff_user(&app, "merch@example.com", Role::Merchandiser).await;
    let csv = generated(2000);
    assert_eq!(
        csv.lines().count(),
        10_001 + 2000,
        "descriptions span two lines"
    );
    let before = counts(&app).await;

    // The first run, as a multipart upload.
    let form = reqwest::multipart::Form::new()
        .text(
            "operations",
            json!({ "query": IMPORT.replace("$csv: String,", "$file: Upload,").replace("csv: $csv", "file: $file"), "variables": { "file": null } }).to_string(),
        )
        .text("map", json!({ "0": ["variables.file"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(csv.clone().into_bytes())
                .file_name("catalog.csv")
                .mime_str("text/csv")
                .unwrap_or_else(|e| panic!("{e}")),
        );
    let res = app
        .client
        .post(app.graphql_url())
        .bearer_auth(&admin.access)
        .multipart(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let r = report(&body["data"]);
    assert_eq!(r["problems"], json!([]), "{body}");
    assert_eq!(r["rows"], 10_000);
    assert_eq!(r["productsCreated"], 2000);
    assert_eq!(r["variantsCreated"], 10_000);
    assert_eq!(r["pricesChanged"], 20_000);
    assert_eq!(r["mediaAdded"], 2000);
    assert_eq!(r["applied"], true);
    let after = counts(&app).await;
    let grew: Vec<i64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    // products, options, values, variants, links, prices, media, tags.
    assert_eq!(
        &grew[..8],
        &[2000, 4000, 12_000, 10_000, 20_000, 20_000, 2000, 4000]
    );
    assert!(
        grew[8] > 0 && grew[9] == grew[8],
        "stock levels and their movements"
    );

    // The same file again: nothing changes, not even the audit trail.
    let again = app
        .query_as(&admin.access, IMPORT, json!({ "csv": csv }))
        .await;
    let r = report(&again);
    assert_eq!(r["productsUnchanged"], 2000, "{again}");
    assert_eq!(r["variantsUnchanged"], 10_000);
    for field in [
        "productsCreated",
        "productsUpdated",
        "variantsCreated",
        "variantsUpdated",
        "pricesChanged",
        "mediaAdded",
        "stockChanged",
    ] {
        assert_eq!(r[field], 0, "{field}");
    }
    assert_eq!(counts(&app).await, after);

    // The storefront shows what was imported.
    let p = app
        .query(
            "{ product(handle: \"gen-7\") { title description vendor tags options { name values }
                media { url alt } variants { sku title price { amount } compareAtPrice { amount }
                quantityAvailable weight { value unit } } } }",
            json!({}),
        )
        .await;
    let p = &p["product"];
    assert_eq!(p["title"], "Generated 7");
    assert_eq!(p["description"], "Soft, warm\nand durable");
    assert_eq!(p["tags"], json!(["cotton", "gen"]));
    assert_eq!(
        p["options"],
        json!([{ "name": "Size", "values": ["XS", "S", "M", "L", "XL"] }, { "name": "Fit", "values": ["Regular"] }])
    );
    assert_eq!(p["media"][0]["url"], "https://img.example.com/gen-7.jpg");
    assert_eq!(p["variants"][4]["sku"], "GEN-7-XL");
    assert_eq!(p["variants"][4]["title"], "XL / Regular");
    assert_eq!(p["variants"][4]["price"]["amount"], "17.40");
    assert_eq!(p["variants"][4]["compareAtPrice"]["amount"], "49.00");
    assert_eq!(p["variants"][4]["quantityAvailable"], 11 + 4);
}

#[tokio::test]
async fn values_get_one_spelling_and_changes_update_in_place() {
    let app = app().await;
    let admin = accounts::staff_user(&app, "merch@example.com", Role::Merchandiser).await;
    let csv = "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Price,Weight,inventory:warehouse
trail-bottle,Trail Bottle,size,500ML,TB-500,24.90,350 g,4
trail-bottle,,Size,1l,TB-1000,34.90,0.5kg,2
";
    let first = app
        .query_as(&admin.access, IMPORT, json!({ "csv": csv }))
        .await;
    assert_eq!(report(&first)["variantsCreated"], 2, "{first}");
    // Another spelling of the same values, a new price and a new variant.
    let csv2 = "handle,option1_name,option1_value,sku,price,inventory:warehouse
trail-bottle,SIZE,500 ml,TB-500,22.00,4
trail-bottle,Size,1 L,TB-1000,34.90,2
trail-bottle,Size,750ml,TB-750,29.90,0
";
    let second = app
        .query_as(&admin.access, IMPORT, json!({ "csv": csv2 }))
        .await;
    let r = report(&second);
    assert_eq!(r["problems"], json!([]), "{second}");
    assert_eq!(r["variantsCreated"], 1);
    assert_eq!(r["variantsUnchanged"], 2);
    assert_eq!(r["pricesChanged"], 2, "TB-500's new price and TB-750's");
    assert_eq!(r["stockChanged"], 1, "TB-750 gets a level of 0");
    let p = app
        .query(
            "{ product(handle: \"trail-bottle\") { options { name values } variants { sku title price { amount } weight { value unit } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        p["product"]["options"],
        json!([{ "name": "Size", "values": ["500 ml", "1 L", "750 ml"] }])
    );
    assert_eq!(p["product"]["variants"][0]["price"]["amount"], "22.00");
    assert_eq!(p["product"]["variants"][1]["weight"]["value"], "500");
    // Changing a product's options by import is refused, with the line.
    let csv3 = "handle,option1_name,option1_value,sku,price\ntrail-bottle,Color,Red,TB-R,1.00\n";
    let third = app
        .query_as(&admin.access, IMPORT, json!({ "csv": csv3 }))
        .await;
    assert_eq!(report(&third)["problems"][0]["line"], 2, "{third}");
    assert_eq!(report(&third)["applied"], false);
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_nothing_is_written() {
    let app = app().await;
    let admin = accounts::staff_user(&app, "merch@example.com", Role::Merchandiser).await;
    let csv =
        "handle,title,sku,price,price:mars,inventory:warehouse,inventory:moon,image_src,status
Good Handle,Bad,G-1,10,,1,,,
ok-one,OK,OK-1,10.00,,3,,,
ok-one,,OK-2,-5,,3,,,
ok-two,Two,OK-3,10,,x,,,
ok-three,Three,OK-1,10,,,,,
ok-four,Four,OK-4,,,,2,,
ok-five,Five,OK-5,1,2,,,https://img.example.com/5.jpg,
ok-six,Six,OK-6,1,,,,ftp://x,sold
ok-seven,,OK-7,1,,,,,
pocket-journal-0,,OK-8,1,,,,,
";
    let before = counts(&app).await;
    for dry in [true, false] {
        let res = app
            .query_as(&admin.access, IMPORT, json!({ "csv": csv, "dry": dry }))
            .await;
        let r = report(&res);
        assert_eq!(r["applied"], false);
        let lines: Vec<(i64, String)> = r["problems"]
            .as_array()
            .unwrap_or_else(|| panic!("{res}"))
            .iter()
            .map(|p| {
                (
                    p["line"].as_i64().unwrap_or(0),
                    p["column"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let expected: Vec<(i64, String)> = [
            (2, "handle"),
            (4, "price"),
            (5, "inventory:warehouse"),
            (6, "sku"),
            (7, "price"),
            (7, "inventory:moon"),
            (8, "price:mars"),
            (9, "image_src"),
            (9, "status"),
            (10, "title"),
            (11, "option1_value"),
        ]
        .iter()
        .map(|(l, c)| (*l, (*c).to_owned()))
        .collect();
        let (mut sorted, mut expected) = (lines.clone(), expected);
        sorted.sort();
        expected.sort();
        assert_eq!(sorted, expected, "{res}");
        assert_eq!(counts(&app).await, before, "dry run {dry} wrote something");
    }
    // Asked to, the good rows go in: OK-1 only.
    let res = app
        .query_as(
            &admin.access,
            IMPORT,
            json!({ "csv": csv, "partial": true }),
        )
        .await;
    let r = report(&res);
    assert_eq!(r["applied"], true, "{res}");
    assert_eq!(r["productsCreated"], 1);
    assert_eq!(r["variantsCreated"], 1);
    assert_eq!(r["rowsSkipped"], 9);
    let p = app
        .query(
            "{ product(handle: \"ok-one\") { variants { sku quantityAvailable } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        p["product"]["variants"],
        json!([{ "sku": "OK-1", "quantityAvailable": 3 }])
    );
}

#[tokio::test]
async fn a_dry_run_counts_what_it_would_do_and_writes_nothing() {
    let app = app().await;
    let admin = accounts::staff_user(&app, "merch@example.com", Role::Merchandiser).await;
    let csv = generated(20);
    let before = counts(&app).await;
    let res = app
        .query_as(&admin.access, IMPORT, json!({ "csv": csv, "dry": true }))
        .await;
    let r = report(&res);
    assert_eq!(r["dryRun"], true);
    assert_eq!(r["applied"], false);
    assert_eq!(r["productsCreated"], 20, "{res}");
    assert_eq!(r["variantsCreated"], 100);
    assert_eq!(counts(&app).await, before);
}

#[tokio::test]
async fn header_problems_and_permissions() {
    let app = app().await;
    let admin = accounts::staff_user(&app, "merch@example.com", Role::Merchandiser).await;
    let res = app
        .query_as(
            &admin.access,
            IMPORT,
            json!({ "csv": "handle,sku,colour\nx,X-1,red\n" }),
        )
        .await;
    assert_eq!(
        report(&res)["problems"],
        json!([{ "line": 1, "column": "colour", "message": "unknown column `colour`" }])
    );
    let res = app
        .query_as(&admin.access, IMPORT, json!({ "csv": "title\nx\n" }))
        .await;
    assert_eq!(report(&res)["problems"].as_array().map(Vec::len), Some(2));
    let res = app.query_as(&admin.access, IMPORT, json!({})).await;
    assert_eq!(res["productImport"]["userErrors"][0]["code"], "INVALID");

    // A catalog-only token imports catalog columns, not prices or stock.
    let (token, _) = accounts::partner_token(&app, &["catalog:write"], None).await;
    let (_, ok) = app
        .post_as(
            &token,
            IMPORT,
            json!({ "csv": "handle,sku,title\npocket-journal-0,NEW-1,Pocket\n" }),
        )
        .await;
    assert_eq!(
        ok["data"]["productImport"]["report"]["problems"][1]["message"],
        "a new variant needs a price",
        "{ok}"
    );
    let (_, denied) = app
        .post_as(
            &token,
            IMPORT,
            json!({ "csv": "handle,sku,price\nx,X-1,1\n" }),
        )
        .await;
    assert_eq!(denied["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let (_, denied) = app
        .post_as(
            &token,
            IMPORT,
            json!({ "csv": "handle,sku,inventory:warehouse\nx,X-1,1\n" }),
        )
        .await;
    assert_eq!(denied["errors"][0]["extensions"]["code"], "FORBIDDEN");

    // Uploads need credentials (a form cannot send them).
    let form = reqwest::multipart::Form::new().text("operations", "{}");
    let res = app
        .client
        .post(app.graphql_url())
        .multipart(form)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(res.status().as_u16(), 415);
}

/// What a CLI run printed, for a failed assertion.
fn said(out: &std::process::Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn the_cli_imports_reports_lines_and_dry_runs() {
    let app = app().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let good = dir.path().join("good.csv");
    std::fs::write(&good, generated(3)).unwrap_or_else(|e| panic!("{e}"));
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "handle,sku,price\nok,OK-1,1\nBad Handle,B-1,1\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let before = counts(&app).await;
    let out = app
        .cli(
            &["import", "--dry-run", good.to_str().unwrap_or_default()],
            &[],
        )
        .await;
    assert!(out.status.success(), "{}", said(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("dry run, nothing written: 15 rows"),
        "{stdout}"
    );
    assert!(stdout.contains("products 3 created"), "{stdout}");
    assert_eq!(counts(&app).await, before);

    let out = app
        .cli(&["import", bad.to_str().unwrap_or_default()], &[])
        .await;
    assert!(!out.status.success(), "{}", said(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("line 3: handle:"), "{stdout}");
    assert_eq!(counts(&app).await, before);

    let out = app
        .cli(&["import", good.to_str().unwrap_or_default()], &[])
        .await;
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("variants 15 created"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = app
        .cli(&["import", good.to_str().unwrap_or_default()], &[])
        .await;
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("variants 0 created, 0 updated, 15 unchanged"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
