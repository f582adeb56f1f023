//! `import_csv`: writes a product CSV of the size you ask for, in the column
//! set `emporium import` reads, for trying and timing bulk imports:
//!
//! ```text
//! cargo run --release --example import_csv -- --rows 10000 --out catalog.csv
//! time emporium import catalog.csv      # creates everything
//! time emporium import catalog.csv      # changes nothing
//! ```
//!
//! Every product has five sizes (so `--rows` should be a multiple of five),
//! prices in the `default` and `eu` channels, a compare-at price on its
//! largest size, stock at `warehouse` and `store`, tags and an image. With
//! `--bump N` the prices of every N-th product go up by one, to time an
//! import that changes part of the catalog.

use std::io::Write;

use anyhow::{Result, bail};
use clap::Parser;

/// Writes a generated import file.
#[derive(Parser)]
struct Args {
    /// Data rows (variants) to write.
    #[arg(long, default_value_t = 10_000)]
    rows: usize,
    /// Where to write (`-`: standard output).
    #[arg(long, default_value = "-")]
    out: String,
    /// Raise the price of every N-th product by one (0: none).
    #[arg(long, default_value_t = 0)]
    bump: usize,
}

const SIZES: [&str; 5] = ["XS", "S", "M", "L", "XL"];
const KINDS: [(&str, &str); 4] = [
    ("Tee", "Shirts"),
    ("Hoodie", "Sweaters"),
    ("Chino", "Trousers"),
    ("Rain Jacket", "Outerwear"),
];
const VENDORS: [&str; 3] = ["Northwind", "Acme Apparel", "Fjordline"];

fn main() -> Result<()> {
    let args = Args::parse();
    if args.rows == 0 || args.rows % SIZES.len() != 0 {
        bail!("--rows must be a positive multiple of {}", SIZES.len());
    }
    let mut out: Box<dyn Write> = if args.out == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::fs::File::create(&args.out)?)
    };
    let mut w = csv::Writer::from_writer(&mut out);
    w.write_record([
        "handle",
        "title",
        "description",
        "vendor",
        "type",
        "tags",
        "status",
        "option1_name",
        "option1_value",
        "sku",
        "price",
        "compare_at_price",
        "price:eu",
        "barcode",
        "weight",
        "inventory:warehouse",
        "inventory:store",
        "image_src",
        "image_alt",
    ])?;
    for p in 0..args.rows / SIZES.len() {
        let (kind, category) = KINDS[p % KINDS.len()];
        let vendor = VENDORS[p % VENDORS.len()];
        let bump = i64::from(args.bump > 0 && p % args.bump == 0);
        let base = 1900 + i64::try_from(p % 40).unwrap_or(0) * 100 + bump * 100;
        for (i, size) in SIZES.iter().enumerate() {
            let first = i == 0;
            let cents = base + i64::try_from(i).unwrap_or(0) * 200;
            let money = |c: i64| format!("{}.{:02}", c / 100, c % 100);
            let handle = format!("import-{kind}-{p}")
                .to_lowercase()
                .replace(' ', "-");
            let text = |s: String| if first { s } else { String::new() };
            w.write_record([
                handle.clone(),
                text(format!("{vendor} {kind} No. {p}")),
                text(format!(
                    "A {kind} from {vendor}, sized {}.",
                    SIZES.join("/")
                )),
                text(vendor.to_owned()),
                text(category.to_owned()),
                text(format!("imported, {}", category.to_lowercase())),
                text("active".to_owned()),
                "Size".to_owned(),
                (*size).to_owned(),
                format!("IMP-{p:06}-{size}"),
                money(cents),
                if i == SIZES.len() - 1 {
                    money(cents * 5 / 4)
                } else {
                    String::new()
                },
                money(cents * 92 / 100),
                format!(
                    "{:013}",
                    4_000_000_000_000_u64 + u64::try_from(p * 10 + i).unwrap_or(0)
                ),
                format!("{} g", 200 + i * 25),
                ((p * 7 + i * 3) % 60).to_string(),
                ((p + i) % 8).to_string(),
                text(format!("https://images.example.com/{handle}.jpg")),
                text(format!("{kind}, front")),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}
