//! The demo catalog's product table: vendors, title words, tags and
//! sentences, the options products vary by, and the kinds of product with
//! their prices, weights, department and descriptions. Data only: what is
//! made of it is in `generate`.

use super::reference::{ACCESSORIES, FOOTWEAR, HOME, OUTERWEAR};

pub(super) const VENDORS: [&str; 10] = [
    "Northwind Supply",
    "Harbor & Pine",
    "Atlas Goods",
    "Fieldhouse",
    "Marlow & Co.",
    "Kestrel Outfitters",
    "Oakline",
    "Tidewater",
    "Ember Studio",
    "Copperleaf",
];

pub(super) const ADJECTIVES: [&str; 10] = [
    "Classic",
    "Everyday",
    "Essential",
    "Heritage",
    "Signature",
    "Premium",
    "Original",
    "Vintage",
    "Modern",
    "Studio",
];

pub(super) const GENERIC_TAGS: [&str; 10] = [
    "bestseller",
    "gift",
    "new",
    "organic",
    "eco",
    "limited",
    "summer",
    "winter",
    "staff-pick",
    "handmade",
];

pub(super) const GENERIC_SENTENCES: [&str; 8] = [
    "Designed to be used every day and to last for years.",
    "Every piece is inspected by hand before it leaves our warehouse.",
    "Returns are free within 30 days.",
    "Pairs well with the rest of the collection.",
    "Produced in small batches to keep waste low.",
    "Packed in recycled, plastic-free packaging.",
    "A customer favourite since the first run sold out.",
    "Backed by our two-year repair promise.",
];

/// An option a kind of product can vary by, with its possible values.
pub(super) struct Axis {
    pub(super) name: &'static str,
    pub(super) values: &'static [&'static str],
    /// Values have a natural order (sizes): products use a contiguous window.
    pub(super) ordered: bool,
}

const APPAREL_SIZE: Axis = Axis {
    name: "Size",
    values: &["S", "M", "L", "XL"],
    ordered: true,
};
const WAIST_SIZE: Axis = Axis {
    name: "Size",
    values: &["28", "30", "32", "34", "36"],
    ordered: true,
};
const SHOE_SIZE: Axis = Axis {
    name: "Size",
    values: &["7", "8", "9", "10", "11", "12"],
    ordered: true,
};
pub(super) const COLOR: Axis = Axis {
    name: "Color",
    values: &[
        "Black",
        "White",
        "Navy",
        "Heather Grey",
        "Olive",
        "Sand",
        "Rust",
        "Forest Green",
        "Burgundy",
        "Sky Blue",
        "Charcoal",
        "Cream",
    ],
    ordered: false,
};
const SCENT: Axis = Axis {
    name: "Scent",
    values: &["Cedar", "Fig", "Sea Salt", "Amber", "Vetiver"],
    ordered: false,
};
const FORMAT: Axis = Axis {
    name: "Format",
    values: &["Hardcover", "Paperback", "Spiral-Bound"],
    ordered: false,
};
const COFFEE_SIZE: Axis = Axis {
    name: "Size",
    values: &["250 g", "500 g", "1 kg"],
    ordered: true,
};
const GRIND: Axis = Axis {
    name: "Grind",
    values: &["Whole Bean", "Ground"],
    ordered: false,
};
const TEA_SIZE: Axis = Axis {
    name: "Size",
    values: &["50 g", "100 g", "250 g"],
    ordered: true,
};

