//! Tenders: gift cards and store credit paying part or all of a cart's total,
//! leaving the rest to a payment.
//!
//! Rules:
//! - they apply to the final total (after discounts, shipping and tax): they
//!   are ways to pay, not discounts, so they change neither tax nor totals;
//! - gift cards apply in the order given, then store credit; each pays as much
//!   of what is still due as its balance allows (partial use is fine);
//! - so each debit is at most its balance, the debits sum to at most the
//!   total, and `amount_due = total - debits`; nothing is negative;
//! - every gift card and the store credit must be in the cart's currency (a
//!   mismatch is an error naming the card, not a silent skip), balances must
//!   not be negative, and a card may be given only once.
//!
//! Balances are derived by the caller from the gift card and store credit
//! ledgers; the debits returned are the rows to append when the order is
//! placed.

use crate::domain::money::Currency;

/// A gift card the customer applied, with its current balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GiftCardBalance {
    /// The caller's gift card id, echoed back.
    pub id: i64,
    /// Balance in minor units of `currency`.
    pub balance: i64,
    /// The card's currency.
    pub currency: Currency,
}

/// A balance in one currency (the customer's store credit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// Balance in minor units of `currency`.
    pub balance: i64,
    /// The balance's currency.
    pub currency: Currency,
}

/// What one gift card pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GiftCardDebit {
    /// The [`GiftCardBalance::id`].
    pub id: i64,
    /// Minor units taken from the card (zero when the total was covered
    /// before reaching it).
    pub amount: i64,
}

/// How a total is paid by gift cards and store credit, and what is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenders {
    /// One debit per gift card given, in the order given.
    pub gift_cards: Vec<GiftCardDebit>,
    /// Minor units taken from store credit (zero when none was offered or
    /// nothing was left to pay).
    pub store_credit: i64,
    /// What is left to pay by other means: total minus all debits.
    pub amount_due: i64,
}

impl Tenders {
    /// The sum of all debits (gift cards and store credit).
    pub fn debited(&self) -> i64 {
        // Bounded by the total, so no overflow.
        self.gift_cards.iter().map(|d| d.amount).sum::<i64>() + self.store_credit
    }
}

/// Why tenders cannot be applied. All are caller bugs or stale input (a card
/// applied in another currency), reported before anything is debited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TenderError {
    /// The total to pay is negative.
    #[error("negative total")]
    NegativeTotal,
    /// A gift card in another currency than the cart.
    #[error("gift card {id} is in {card}, the cart is in {cart}")]
    GiftCardCurrencyMismatch {
        /// The gift card.
        id: i64,
        /// Its currency.
        card: Currency,
        /// The cart's currency.
        cart: Currency,
    },
    /// Store credit in another currency than the cart.
    #[error("store credit is in {credit}, the cart is in {cart}")]
    StoreCreditCurrencyMismatch {
        /// The store credit's currency.
        credit: Currency,
        /// The cart's currency.
        cart: Currency,
    },
    /// A gift card with a negative balance.
    #[error("gift card {0} has a negative balance")]
    NegativeGiftCardBalance(i64),
    /// Store credit with a negative balance.
    #[error("store credit has a negative balance")]
    NegativeStoreCredit,
    /// The same gift card given twice.
    #[error("gift card {0} is applied twice")]
    DuplicateGiftCard(i64),
}

