"""An offer's worth: the one measure by which offers are compared (conflicts), ordered (notifications) and chased
(outreach of high-value offers).

A monthly benefit is worth a year of payments, so that it weighs fairly against a one-off amount; an offer without
an amount (information, or an amount not yet known) is worth nothing.
"""

from __future__ import annotations


def yearly_worth(amount_krw: int | None, payment: str) -> int:
    """The won an offer of `amount_krw` paid as `payment` (`once`, `monthly`, `information`) brings in a year."""
    amount = amount_krw or 0
    return amount * 12 if payment == "monthly" else amount
