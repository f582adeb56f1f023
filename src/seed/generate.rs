//! Generating the demo catalog's rows: pure and deterministic, from one
//! ChaCha8 stream with a fixed seed, so product `i` is the same whatever
//! the number of products.

use chrono::TimeDelta;
use entity::{
    collection_product, media, product, product_option, product_option_value,
    product_status::ProductStatus, product_tag, stock_level, variant, variant_option_value,
    variant_price,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::ActiveValue::Set;

use super::{
    base_time, product_status,
    products::{ADJECTIVES, Axis, COLOR, GENERIC_SENTENCES, GENERIC_TAGS, KINDS, Kind, VENDORS},
    reference::{BEST_SELLERS, COLLECTIONS, NEW_ARRIVALS, SALE, SUMMER},
};

/// Seed of the random stream ("EMPORIUM" in ASCII). Changing it changes every row.
const RNG_SEED: u64 = 0x454D_504F_5249_554D;
/// Cents → euro cents: EUR = USD * 0.92.
const EUR_PER_USD_PERCENT: i64 = 92;

/// Ids of rows that [`generate`] links to.
pub(super) struct Refs {
    pub(super) default_channel: i64,
    pub(super) eu_channel: i64,
    pub(super) wholesale: i64,
    pub(super) locations: Vec<i64>,
    pub(super) collections: Vec<i64>,
}

/// First explicit id to use per table.
pub(super) struct FirstIds {
    pub(super) product: i64,
    pub(super) option: i64,
    pub(super) option_value: i64,
    pub(super) variant: i64,
    pub(super) price: i64,
    pub(super) media: i64,
    pub(super) stock: i64,
}

#[derive(Default)]
pub(super) struct Rows {
    pub(super) products: Vec<product::ActiveModel>,
    pub(super) tags: Vec<product_tag::ActiveModel>,
    pub(super) options: Vec<product_option::ActiveModel>,
    pub(super) option_values: Vec<product_option_value::ActiveModel>,
    pub(super) variants: Vec<variant::ActiveModel>,
    pub(super) variant_values: Vec<variant_option_value::ActiveModel>,
    pub(super) prices: Vec<variant_price::ActiveModel>,
    pub(super) memberships: Vec<collection_product::ActiveModel>,
    pub(super) media: Vec<media::ActiveModel>,
    pub(super) stock: Vec<stock_level::ActiveModel>,
}

/// Hands out consecutive ids.
struct IdSeq(i64);

impl IdSeq {
    fn take(&mut self) -> i64 {
        let id = self.0;
        self.0 += 1;
        id
    }
}

/// One option of a product: an axis and the indices of the values it uses.
struct OptionPlan {
    axis: &'static Axis,
    values: Vec<usize>,
}

/// Builds every row for `count` products. Product `i` depends only on the
/// random stream consumed by products `0..i`, so it does not depend on `count`.
pub(super) fn generate(count: usize, refs: &Refs, first: &FirstIds) -> Rows {
    let mut rng = ChaCha8Rng::seed_from_u64(RNG_SEED);
    let base = base_time();
    let mut product_ids = IdSeq(first.product);
    let mut option_ids = IdSeq(first.option);
    let mut value_ids = IdSeq(first.option_value);
    let mut variant_ids = IdSeq(first.variant);
    let mut price_ids = IdSeq(first.price);
    let mut media_ids = IdSeq(first.media);
    let mut stock_ids = IdSeq(first.stock);
    let mut positions = vec![0_i32; COLLECTIONS.len()];
    let mut rows = Rows::default();

    for index in 0..count {
        let kind = &KINDS[rng.random_range(0..KINDS.len())];
        let modifier = *pick(&mut rng, kind.modifiers);
        let noun = *pick(&mut rng, kind.nouns);
        let title = if rng.random_bool(0.5) {
            format!("{} {modifier} {noun}", pick(&mut rng, &ADJECTIVES))
        } else {
            format!("{modifier} {noun}")
        };
        let handle = format!("{}-{index}", slug(&title));
        let vendor = *pick(&mut rng, &VENDORS);
        let created = base + TimeDelta::minutes(i64::try_from(index).unwrap_or(0));
        let status = product_status(index);
        let product_id = product_ids.take();

        let description = describe(&mut rng, kind, modifier, vendor);
        rows.products.push(product::ActiveModel {
            id: Set(product_id),
            handle: Set(handle.clone()),
            title: Set(title.clone()),
            description: Set(description),
            status: Set(status),
            vendor: Set(Some(vendor.to_owned())),
            product_type: Set(Some(kind.product_type.to_owned())),
            created_at: Set(created),
            updated_at: Set(created),
            published_at: Set((status == ProductStatus::Active).then_some(created)),
        });

        // Tags: 1-4 distinct, often led by the material.
        let tag_count = rng.random_range(1..=4_usize);
        let mut tags: Vec<String> = Vec::with_capacity(tag_count);
        if rng.random_bool(0.6) {
            tags.push(slug(modifier));
        }
        while tags.len() < tag_count {
            let tag = *pick(&mut rng, &GENERIC_TAGS);
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_owned());
            }
        }

        // Options and variants.
        let variant_count = match rng.random_range(0..100_u32) {
            0..15 => 1,
            15..35 => 2,
            35..65 => 3,
            65..85 => 4,
            _ => 5,
        };
        let (options, combos) = plan_variants(&mut rng, kind, variant_count);
        let mut value_id_of: Vec<Vec<i64>> = Vec::with_capacity(options.len());
        for (option_pos, option) in (1_i32..).zip(&options) {
            let option_id = option_ids.take();
            rows.options.push(product_option::ActiveModel {
                id: Set(option_id),
                product_id: Set(product_id),
                name: Set(option.axis.name.to_owned()),
                position: Set(option_pos),
            });
            let mut ids = Vec::with_capacity(option.values.len());
            for (value_pos, &value) in (1_i32..).zip(&option.values) {
                let value_id = value_ids.take();
                rows.option_values.push(product_option_value::ActiveModel {
                    id: Set(value_id),
                    option_id: Set(option_id),
                    value: Set(option.axis.values[value].to_owned()),
                    position: Set(value_pos),
                });
                ids.push(value_id);
            }
            value_id_of.push(ids);
        }

        // Product-wide pricing.
        let base_dollars = rng.random_range(kind.dollars.0..=kind.dollars.1);
        let cents = *pick(&mut rng, &[0_i64, 50, 99]);
        let on_sale = rng.random_bool(0.2);
        let markdown_percent = rng.random_range(15..=40_i64);
        let base_grams = rng.random_range(kind.grams.0..=kind.grams.1);

        for (variant_pos, combo) in (1_i32..).zip(&combos) {
            let variant_id = variant_ids.take();
            let title = options
                .iter()
                .zip(combo)
                .map(|(option, &i)| option.axis.values[option.values[i]])
                .collect::<Vec<_>>()
                .join(" / ");
            // Step along the ordered first axis (sizes) for price and weight.
            let step = options
                .iter()
                .zip(combo)
                .find(|(option, _)| option.axis.ordered)
                .map_or(0, |(option, &i)| option.values[i]);
            let step_i64 = i64::try_from(step).unwrap_or(0);
            let step_i32 = i32::try_from(step).unwrap_or(0);
            let dollars = (base_dollars + kind.step_dollars * step_i64).min(298);
            let usd = dollars * 100 + cents;
            let barcode = ean13(index, variant_pos, rng.random_range(0..1000_u32));
            rows.variants.push(variant::ActiveModel {
                id: Set(variant_id),
                product_id: Set(product_id),
                sku: Set(format!("EMP-{index:05}-{variant_pos:02}")),
                title: Set(title),
                position: Set(variant_pos),
                weight_grams: Set(Some(base_grams + step_i32 * (base_grams / 8).max(10))),
                barcode: Set(Some(barcode)),
                track_inventory: Set(!rng.random_bool(0.05)),
                allow_backorder: Set(rng.random_bool(0.05)),
                tax_class: Set(if kind.reduced_tax {
                    "reduced"
                } else {
                    "standard"
                }
                .to_owned()),
                created_at: Set(created),
                updated_at: Set(created),
            });
            for (option_values, &i) in value_id_of.iter().zip(combo) {
                rows.variant_values.push(variant_option_value::ActiveModel {
                    variant_id: Set(variant_id),
                    option_value_id: Set(option_values[i]),
                });
            }

            let compare_usd = on_sale.then(|| {
                let bump = (dollars * markdown_percent / 100).max(5);
                (dollars + bump) * 100 + cents
            });
            let mut price = |channel_id, group: Option<i64>, min_quantity, amount, compare_at| {
                rows.prices.push(variant_price::ActiveModel {
                    id: Set(price_ids.take()),
                    variant_id: Set(variant_id),
                    channel_id: Set(channel_id),
                    customer_group_id: Set(group),
                    min_quantity: Set(min_quantity),
                    amount_minor: Set(amount),
                    compare_at_minor: Set(compare_at),
                });
            };
            price(refs.default_channel, None, 1, usd, compare_usd);
            price(
                refs.eu_channel,
                None,
                1,
                to_eur(usd),
                compare_usd.map(to_eur),
            );
            if rng.random_bool(0.1) {
                price(refs.default_channel, None, 10, percent_of(usd, 90), None);
            }
            if rng.random_bool(0.1) {
                price(
                    refs.default_channel,
                    Some(refs.wholesale),
                    1,
                    percent_of(usd, 70),
                    None,
                );
            }

            let sold_out = rng.random_bool(0.08);
            for &location_id in &refs.locations {
                let on_hand = if sold_out {
                    0
                } else {
                    rng.random_range(0..=40)
                };
                rows.stock.push(stock_level::ActiveModel {
                    id: Set(stock_ids.take()),
                    variant_id: Set(variant_id),
                    location_id: Set(location_id),
                    on_hand: Set(on_hand),
                    reserved: Set(0),
                    source_at: Set(None),
                });
            }
        }

        // Media.
        for n in 1..=rng.random_range(1..=3_i32) {
            rows.media.push(media::ActiveModel {
                id: Set(media_ids.take()),
                product_id: Set(product_id),
                url: Set(format!(
                    "https://images.emporium.example/products/{handle}/{n}.jpg"
                )),
                alt: Set(Some(title.clone())),
                position: Set(n),
                media_type: Set("image".to_owned()),
            });
        }

        // Collections: department first, then the merchandising ones; 1-3 in all.
        let mut member_of: Vec<usize> = Vec::with_capacity(4);
        member_of.extend(kind.department);
        if on_sale {
            member_of.push(SALE);
        }
        if tags.iter().any(|t| t == "bestseller") {
            member_of.push(BEST_SELLERS);
        }
        if kind.summery && (tags.iter().any(|t| t == "summer") || rng.random_bool(0.3)) {
            member_of.push(SUMMER);
        }
        if rng.random_bool(0.15) {
            member_of.push(NEW_ARRIVALS);
        }
        if member_of.is_empty() {
            member_of.push(if rng.random_bool(0.5) {
                NEW_ARRIVALS
            } else {
                BEST_SELLERS
            });
        }
        member_of.truncate(3);
        for c in member_of {
            positions[c] += 1;
            rows.memberships.push(collection_product::ActiveModel {
                collection_id: Set(refs.collections[c]),
                product_id: Set(product_id),
                position: Set(positions[c]),
            });
        }

        for tag in tags {
            rows.tags.push(product_tag::ActiveModel {
                product_id: Set(product_id),
                tag: Set(tag),
            });
        }
    }
    rows
}

