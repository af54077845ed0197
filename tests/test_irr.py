"""Tests for sibsim.finance.irr: hand-worked cases, and properties held against numpy_financial."""

from __future__ import annotations

import numpy as np
import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sibsim.finance.irr import annualise, irr

MAX_RATE = 10.0
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None)  # deterministic


def irr1(flows, **kw) -> float:
    """IRR of a single series, through the (1, T) interface."""
    out = irr(np.asarray([flows], dtype=float), **kw)
    assert out.shape == (1,) and out.dtype == np.float64
    return float(out[0])


def npv_and_scale(rate: float, flows) -> tuple[float, float]:
    """NPV at ``rate`` > -1 and the sum of the discounted magnitudes (the scale NPV is judged against).

    Below r = 0 both are multiplied by (1 + r)^(T-1), so that they do not overflow near r = -1.
    """
    cf = np.asarray(flows, dtype=float)
    t = np.arange(len(cf))
    disc = np.exp(-(t - (t[-1] if rate < 0 else 0)) * np.log1p(rate))
    return float(cf @ disc), float(np.abs(cf) @ disc)


def npv_sign(rate: float, flows) -> float:
    """Sign of NPV at ``rate``; rate <= -1 stands for the limit r -> -1, the sign of the last nonzero flow."""
    if rate <= -1:
        return float(np.sign([x for x in flows if x != 0][-1]))
    return float(np.sign(npv_and_scale(rate, flows)[0]))


def is_root(rate: float, flows) -> bool:
    """NPV(rate) is ~0 for its scale, or NPV changes sign within tol of rate.

    The second test is for 1 + r so small that a float holds it only coarsely
    (r == -1.0 when 1 + r is below float resolution next to -1).
    """
    if rate > -1:
        value, scale = npv_and_scale(rate, flows)
        if abs(value) <= 1e-8 * scale:
            return True
    d = 1e-10 * (1 + rate) + 4 * abs(np.spacing(rate))
    return npv_sign(rate - d, flows) * npv_sign(rate + d, flows) <= 0


def npf_is_accurate(rate: float, flows) -> bool:
    """numpy_financial's answer is a finite in-range root to 1e-9 of scale.

    np.roots loses accuracy on badly scaled flows (magnitudes 1e-9 next to 1e9);
    there it is no referee.
    """
    if not (np.isfinite(rate) and -1 < rate):
        return False
    value, scale = npv_and_scale(rate, flows)
    return abs(value) <= 1e-9 * scale


def near_real_rates(flows) -> np.ndarray:
    """Rates r > -1 of every real or nearly real root of NPV, from np.roots (looser than numpy_financial)."""
    y = np.roots(np.asarray(flows, dtype=float)[::-1])  # roots in 1 / (1 + r), as numpy_financial.irr
    y = y[(np.abs(y.imag) <= 1e-6 * np.abs(y)) & (y.real > 0)].real
    r = 1 / y - 1
    return r[r > -1]


def npf_root_to_compare(flows) -> float | None:
    """numpy_financial's IRR when it is clearly the in-range root closest to zero, else None.

    Skipped: no root, a root outside (-1, MAX_RATE], an inaccurate root, a
    nearly-real root that numpy_financial dropped but is as close to zero, or
    another root within 0.05 in log(1 + r) (a near-double root: closer than
    irr's grid step of 0.04, no sign-change search can be held to it) or, for
    a root below -0.99, another one there too (irr has one bracket for (-1, -0.99)).
    """
    r = npf.irr(np.asarray(flows, dtype=float))
    if not npf_is_accurate(r, flows) or r > MAX_RATE - 1e-6:
        return None
    others = near_real_rates(flows)
    others = others[np.abs(others - r) > 1e-9 * (1 + abs(r))]
    if np.any(np.abs(others) <= abs(r) + 1e-6) or np.any(np.abs(np.log1p(others) - np.log1p(r)) < 0.05):
        return None
    if r < -0.99 and np.any(others < -0.99):  # irr's grid starts at -0.99: below it, one bracket
        return None
    return float(r)


# ---------------------------------------------------------------- hand-worked


@pytest.mark.parametrize(
    "flows, expected",
    [
        ([-100, 110], 0.10),
        ([-100, 0, 121], 0.10),
        ([0, -100, 110], 0.10),  # leading zero: discounting starts at t = 0 regardless
        ([-100, 110, 0, 0], 0.10),  # trailing zeros change nothing
        ([100, -110], 0.10),  # borrower's view: same rate
        ([-100, 50, 50], 0.0),  # root exactly at r = 0
        ([-100, 0, 0, 0, 1], 100 ** -0.25 - 1),  # 1 + r = 0.316: 4-period loss
        ([-1, 9], 8.0),  # near the top of the search range
    ],
)
def test_hand_worked(flows, expected):
    assert irr1(flows) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    "flows",
    [[10, 20, 30], [0, 0, 0], [-5, -1, -3], [0, 4, 0, 0], [-1, 0], [7.0], [-1, 3, -3], [np.nan, -1, 2], [-1, np.inf]],
)
def test_no_irr_is_nan(flows):
    # one sign only, all zero, a single period, no real root ([-1, 3, -3]), non-finite values
    assert np.isnan(irr1(flows))


