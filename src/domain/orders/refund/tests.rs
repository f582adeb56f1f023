use super::*;

#[test]
fn units_add_up_to_the_line_total_in_any_pieces() {
    // 1000 over 3 units: 333, 334 (667 - 333), 333 (1000 - 667).
    assert_eq!(units_worth(1000, 3, 0, 1), 333);
    assert_eq!(units_worth(1000, 3, 1, 1), 334);
    assert_eq!(units_worth(1000, 3, 2, 1), 333);
    for total in [0_i64, 1, 99, 1000, 1999, 123_457] {
        for quantity in 1..=7 {
            for first in 0..=quantity {
                let a = units_worth(total, quantity, 0, first);
                let b = units_worth(total, quantity, first, quantity - first);
                assert_eq!(a + b, total, "{total} over {quantity}, split at {first}");
                assert!(a >= 0 && b >= 0);
            }
        }
    }
}

#[test]
fn tenders_are_used_in_their_order_up_to_their_room() {
    let card = Tender::Card { payment_id: 1 };
    let gift = Tender::GiftCard { gift_card_id: 2 };
    let credit = Tender::StoreCredit { account_id: 3 };
    let rooms = [(card, 500), (gift, 300), (credit, 200)];
    assert_eq!(split(400, &rooms), Some(vec![(card, 400)]));
    assert_eq!(split(700, &rooms), Some(vec![(card, 500), (gift, 200)]));
    assert_eq!(
        split(1000, &rooms),
        Some(vec![(card, 500), (gift, 300), (credit, 200)])
    );
    assert_eq!(split(1001, &rooms), None);
    assert_eq!(
        split(100, &[(card, 0), (gift, 100)]),
        Some(vec![(gift, 100)])
    );
}
