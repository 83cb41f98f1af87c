"""Inter-annotator agreement per queue and score config, and the disagreements list (AGREEMENT.md).

Ratings are the queue's ANNOTATION scores on its items, one per (item, annotator), adjudicated
final scores left out. The statistics come from statsmodels (Cohen's and Fleiss' kappa) and
krippendorff (alpha); this module only arranges the ratings into the tables they take.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations

import krippendorff
import numpy as np
from statsmodels.stats import inter_rater

from annotations.models import AnnotationQueue, QueueItem
from evalsite.tenancy.models import Project
from scoring.models import Score, ScoreConfig, ScoreConfigDataType, ScoreSource

# Krippendorff's level of measurement for each config type.
LEVELS = {
    ScoreConfigDataType.BOOLEAN: "nominal",
    ScoreConfigDataType.CATEGORICAL: "ordinal",  # categories carry numeric values, hence an order
    ScoreConfigDataType.NUMERIC: "interval",
}


@dataclass
class Ratings:
    """{item id: {user id: value}} for one config; values are floats (numeric, boolean, category value)."""

    config: ScoreConfig
    by_item: dict[str, dict[int, float]] = field(default_factory=dict)
    labels: dict[float, str] = field(default_factory=dict)  # category value → label, for display

    @property
    def level(self) -> str:
        return LEVELS.get(self.config.data_type, "nominal")

    def multi_rated(self) -> dict[str, dict[int, float]]:
        return {item: raters for item, raters in self.by_item.items() if len(raters) >= 2}


def ratings_load(*, project: Project, queue: AnnotationQueue, config: ScoreConfig) -> Ratings:
    """The annotators' ratings of `config` on the queue's items, in one query."""
    categories = {c["label"]: float(c["value"]) for c in config.categories or []}
    ratings = Ratings(config=config, labels={value: label for label, value in categories.items()})
    rows = (
        Score.objects.filter(project=project, queue_id=queue.pk, config_id=config.pk, source=ScoreSource.ANNOTATION)
        .exclude(author_user_id__isnull=True)
        .values_list("metadata", "author_user_id", "value", "string_value")
    )
    for metadata, user_id, value, string_value in rows:
        if not isinstance(metadata, dict) or metadata.get("adjudicated") or not metadata.get("queueItemId"):
            continue
        if config.data_type == ScoreConfigDataType.CATEGORICAL and string_value in categories:
            value = categories[string_value]
        if value is None or not math.isfinite(value):
            continue
        ratings.by_item.setdefault(metadata["queueItemId"], {})[user_id] = float(value)
    return ratings


@dataclass(frozen=True)
class Agreement:
    config_id: str
    name: str
    data_type: str
    level: str
    items: int  # items with at least two ratings
    annotators: int
    percent_agreement: float | None
    cohens_kappa: float | None
    cohens_pair: tuple[int, int] | None  # the two annotators it is computed for
    cohens_items: int
    fleiss_kappa: float | None
    fleiss_items: int
    krippendorff_alpha: float | None


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def percent_agreement(ratings: Ratings) -> float | None:
    """Mean over items of the share of annotator pairs that gave the same value."""
    shares = []
    for raters in ratings.multi_rated().values():
        pairs = list(combinations(raters.values(), 2))
        shares.append(sum(a == b for a, b in pairs) / len(pairs))
    return float(np.mean(shares)) if shares else None


def cohens_kappa(ratings: Ratings) -> tuple[float | None, tuple[int, int] | None, int]:
    """Cohen's kappa of the two annotators who share the most items (ties: lowest user ids)."""
    shared: Counter = Counter()
    for raters in ratings.multi_rated().values():
        shared.update(combinations(sorted(raters), 2))
    if not shared:
        return None, None, 0
    pair, _ = min(shared.items(), key=lambda kv: (-kv[1], kv[0]))
    a, b = pair
    pairs = [(raters[a], raters[b]) for raters in ratings.by_item.values() if a in raters and b in raters]
    values = sorted({v for pair_values in pairs for v in pair_values})
    if len(pairs) < 2:
        return None, pair, len(pairs)
    index = {v: i for i, v in enumerate(values)}
    table = np.zeros((len(values), len(values)))
    for x, y in pairs:
        table[index[x], index[y]] += 1
    if len(values) == 1:
        return None, pair, len(pairs)  # one category only: kappa is undefined (0/0)
    return _finite(inter_rater.cohens_kappa(table, return_results=False)), pair, len(pairs)