/// A kind of product: the word lists its titles are built from and the shape
/// of its options, prices and weights.
pub(super) struct Kind {
    pub(super) product_type: &'static str,
    pub(super) modifiers: &'static [&'static str],
    pub(super) nouns: &'static [&'static str],
    /// One or two axes; with two, the first is the ordered one.
    pub(super) axes: &'static [Axis],
    /// Whole-dollar price range of the cheapest variant.
    pub(super) dollars: (i64, i64),
    /// Dollars added per step of the first (ordered) axis, e.g. bigger bags of coffee.
    pub(super) step_dollars: i64,
    /// Weight range in grams of the lightest variant.
    pub(super) grams: (i32, i32),
    pub(super) reduced_tax: bool,
    /// Index into [`COLLECTIONS`](super::reference::COLLECTIONS) of the kind's department, if any.
    pub(super) department: Option<usize>,
    pub(super) summery: bool,
    /// Opening sentences; `{vendor}` is replaced.
    pub(super) blurbs: &'static [&'static str],
    /// Detail sentence; `{m}` is replaced by the modifier, `{ml}` by it in lowercase.
    pub(super) detail: &'static str,
}

pub(super) static KINDS: [Kind; 15] = [
    Kind {
        product_type: "T-Shirt",
        modifiers: &[
            "Cotton",
            "Organic Cotton",
            "Linen",
            "Slub Cotton",
            "Pima Cotton",
        ],
        nouns: &[
            "Tee",
            "Pocket Tee",
            "Crew Tee",
            "V-Neck Tee",
            "Long Sleeve Tee",
        ],
        axes: &[APPAREL_SIZE, COLOR],
        dollars: (18, 45),
        step_dollars: 0,
        grams: (140, 220),
        reduced_tax: false,
        department: None,
        summery: true,
        blurbs: &[
            "A relaxed everyday tee with a clean neckline and a true-to-size fit.",
            "The tee {vendor} wears under everything, cut a little longer in the body.",
            "A wardrobe staple that softens with every wash.",
        ],
        detail: "Knitted from {ml} jersey that keeps its shape.",
    },
    Kind {
        product_type: "Sweater",
        modifiers: &["Merino", "Cashmere", "Lambswool", "Cotton", "Alpaca"],
        nouns: &[
            "Crew Sweater",
            "Cardigan",
            "Turtleneck",
            "Half-Zip Sweater",
            "Rollneck",
        ],
        axes: &[APPAREL_SIZE, COLOR],
        dollars: (59, 189),
        step_dollars: 0,
        grams: (300, 520),
        reduced_tax: false,
        department: None,
        summery: false,
        blurbs: &[
            "A warm mid-weight knit for layering from autumn into spring.",
            "{vendor}'s take on the classic sweater, with ribbed cuffs and hem.",
            "Fully fashioned for a neat fit through the shoulders.",
        ],
        detail: "Spun from fine {ml} yarn that breathes and resists odour.",
    },
    Kind {
        product_type: "Jacket",
        modifiers: &["Waxed Cotton", "Nylon", "Wool", "Down", "Ripstop"],
        nouns: &[
            "Field Jacket",
            "Parka",
            "Rain Shell",
            "Quilted Vest",
            "Chore Coat",
        ],
        axes: &[APPAREL_SIZE, COLOR],
        dollars: (89, 289),
        step_dollars: 0,
        grams: (550, 1200),
        reduced_tax: false,
        department: Some(OUTERWEAR),
        summery: false,
        blurbs: &[
            "A hard-wearing layer with roomy pockets and a storm flap.",
            "Built by {vendor} for wet commutes and weekend trails alike.",
            "Cut to fit over a sweater without bulk.",
        ],
        detail: "Built from {ml} to keep out wind and showers.",
    },
    Kind {
        product_type: "Pants",
        modifiers: &["Twill", "Linen", "Corduroy", "Denim", "Stretch Cotton"],
        nouns: &["Chinos", "Trousers", "Joggers", "Shorts", "Carpenter Pants"],
        axes: &[WAIST_SIZE, COLOR],
        dollars: (45, 129),
        step_dollars: 0,
        grams: (280, 650),
        reduced_tax: false,
        department: None,
        summery: true,
        blurbs: &[
            "A straight, easy fit with a mid rise and a clean finish.",
            "The pair {vendor} reaches for most, with a gusseted crotch for movement.",
            "Tailored enough for the office, relaxed enough for the weekend.",
        ],
        detail: "Made from durable {ml} with reinforced pockets.",
    },
    Kind {
        product_type: "Bag",
        modifiers: &[
            "Canvas",
            "Leather",
            "Waxed Canvas",
            "Recycled Nylon",
            "Cordura",
        ],
        nouns: &[
            "Weekender Bag",
            "Tote",
            "Backpack",
            "Messenger Bag",
            "Duffel",
        ],
        axes: &[COLOR],
        dollars: (39, 249),
        step_dollars: 0,
        grams: (450, 1500),
        reduced_tax: false,
        department: Some(ACCESSORIES),
        summery: false,
        blurbs: &[
            "A roomy carry-all with a padded laptop sleeve and an inside zip pocket.",
            "{vendor}'s travel bag, sized to fit under an airline seat.",
            "Sturdy handles and a shoulder strap make it easy to carry all day.",
        ],
        detail: "The {ml} body ages beautifully with use.",
    },
    Kind {
        product_type: "Sneakers",
        modifiers: &["Canvas", "Suede", "Leather", "Knit", "Recycled"],
        nouns: &[
            "Sneakers",
            "Runners",
            "High-Tops",
            "Slip-Ons",
            "Court Shoes",
        ],
        axes: &[SHOE_SIZE, COLOR],
        dollars: (59, 179),
        step_dollars: 0,
        grams: (600, 950),
        reduced_tax: false,
        department: Some(FOOTWEAR),
        summery: true,
        blurbs: &[
            "A low-profile sneaker with a cushioned footbed for all-day wear.",
            "{vendor}'s everyday shoe, on a grippy natural-rubber sole.",
            "Minimal lines that go with everything in the wardrobe.",
        ],
        detail: "The {ml} upper breaks in quickly and stays comfortable.",
    },
    Kind {
        product_type: "Boots",
        modifiers: &["Suede", "Leather", "Waterproof Leather", "Nubuck"],
        nouns: &[
            "Chelsea Boots",
            "Hiking Boots",
            "Desert Boots",
            "Work Boots",
        ],
        axes: &[SHOE_SIZE, COLOR],
        dollars: (119, 289),
        step_dollars: 0,
        grams: (1100, 1800),
        reduced_tax: false,
        department: Some(FOOTWEAR),
        summery: false,
        blurbs: &[
            "A Goodyear-welted boot that can be resoled for years of wear.",
            "{vendor}'s boot for city streets and muddy paths alike.",
            "A padded collar and cushioned insole from the first wear.",
        ],
        detail: "Cut from {ml} chosen for its strength and character.",
    },
    Kind {
        product_type: "Hat",
        modifiers: &["Wool", "Cotton", "Recycled", "Merino", "Cashmere"],
        nouns: &["Beanie", "Baseball Cap", "Bucket Hat", "Watch Cap"],
        axes: &[COLOR],
        dollars: (15, 39),
        step_dollars: 0,
        grams: (60, 140),
        reduced_tax: false,
        department: Some(ACCESSORIES),
        summery: true,
        blurbs: &[
            "A one-size-fits-most hat that packs flat.",
            "{vendor}'s hat for early mornings and late evenings.",
            "Simple, comfortable and easy to wear.",
        ],
        detail: "Made from {ml} material with a soft inner band.",
    },
    Kind {
        product_type: "Scarf",
        modifiers: &["Wool", "Cashmere", "Silk", "Linen"],
        nouns: &["Scarf", "Wrap", "Bandana", "Snood"],
        axes: &[COLOR],
        dollars: (25, 89),
        step_dollars: 0,
        grams: (80, 260),
        reduced_tax: false,
        department: Some(ACCESSORIES),
        summery: false,
        blurbs: &[
            "A generous length to loop twice or wear loose.",
            "Woven for {vendor} in a small family mill.",
            "Finished with hand-twisted fringes.",
        ],
        detail: "The {ml} weave is soft against the skin.",
    },
    Kind {
        product_type: "Mug",
        modifiers: &["Stoneware", "Enamel", "Ceramic", "Porcelain"],
        nouns: &["Mug", "Travel Mug", "Espresso Cup", "Latte Bowl"],
        axes: &[COLOR],
        dollars: (9, 29),
        step_dollars: 0,
        grams: (250, 450),
        reduced_tax: false,
        department: Some(HOME),
        summery: false,
        blurbs: &[
            "A comfortable handle and a heavy base that keeps drinks warm.",
            "Thrown and glazed for {vendor} in small runs, so each one is slightly different.",
            "The right size for a proper morning coffee.",
        ],
        detail: "Glazed {ml} that is safe in the dishwasher.",
    },
    Kind {
        product_type: "Candle",
        modifiers: &["Soy Wax", "Beeswax", "Coconut Wax"],
        nouns: &["Candle", "Travel Candle", "Pillar Candle"],
        axes: &[SCENT],
        dollars: (12, 48),
        step_dollars: 0,
        grams: (180, 520),
        reduced_tax: false,
        department: Some(HOME),
        summery: false,
        blurbs: &[
            "Hand-poured with a cotton wick for a clean, even burn.",
            "{vendor}'s scents are blended in-house from natural oils.",
            "Around forty hours of burn time.",
        ],
        detail: "Poured from {ml} in a reusable glass vessel.",
    },
    Kind {
        product_type: "Blanket",
        modifiers: &["Wool", "Cotton", "Alpaca", "Recycled Wool"],
        nouns: &["Throw Blanket", "Picnic Blanket", "Bed Blanket"],
        axes: &[COLOR],
        dollars: (49, 199),
        step_dollars: 0,
        grams: (800, 2200),
        reduced_tax: false,
        department: Some(HOME),
        summery: false,
        blurbs: &[
            "A generous throw for the sofa, the bed or the garden.",
            "Woven for {vendor} on traditional looms.",
            "Soft and warm without being heavy.",
        ],
        detail: "The {ml} yarn is brushed for extra softness.",
    },
    Kind {
        product_type: "Book",
        modifiers: &["Illustrated", "Pocket", "Collector's", "Hand-Bound"],
        nouns: &["Field Guide", "Cookbook", "Journal", "Sketchbook"],
        axes: &[FORMAT],
        dollars: (9, 39),
        step_dollars: 0,
        grams: (200, 900),
        reduced_tax: true,
        department: Some(HOME),
        summery: false,
        blurbs: &[
            "A handsome volume that belongs on the shelf and in the bag.",
            "Published by {vendor} with a lay-flat binding.",
            "Full of ideas for slow weekends.",
        ],
        detail: "This {ml} edition is printed on acid-free paper.",
    },
    Kind {
        product_type: "Coffee",
        modifiers: &["Ethiopian", "Colombian", "Guatemalan", "Sumatra", "Kenyan"],
        nouns: &["Coffee Beans", "Espresso Blend", "Filter Roast"],
        axes: &[COFFEE_SIZE, GRIND],
        dollars: (12, 22),
        step_dollars: 9,
        grams: (250, 280),
        reduced_tax: true,
        department: Some(HOME),
        summery: false,
        blurbs: &[
            "Notes of cocoa, stone fruit and brown sugar.",
            "Roasted by {vendor} every week and shipped within days.",
            "Balanced enough for espresso, bright enough for filter.",
        ],
        detail: "Roasted in small batches from {m} beans.",
    },
    Kind {
        product_type: "Tea",
        modifiers: &["Darjeeling", "Sencha", "Earl Grey", "Rooibos", "Oolong"],
        nouns: &["Loose Leaf Tea", "Tea Sampler", "Tea Tin"],
        axes: &[TEA_SIZE],
        dollars: (9, 18),
        step_dollars: 6,
        grams: (50, 80),
        reduced_tax: true,
        department: Some(HOME),
        summery: true,
        blurbs: &[
            "A calm, fragrant cup for any time of day.",
            "Sourced by {vendor} directly from the estate.",
            "Brews well hot or cold.",
        ],
        detail: "Whole-leaf {m}, packed in a resealable tin.",
    },
];
