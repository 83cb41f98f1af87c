"""Agreement statistics against scipy and statsmodels on the same data."""

import random

import numpy
import pytest
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa as statsmodels_kappa

from dashboards.analytics.statistics import categorical_agreement, numeric_agreement


@pytest.mark.parametrize("seed", range(5))
def test_numeric_agreement_matches_scipy_and_numpy(seed):
    rng = random.Random(seed)
    a = [rng.random() for _ in range(40)]
    b = [x + rng.gauss(0, 0.2) for x in a]
    result = numeric_agreement(a, b)
    assert result["n"] == 40
    assert result["pearson"] == pytest.approx(stats.pearsonr(a, b)[0])
    assert result["spearman"] == pytest.approx(stats.spearmanr(a, b)[0])
    difference = numpy.array(b) - numpy.array(a)
    assert result["mae"] == pytest.approx(numpy.abs(difference).mean())
    assert result["rmse"] == pytest.approx(numpy.sqrt((difference**2).mean()))


def test_a_constant_side_has_no_correlation_but_still_an_error():
    result = numeric_agreement([1, 1, 1], [0.5, 1, 0])
    assert result["pearson"] is None and result["spearman"] is None
    assert result["mae"] == pytest.approx(0.5)


@pytest.mark.parametrize("seed", range(5))
def test_categorical_agreement_matches_statsmodels_kappa_and_direct_counts(seed):
    rng = random.Random(seed)
    labels = ["good", "ok", "bad"]
    truth = [rng.choice(labels) for _ in range(60)]
    judged = [t if rng.random() < 0.7 else rng.choice(labels) for t in truth]
    result = categorical_agreement(truth, judged)
    table = numpy.array(result["confusionMatrix"])
    assert result["kappa"] == pytest.approx(statsmodels_kappa(table).kappa)
    assert result["accuracy"] == pytest.approx(sum(t == j for t, j in zip(truth, judged, strict=True)) / 60)
    for row in result["perLabel"]:
        label = row["label"]
        tp = sum(t == label and j == label for t, j in zip(truth, judged, strict=True))
        fp = sum(t != label and j == label for t, j in zip(truth, judged, strict=True))
        fn = sum(t == label and j != label for t, j in zip(truth, judged, strict=True))
        assert row["precision"] == pytest.approx(tp / (tp + fp))
        assert row["recall"] == pytest.approx(tp / (tp + fn))
        assert row["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    for i, t in enumerate(result["labels"]):
        for j, g in enumerate(result["labels"]):
            assert table[i][j] == sum(a == t and b == g for a, b in zip(truth, judged, strict=True))


def test_boolean_kappa_of_perfect_and_of_chance_agreement():
    assert categorical_agreement(["True", "False"] * 5, ["True", "False"] * 5)["kappa"] == 1.0
    table = categorical_agreement(["True", "True", "False", "False"], ["True", "False", "True", "False"])
    assert table["kappa"] == pytest.approx(0.0) and table["accuracy"] == 0.5