/// Chooses the options of a product and its variants: each variant is one
/// combination, given as an index into each option's `values`.
fn plan_variants(
    rng: &mut ChaCha8Rng,
    kind: &'static Kind,
    wanted: usize,
) -> (Vec<OptionPlan>, Vec<Vec<usize>>) {
    if let [first, second] = kind.axes
        && wanted >= 4
    {
        // e.g. 3 sizes x 2 colors, keeping the first `wanted` combinations.
        let across = wanted.div_ceil(2).min(first.values.len());
        let options = vec![
            OptionPlan {
                axis: first,
                values: choose_values(rng, first, across),
            },
            OptionPlan {
                axis: second,
                values: choose_values(rng, second, 2),
            },
        ];
        let combos = (0..2)
            .flat_map(|j| (0..across).map(move |i| vec![i, j]))
            .take(wanted)
            .collect();
        return (options, combos);
    }
    let axis = match kind.axes {
        [first, second] => {
            if rng.random_bool(0.5) {
                first
            } else {
                second
            }
        }
        [only, ..] => only,
        [] => &COLOR,
    };
    let count = wanted.clamp(1, axis.values.len());
    let options = vec![OptionPlan {
        axis,
        values: choose_values(rng, axis, count),
    }];
    let combos = (0..count).map(|i| vec![i]).collect();
    (options, combos)
}