/// Pays `total` (minor units of `currency`) with `gift_cards` in order, then
/// `store_credit`, by the rules in the module docs.
pub fn apply_tenders(
    total: i64,
    currency: Currency,
    gift_cards: &[GiftCardBalance],
    store_credit: Option<Balance>,
) -> Result<Tenders, TenderError> {
    if total < 0 {
        return Err(TenderError::NegativeTotal);
    }
    for (n, card) in gift_cards.iter().enumerate() {
        if card.currency != currency {
            return Err(TenderError::GiftCardCurrencyMismatch {
                id: card.id,
                card: card.currency,
                cart: currency,
            });
        }
        if card.balance < 0 {
            return Err(TenderError::NegativeGiftCardBalance(card.id));
        }
        if gift_cards.iter().take(n).any(|c| c.id == card.id) {
            return Err(TenderError::DuplicateGiftCard(card.id));
        }
    }
    if let Some(credit) = store_credit {
        if credit.currency != currency {
            return Err(TenderError::StoreCreditCurrencyMismatch {
                credit: credit.currency,
                cart: currency,
            });
        }
        if credit.balance < 0 {
            return Err(TenderError::NegativeStoreCredit);
        }
    }

    // `due` only decreases, by at most itself, so it stays in 0..=total.
    let mut due = total;
    let gift_cards = gift_cards
        .iter()
        .map(|card| {
            let amount = card.balance.min(due);
            due -= amount;
            GiftCardDebit {
                id: card.id,
                amount,
            }
        })
        .collect();
    let store_credit = store_credit.map_or(0, |credit| credit.balance.min(due));
    due -= store_credit;
    Ok(Tenders {
        gift_cards,
        store_credit,
        amount_due: due,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn card(id: i64, balance: i64) -> GiftCardBalance {
        GiftCardBalance {
            id,
            balance,
            currency: Currency::EUR,
        }
    }

    fn credit(balance: i64) -> Option<Balance> {
        Some(Balance {
            balance,
            currency: Currency::EUR,
        })
    }

    fn debit(id: i64, amount: i64) -> GiftCardDebit {
        GiftCardDebit { id, amount }
    }

    #[test]
    fn gift_cards_in_order_then_store_credit() {
        // 100.00 due: card 1 pays its 30.00, card 2 its 50.00, credit 20.00
        // of its 25.00; nothing left.
        let tenders = apply_tenders(
            10_000,
            Currency::EUR,
            &[card(1, 3000), card(2, 5000)],
            credit(2500),
        );
        assert_eq!(
            tenders,
            Ok(Tenders {
                gift_cards: vec![debit(1, 3000), debit(2, 5000)],
                store_credit: 2000,
                amount_due: 0,
            })
        );
    }

    #[test]
    fn a_partial_cover_leaves_an_amount_due() {
        let tenders = apply_tenders(10_000, Currency::EUR, &[card(7, 1250)], credit(0));
        assert_eq!(
            tenders,
            Ok(Tenders {
                gift_cards: vec![debit(7, 1250)],
                store_credit: 0,
                amount_due: 8750,
            })
        );
    }

    #[test]
    fn cards_after_the_total_is_covered_pay_nothing() {
        let tenders = apply_tenders(
            1000,
            Currency::EUR,
            &[card(1, 5000), card(2, 5000)],
            credit(10),
        );
        assert_eq!(
            tenders,
            Ok(Tenders {
                gift_cards: vec![debit(1, 1000), debit(2, 0)],
                store_credit: 0,
                amount_due: 0,
            })
        );
        let nothing = apply_tenders(0, Currency::EUR, &[], None);
        assert_eq!(nothing.map(|t| t.amount_due), Ok(0));
    }

    #[test]
    fn bad_tenders_are_refused() {
        let usd_card = GiftCardBalance {
            id: 9,
            balance: 100,
            currency: Currency::USD,
        };
        assert_eq!(
            apply_tenders(1000, Currency::EUR, &[card(1, 10), usd_card], None),
            Err(TenderError::GiftCardCurrencyMismatch {
                id: 9,
                card: Currency::USD,
                cart: Currency::EUR
            })
        );
        let usd_credit = Balance {
            balance: 100,
            currency: Currency::USD,
        };
        assert_eq!(
            apply_tenders(1000, Currency::EUR, &[], Some(usd_credit)),
            Err(TenderError::StoreCreditCurrencyMismatch {
                credit: Currency::USD,
                cart: Currency::EUR
            })
        );
        assert_eq!(
            apply_tenders(1000, Currency::EUR, &[card(1, 10), card(1, 10)], None),
            Err(TenderError::DuplicateGiftCard(1))
        );
        assert_eq!(
            apply_tenders(1000, Currency::EUR, &[card(3, -1)], None),
            Err(TenderError::NegativeGiftCardBalance(3))
        );
        assert_eq!(
            apply_tenders(1000, Currency::EUR, &[], credit(-1)),
            Err(TenderError::NegativeStoreCredit)
        );
        assert_eq!(
            apply_tenders(-1, Currency::EUR, &[], None),
            Err(TenderError::NegativeTotal)
        );
    }

    proptest! {
        #[test]
        fn debits_are_bounded_and_add_up(
            total in 0_i64..1_000_000,
            balances in prop::collection::vec(0_i64..400_000, 0..5),
            store_credit in prop::option::of(0_i64..400_000),
        ) {
            let cards: Vec<GiftCardBalance> = balances
                .iter()
                .zip(1..)
                .map(|(&balance, id)| card(id, balance))
                .collect();
            let tenders = apply_tenders(total, Currency::EUR, &cards, store_credit.and_then(credit));
            let tenders = match tenders {
                Ok(t) => t,
                Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
            };
            prop_assert_eq!(tenders.gift_cards.len(), cards.len());
            let mut due = total;
            for (debit, card) in tenders.gift_cards.iter().zip(&cards) {
                prop_assert_eq!(debit.id, card.id);
                prop_assert!(debit.amount >= 0 && debit.amount <= card.balance);
                // Greedy: each card pays all it can of what is still due.
                prop_assert_eq!(debit.amount, card.balance.min(due));
                due -= debit.amount;
            }
            prop_assert!(tenders.store_credit >= 0);
            prop_assert!(tenders.store_credit <= store_credit.unwrap_or(0));
            prop_assert!(tenders.debited() <= total);
            prop_assert!(tenders.amount_due >= 0);
            prop_assert_eq!(tenders.amount_due, total - tenders.debited());
            let available = balances.iter().sum::<i64>() + store_credit.unwrap_or(0);
            prop_assert_eq!(tenders.amount_due, (total - available).max(0));
        }
    }
}
