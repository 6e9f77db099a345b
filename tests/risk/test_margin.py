"""risk.margin: the one margin arithmetic, and its one rule for a missing price (none, or not
positive): valuing a position needs its price (PriceUnavailable otherwise, which pre-trade risk
turns into a refusal); valuations that must go on mark it at its entry price."""
from decimal import Decimal

import pytest

from risk.margin import (
    PriceUnavailable,
    initial_requirement,
    maintenance_requirement,
    margin_figures,
    marks,
)

D = Decimal


@pytest.mark.parametrize("missing", [None, D(0), D(-1)])
def test_a_missing_price_is_never_valued(missing):
    prices = {} if missing is None else {"A": missing}
    with pytest.raises(PriceUnavailable):
        maintenance_requirement({"A": D(10)}, prices, {}, maintenance=D("0.25"))
    assert marks({"A": D(90)}, prices) == {"A": D(90)}  # the entry price, and only then
    assert marks({"A": D(90)}, {"A": D(95)}) == {"A": D(95)}


def test_requirements_take_the_stricter_house_rate():
    positions, prices = {"A": D(10), "B": D(-4)}, {"A": D(100), "B": D(50)}
    house = {"A": D("0.40")}
    assert maintenance_requirement(positions, prices, house, maintenance=D("0.25")) == 1000 * D("0.40") + 200 * D("0.25")
    assert initial_requirement(positions, prices, house, reg_t_initial=D("0.5"), short_initial=D("1.5")) == \
        1000 * D("0.5") + 200 * D("0.5")
    figures = margin_figures(D(-500), positions, prices, house, maintenance=D("0.25"))
    assert (figures.equity, figures.requirement, figures.deficit) == (D("300.00"), D("450.00"), D("150.00"))