def test_near_total_loss():
    # 1 + r = 1e-9: a float near -1 holds 1 + r only to ~1e-7 relative
    assert 1 + irr1([-1e6, 1e-3]) == pytest.approx(1e-9, rel=1e-6)
    assert 1 + irr1([-1e6, 0, 0, 1e-3, 0]) == pytest.approx(1e-3, rel=1e-12)  # trailing zero, 3 periods
    assert 1 + irr1([416, -1, 0, 0, 0]) == pytest.approx(1 / 416, rel=1e-12)  # trailing zeros


def test_roots_outside_search_range_are_nan():
    assert np.isnan(irr1([-1, 20]))  # r = 19 > max_rate = 10
    assert irr1([-1, 20], max_rate=30.0) == pytest.approx(19.0, rel=1e-12)


@pytest.mark.parametrize("r1, r2", [(-0.05, 0.2), (0.03, -0.2), (0.5, 0.1), (-0.3, -0.1), (0.10, 0.15), (-0.10, -0.06)])
def test_two_roots_returns_the_one_closest_to_zero(r1, r2):
    # NPV as a polynomial in y = 1 / (1 + r) with roots at 1 / (1 + r1) and 1 / (1 + r2)
    y1, y2 = 1 / (1 + r1), 1 / (1 + r2)
    flows = [y1 * y2, -(y1 + y2), 1.0]
    nearest = min(r1, r2, key=abs)
    assert irr1(flows) == pytest.approx(nearest, abs=1e-12)
    assert npf.irr(flows) == pytest.approx(nearest, abs=1e-9)  # the rule we copy


@pytest.mark.parametrize(
    "flows",
    [[-100, 39, 59, 55, 20], [-100, 0, 0, 74], [-100, 100, 0, -7], [-100, 100, 0, 7], [-5, 10.5, 1, -8, 1]],
)
def test_numpy_financial_docstring_examples(flows):
    assert irr1(flows) == pytest.approx(npf.irr(flows), abs=1e-12)


def test_typical_sib_pattern_matches_numpy_financial():
    # 8 quarters of investor draw-downs, a gap, then outcome payments and the principal back at the end
    flows = [-250, -180, -180, -150, -150, -120, -100, -80, 0, 0, 60, 90, 140, 160, 180, 200, 210, 220, 230, 900]
    got = irr1(flows)
    assert got == pytest.approx(npf.irr(flows), abs=1e-12)
    assert 0 < got < 0.1


def test_long_monthly_series():
    # 30-year monthly annuity: 360 payments of 600 for 100,000 up front
    flows = [-100_000.0] + [600.0] * 360
    got = irr1(flows)
    pv = 600 * (1 - (1 + got) ** -360) / got
    assert pv == pytest.approx(100_000, rel=1e-10)
    assert got == pytest.approx(npf.irr(flows), abs=1e-10)


def test_bad_arguments():
    with pytest.raises(ValueError):
        irr(np.array([-100.0, 110.0]))  # 1-D
    with pytest.raises(ValueError):
        irr(np.array([[-100.0, 110.0]]), max_rate=0.0)
    assert irr(np.zeros((0, 5))).shape == (0,)


# ---------------------------------------------------------------- properties

MAG = st.one_of(st.floats(1e-3, 1e4), st.floats(1e-9, 1e9))  # positive magnitudes, typical and extreme
MAYBE_ZERO = st.one_of(st.just(0.0), MAG)


@st.composite
def conventional(draw):
    """One sign change: outflows (some may be zero) then inflows, or the mirror image."""
    T = draw(st.integers(2, 30))
    k = draw(st.integers(1, T - 1))
    out = draw(st.lists(MAYBE_ZERO, min_size=k, max_size=k))
    inn = draw(st.lists(MAYBE_ZERO, min_size=T - k, max_size=T - k))
    out[draw(st.integers(0, k - 1))] = draw(MAG)
    inn[draw(st.integers(0, T - k - 1))] = draw(MAG)
    flows = [-x for x in out] + inn
    return flows if draw(st.booleans()) else [-x for x in flows]


