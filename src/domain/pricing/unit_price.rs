//! Unit price selection among a variant's price rows (channel, customer
//! group, quantity tiers).

/// One price of a variant, as stored in `variant_price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceRow {
    /// The channel the price is for.
    pub channel_id: i64,
    /// Only for customers of this group; `None` is everyone's price.
    pub customer_group_id: Option<i64>,
    /// The price applies from this many units on.
    pub min_quantity: i32,
    /// Unit price in the channel currency's minor units.
    pub amount_minor: i64,
}

/// The unit price for `quantity` units bought in `channel_id` by a customer
/// of `customer_group_id` (`None`: no group, or a guest): the lowest amount
/// among the rows of that channel whose group is none or the customer's, and
/// whose minimum quantity is at most `quantity`. `None` when no row applies
/// (the variant is not sold in that channel at that quantity).
pub fn unit_price(
    rows: &[PriceRow],
    channel_id: i64,
    customer_group_id: Option<i64>,
    quantity: u32,
) -> Option<i64> {
    rows.iter()
        .filter(|row| row.channel_id == channel_id)
        .filter(|row| row.customer_group_id.is_none() || row.customer_group_id == customer_group_id)
        .filter(|row| i64::from(row.min_quantity) <= i64::from(quantity))
        .map(|row| row.amount_minor)
        .min()
}