/// `count` distinct value indices of `axis`: a contiguous window for ordered
/// axes, a sample in palette order otherwise.
fn choose_values(rng: &mut ChaCha8Rng, axis: &Axis, count: usize) -> Vec<usize> {
    let len = axis.values.len();
    let count = count.min(len);
    if axis.ordered {
        let start = rng.random_range(0..=len - count);
        return (start..start + count).collect();
    }
    let mut pool: Vec<usize> = (0..len).collect();
    for i in 0..count {
        let j = rng.random_range(i..len);
        pool.swap(i, j);
    }
    pool.truncate(count);
    pool.sort_unstable();
    pool
}

/// A few sentences about the product.
fn describe(rng: &mut ChaCha8Rng, kind: &Kind, modifier: &str, vendor: &str) -> String {
    let blurb = pick(rng, kind.blurbs).replace("{vendor}", vendor);
    let detail = kind
        .detail
        .replace("{ml}", &modifier.to_lowercase())
        .replace("{m}", modifier);
    let first = rng.random_range(0..GENERIC_SENTENCES.len());
    let mut text = format!("{blurb} {detail} {}", GENERIC_SENTENCES[first]);
    if rng.random_bool(0.5) {
        let second =
            (first + rng.random_range(1..GENERIC_SENTENCES.len())) % GENERIC_SENTENCES.len();
        text.push(' ');
        text.push_str(GENERIC_SENTENCES[second]);
    }
    text
}

/// A uniformly chosen element of a non-empty constant list.
fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Lowercase ASCII slug: alphanumerics kept, every other run becomes one hyphen.
fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if c != '\'' && !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// USD minor units to EUR minor units (× 0.92, rounded half up to the cent).
fn to_eur(usd_minor: i64) -> i64 {
    percent_of(usd_minor, EUR_PER_USD_PERCENT)
}

/// `percent`% of an amount in minor units, rounded half up.
fn percent_of(minor: i64, percent: i64) -> i64 {
    (minor * percent + 50) / 100
}

/// A 13-digit barcode with a valid EAN-13 check digit, unique per variant:
/// `2` (in-store prefix) + product index + variant position + 3 random digits.
fn ean13(product_index: usize, variant_pos: i32, noise: u32) -> String {
    let body = format!(
        "2{:06}{:02}{:03}",
        product_index % 1_000_000,
        variant_pos % 100,
        noise % 1000
    );
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let digit = u32::from(b - b'0');
            if i % 2 == 0 { digit } else { digit * 3 }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}