@st.composite
def adversarial(draw):
    """Several sign changes, zeros, tiny and huge magnitudes."""
    T = draw(st.integers(2, 30))
    mags = draw(st.lists(MAYBE_ZERO, min_size=T, max_size=T))
    kind = draw(st.sampled_from(["alternating", "random signs", "sib with tail"]))
    if kind == "alternating":
        signs = [(-1) ** t for t in range(T)]
    elif kind == "random signs":
        signs = draw(st.lists(st.sampled_from([-1, 1]), min_size=T, max_size=T))
    else:  # invest, get paid, then wind-down costs
        k, j = draw(st.integers(0, T - 1)), draw(st.integers(1, max(1, T // 3)))
        signs = [-1] * k + [1] * (T - k - j) + [-1] * j
    return [s * m for s, m in zip(signs, mags)]


FLOWS = st.one_of(conventional(), adversarial())


@SETTINGS
@given(FLOWS)
def test_result_is_a_root_in_range(flows):
    r = irr1(flows)
    if np.isfinite(r):
        assert -1 <= r <= MAX_RATE  # -1.0 only when 1 + r is below float resolution
        assert is_root(r, flows)


@SETTINGS
@given(FLOWS)
def test_agrees_with_numpy_financial_on_root_closest_to_zero(flows):
    expected = npf_root_to_compare(flows)
    if expected is not None:
        assert irr1(flows) == pytest.approx(expected, abs=1e-6)


@SETTINGS
@given(conventional())
def test_conventional_flows_found_and_match_numpy_financial(flows):
    # one sign change: exactly one root in (-1, inf) (Descartes' rule of signs); it lies in
    # (-1, MAX_RATE] exactly when NPV at MAX_RATE has the opposite sign to the limit at r -> -1
    got = irr1(flows)
    at_top, scale = npv_and_scale(MAX_RATE, flows)
    if abs(at_top) > 1e-9 * scale:
        assert np.isfinite(got) == (np.sign(at_top) != npv_sign(-1, flows))
    expected = npf.irr(np.asarray(flows, dtype=float))
    if np.isfinite(got) and npf_is_accurate(expected, flows):
        assert got == pytest.approx(expected, abs=1e-6)


def matrices(T):
    return st.lists(st.lists(st.floats(-1e4, 1e4), min_size=T, max_size=T), min_size=1, max_size=40)


@SETTINGS
@given(st.integers(2, 30).flatmap(matrices))
def test_stacked_matrix_equals_row_by_row(rows):
    stacked = irr(np.array(rows))
    one_by_one = np.array([irr1(row) for row in rows])
    np.testing.assert_allclose(stacked, one_by_one, rtol=0, atol=1e-12)  # also NaN in the same places


def test_many_rows_across_blocks():
    # more rows than one block (20,000), so results must land in the right rows across blocks
    rng = np.random.default_rng(7)
    base = np.hstack([-rng.uniform(50, 150, (300, 6)), rng.uniform(-20, 300, (300, 10))])
    base[::7] = np.abs(base[::7])  # some rows with no sign change
    order = rng.integers(0, len(base), 45_000)
    got = irr(base[order])
    one_by_one = np.array([irr1(row) for row in base])
    np.testing.assert_allclose(got, one_by_one[order], rtol=0, atol=1e-12)
    assert np.isnan(got).sum() == (order % 7 == 0).sum()


# ---------------------------------------------------------------- annualise


def test_annualise():
    got = annualise(np.array([0.1, np.nan, 0.0, -0.5]), 4)
    np.testing.assert_allclose(got, [1.1**4 - 1, np.nan, 0.0, 0.5**4 - 1], rtol=1e-15)
    assert np.isnan(got[1])
    assert annualise(np.array([0.01]), 12)[0] == pytest.approx(1.01**12 - 1, rel=1e-14)


# ---------------------------------------------------------------- batch independence


def test_a_rows_irr_does_not_depend_on_its_batch_neighbours_bit_for_bit():
    """The chunk size must not change any number (docs/model.md s.13): no BLAS product across rows."""
    rng = np.random.default_rng(11)
    T = 24
    cf = np.hstack([-rng.uniform(50, 150, (700, 4)), rng.uniform(-20, 60, (700, T - 4))])
    cf[::5] = rng.normal(size=(140, T))  # several sign changes: the fine grid
    whole = irr(cf)
    assert np.isfinite(whole).sum() > 500
    for idx in (np.arange(1), np.arange(3, 10), rng.permutation(700)[:333], np.arange(699, -1, -1)):
        part = irr(cf[idx])
        assert part.tobytes() == whole[idx].tobytes()
    one = np.concatenate([irr(cf[i : i + 1]) for i in range(0, 700, 37)])
    assert one.tobytes() == whole[::37].tobytes()


def test_present_value_does_not_depend_on_batch_neighbours():
    from sibsim.finance.cashflows import discount_factors, present_value

    rng = np.random.default_rng(2)
    flows = rng.normal(1e5, 5e4, size=(1001, 40))
    disc = discount_factors(0.035, 4, 40)
    whole = present_value(flows, disc)
    np.testing.assert_allclose(whole, flows @ disc, rtol=1e-12)  # the same sum, in period order
    for idx in (np.arange(1), np.arange(5, 17), rng.permutation(1001)[:257]):
        assert present_value(flows[idx], disc).tobytes() == whole[idx].tobytes()
