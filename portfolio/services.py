"""Position writes, called by orders' services inside their transaction (the caller holds the
account lock and the position's row lock, in the order of accounts/locks.py)."""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tradex.values import money, round_to

from .models import Position

ZERO = Decimal(0)
# Average prices keep the column's full precision so realized P&L does not drift.
AVG_PRICE_PLACES = 6


@dataclass(frozen=True)
class FillEffect:
    realized_pl: Decimal
    opened_qty: Decimal
    closed_qty: Decimal
    day_trade: bool  # closed shares that were opened today


def position_get_or_create_locked(*, account, asset) -> Position:
    """The account's position in the asset; creating the row is safe because the caller holds the
    account lock, which every position writer takes first."""
    position, _ = Position.objects.get_or_create(account=account, symbol=asset.symbol, defaults={"asset": asset})
    return position


def position_apply_fill(*, position: Position, side: str, qty: Decimal, price: Decimal, trade_date: date) -> FillEffect:
    """Apply one fill: average cost on the opening part, realized P&L on the closing part; a fill
    larger than the position flips it (long to short or back)."""
    if position.activity_date != trade_date:
        position.activity_date, position.day_opened_qty, position.day_closed_qty = trade_date, ZERO, ZERO
    signed = qty if side == "buy" else -qty
    current = position.qty
    closing = ZERO if current == 0 or (current > 0) == (signed > 0) else min(qty, abs(current))
    opening = qty - closing
    realized = ZERO
    opened_today_open = position.day_opened_qty - position.day_closed_qty
    if closing:
        direction = 1 if current > 0 else -1
        realized = money(closing * (price - position.avg_entry_price) * direction)
        position.realized_pl += realized
        position.qty = current + (closing if signed > 0 else -closing)
        position.day_closed_qty += closing
        if position.qty == 0:
            position.avg_entry_price = ZERO
    if opening:
        held = abs(position.qty)
        position.avg_entry_price = round_to((held * position.avg_entry_price + opening * price) / (held + opening), AVG_PRICE_PLACES)
        position.qty += opening if signed > 0 else -opening
        position.day_opened_qty += opening
    position.save()
    return FillEffect(realized, opening, closing, day_trade=bool(closing) and opened_today_open > 0)


def position_hold(*, position: Position, qty: Decimal) -> None:
    """Promise long shares to an open sell order."""
    if qty:
        position.held_qty += qty
        position.save(update_fields=["held_qty", "updated_at"])


def position_release(*, position: Position, qty: Decimal) -> None:
    if qty:
        position.held_qty = max(position.held_qty - qty, ZERO)
        position.save(update_fields=["held_qty", "updated_at"])


@dataclass(frozen=True)
class SplitEffect:
    qty_before: Decimal
    qty_after: Decimal
    fraction: Decimal  # shares removed as cash in lieu (0 when fractional shares are kept)
    basis_per_share: Decimal  # cost per post-split share


def position_apply_split(*, position: Position, new_shares: int, old_shares: int, whole_shares: bool,
                         held_qty: Decimal) -> SplitEffect:
    """A stock split on a position: quantity times new/old, average price times old/new (the cost
    basis is unchanged), today's counters scaled too; `held_qty` is what the caller's adjusted open
    sell orders now hold. With whole_shares,
    a fractional remainder of a long position is taken out (its cost basis with it; the caller
    pays it as cash in lieu and books its realized P&L through `realize`). Caller holds the
    account and position locks. Tax lots: the lead wires portfolio's lot adjustment here."""
    from decimal import ROUND_FLOOR

    ratio = Decimal(new_shares) / Decimal(old_shares)
    before = position.qty
    exact = before * ratio
    after = exact
    if whole_shares and exact > 0:
        after = exact.to_integral_value(rounding=ROUND_FLOOR)
    fraction = exact - after
    basis = round_to(position.avg_entry_price / ratio, AVG_PRICE_PLACES) if before else ZERO
    position.qty = after
    position.avg_entry_price = basis if after else ZERO
    position.held_qty = held_qty  # what the adjusted open sell orders now hold
    position.day_opened_qty *= ratio
    position.day_closed_qty *= ratio
    position.save()
    return SplitEffect(before, after, fraction, basis)


def position_realize(*, position: Position, amount: Decimal) -> None:
    """Book realized P&L that no fill produced (cash in lieu of a split's fraction)."""
    if amount:
        position.realized_pl += money(amount)
        position.save(update_fields=["realized_pl", "updated_at"])
