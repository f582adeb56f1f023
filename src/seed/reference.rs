//! The shop the demo catalog sells in: its channels, customer group, stock
//! locations and collections (with the indexes the product kinds name their
//! department by).

/// A sales channel to create.
pub(super) struct ChannelSpec {
    pub(super) code: &'static str,
    pub(super) name: &'static str,
    pub(super) currency: &'static str,
    pub(super) prices_include_tax: bool,
    pub(super) is_default: bool,
    pub(super) default_country: &'static str,
}

/// The channels: `default` (USD) and `eu` (EUR, prices with tax).
pub(super) const CHANNELS: [ChannelSpec; 2] = [
    ChannelSpec {
        code: "default",
        name: "Online Store",
        currency: "USD",
        prices_include_tax: false,
        is_default: true,
        default_country: "US",
    },
    ChannelSpec {
        code: "eu",
        name: "EU Store",
        currency: "EUR",
        prices_include_tax: true,
        is_default: false,
        default_country: "DE",
    },
];

/// Code of the customer group the wholesale prices are for.
pub(super) const WHOLESALE_CODE: &str = "wholesale";

/// Stock locations: code and name.
pub(super) const LOCATIONS: [(&str, &str); 2] =
    [("warehouse", "Main Warehouse"), ("store", "Flagship Store")];

/// A collection to create (or reuse, by handle).
pub(super) struct CollectionSpec {
    pub(super) handle: &'static str,
    pub(super) title: &'static str,
    pub(super) description: &'static str,
}

// Indexes into `COLLECTIONS`.
pub(super) const NEW_ARRIVALS: usize = 0;
pub(super) const SUMMER: usize = 1;
pub(super) const OUTERWEAR: usize = 2;
pub(super) const ACCESSORIES: usize = 3;
pub(super) const FOOTWEAR: usize = 4;
pub(super) const HOME: usize = 5;
pub(super) const SALE: usize = 6;
pub(super) const BEST_SELLERS: usize = 7;

/// The collections, in the order of the indexes above.
pub(super) const COLLECTIONS: [CollectionSpec; 8] = [
    CollectionSpec {
        handle: "new-arrivals",
        title: "New Arrivals",
        description: "The latest additions to the shop, fresh from our makers.",
    },
    CollectionSpec {
        handle: "summer",
        title: "Summer Edit",
        description: "Light fabrics and easy pieces for long, warm days.",
    },
    CollectionSpec {
        handle: "outerwear",
        title: "Outerwear",
        description: "Jackets, parkas and shells built for every kind of weather.",
    },
    CollectionSpec {
        handle: "accessories",
        title: "Accessories",
        description: "Bags, hats and scarves that finish an outfit.",
    },
    CollectionSpec {
        handle: "footwear",
        title: "Footwear",
        description: "Sneakers and boots made to be worn in.",
    },
    CollectionSpec {
        handle: "home",
        title: "Home & Kitchen",
        description: "Mugs, candles, blankets and pantry goods for slow mornings.",
    },
    CollectionSpec {
        handle: "sale",
        title: "Sale",
        description: "Marked-down favourites while stock lasts.",
    },
    CollectionSpec {
        handle: "best-sellers",
        title: "Best Sellers",
        description: "The pieces our customers come back for.",
    },
];