def fleiss_kappa(ratings: Ratings) -> tuple[float | None, int]:
    """Fleiss' kappa over the items with the most common number of ratings (it needs the same
    number per item); nominal configs only (categorical and boolean)."""
    if ratings.config.data_type not in (ScoreConfigDataType.CATEGORICAL, ScoreConfigDataType.BOOLEAN):
        return None, 0
    multi = ratings.multi_rated()
    if not multi:
        return None, 0
    count, _ = Counter(len(raters) for raters in multi.values()).most_common(1)[0]
    rows = [sorted(raters.values()) for raters in multi.values() if len(raters) == count]
    if len(rows) < 2:
        return None, len(rows)
    table, _ = inter_rater.aggregate_raters(np.array(rows))
    if table.shape[1] < 2:
        return None, len(rows)
    return _finite(inter_rater.fleiss_kappa(table, method="fleiss")), len(rows)


def krippendorff_alpha(ratings: Ratings) -> float | None:
    """Krippendorff's alpha at the config's level; any number of annotators, missing ratings allowed."""
    multi = ratings.multi_rated()
    users = sorted({user for raters in multi.values() for user in raters})
    values = {v for raters in multi.values() for v in raters.values()}
    if len(multi) < 2 or len(values) < 2:
        return None
    matrix = np.full((len(users), len(multi)), np.nan)
    row = {user: i for i, user in enumerate(users)}
    for column, raters in enumerate(multi.values()):
        for user, value in raters.items():
            matrix[row[user], column] = value
    domain = None
    if ratings.level == "ordinal" and ratings.config.categories:
        domain = sorted({float(c["value"]) for c in ratings.config.categories})
    return _finite(krippendorff.alpha(reliability_data=matrix, level_of_measurement=ratings.level, value_domain=domain))


def agreement_for(ratings: Ratings) -> Agreement:
    config = ratings.config
    multi = ratings.multi_rated()
    kappa, pair, kappa_items = cohens_kappa(ratings)
    fleiss, fleiss_items = fleiss_kappa(ratings)
    return Agreement(
        config_id=config.pk, name=config.name, data_type=config.data_type, level=ratings.level, items=len(multi),
        annotators=len({user for raters in multi.values() for user in raters}),
        percent_agreement=percent_agreement(ratings), cohens_kappa=kappa, cohens_pair=pair, cohens_items=kappa_items,
        fleiss_kappa=fleiss, fleiss_items=fleiss_items, krippendorff_alpha=krippendorff_alpha(ratings),
    )


def queue_agreement(*, project: Project, queue: AnnotationQueue) -> list[Agreement]:
    """Agreement for every numeric, categorical or boolean config of the queue (text has none)."""
    configs = ScoreConfig.objects.filter(project=project, id__in=queue.score_config_ids).exclude(
        data_type=ScoreConfigDataType.TEXT
    )
    by_id = {config.pk: config for config in configs}
    return [
        agreement_for(ratings_load(project=project, queue=queue, config=by_id[config_id]))
        for config_id in queue.score_config_ids
        if config_id in by_id
    ]


@dataclass(frozen=True)
class Disagreement:
    item: QueueItem
    config: ScoreConfig
    spread: float  # max − min of the values (nominal: 1 when they differ)
    values: dict[int, str]  # user id → the value as shown


def disagreements(
    *, project: Project, queue: AnnotationQueue, config: ScoreConfig, threshold: float = 0.0
) -> list[Disagreement]:
    """Items whose annotators differ by more than `threshold` (nominal values: any difference),
    largest spread first."""
    ratings = ratings_load(project=project, queue=queue, config=config)
    found = []
    for item_id, raters in ratings.multi_rated().items():
        values = list(raters.values())
        if ratings.level == "nominal":
            spread = 0.0 if len(set(values)) == 1 else 1.0
            differs = spread > 0
        else:
            spread = max(values) - min(values)
            differs = spread > threshold
        if differs:
            shown = {user: ratings.labels.get(value, f"{value:g}") for user, value in raters.items()}
            found.append((item_id, spread, shown))
    items = QueueItem.objects.in_bulk([item_id for item_id, _, _ in found])
    rows = [Disagreement(items[i], config, spread, shown) for i, spread, shown in found if i in items]
    return sorted(rows, key=lambda row: (-row.spread, row.item.created_at, row.item.pk))
