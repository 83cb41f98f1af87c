"""A small project of traces, observations and scores with known values, for the metrics tests.

Every test computes what it expects from these rows in Python (numpy for percentiles) and compares
with what the engine answers, on SQLite and PostgreSQL alike.
"""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dashboards.analytics import seams
from scoring.models import Score
from tests.traces.factories import ObservationFactory, TraceFactory

START = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)  # a Monday
MODELS = ["gpt-4o", "gpt-4o-mini", "claude", None]
LEVELS = ["DEFAULT", "DEFAULT", "DEFAULT", "WARNING", "ERROR"]
ENVIRONMENTS = ["production", "staging"]
TAGS = [[], ["a"], ["a", "b"], ["b", "c"]]
CATEGORIES = ["good", "ok", "bad"]


def populate(project, *, seed: int = 7, traces: int = 30):
    """Traces over ten days, 1–4 observations each, and numeric, boolean and categorical scores."""
    rng = random.Random(seed)
    made = {"traces": [], "observations": [], "scores": []}
    for number in range(traces):
        moment = START + timedelta(
            minutes=rng.randrange(0, 10 * 24 * 60), microseconds=rng.randrange(0, 10**6)
        )
        trace = TraceFactory(
            project=project,
            trace_id=f"{seed:02d}{number:030x}",
            name=rng.choice(["chat", "search", "summarise"]),
            timestamp=moment,
            user_id=rng.choice(["u1", "u2", "u3", None]),
            session_id=rng.choice(["s1", "s2", None]),
            release=rng.choice(["r1", "r2"]),
            environment=rng.choice(ENVIRONMENTS),
            tags=rng.choice(TAGS),
        )
        made["traces"].append(trace)
        for index in range(rng.randint(1, 4)):
            start = moment + timedelta(
                milliseconds=rng.randrange(0, 5000), microseconds=rng.randrange(0, 1000)
            )
            ended = rng.random() > 0.1
            tokens_in, tokens_out = rng.randrange(0, 2000), rng.randrange(0, 800)
            observation = ObservationFactory(
                trace=trace,
                observation_id=f"{seed:02d}{number:08x}{index:06x}",
                parent_observation_id=None if index == 0 else f"{seed:02d}{number:08x}{0:06x}",
                type=rng.choice(["SPAN", "GENERATION"]),
                name=rng.choice(["llm", "retrieve", "tool"]),
                start_time=start,
                end_time=start
                + timedelta(milliseconds=rng.randrange(1, 9000), microseconds=rng.randrange(0, 1000))
                if ended
                else None,
                level=rng.choice(LEVELS),
                model=rng.choice(MODELS),
                environment=trace.environment,
                input_tokens=tokens_in,
                output_tokens=tokens_out,
                total_tokens=tokens_in + tokens_out,
                total_cost=Decimal(rng.randrange(0, 10**6)) / Decimal(10**8),
                cost_details={
                    "input": rng.randrange(0, 1000) / 10**5,
                    "output": rng.randrange(0, 1000) / 10**5,
                },
                prompt_name=rng.choice(["p", None]),
                prompt_version=rng.choice([1, 2, None]),
                metadata={"team": rng.choice(["x", "y"]), "n": rng.randrange(0, 10)},
            )
            made["observations"].append(observation)
            for name in ("accuracy", "helpfulness"):
                if rng.random() < 0.7:
                    made["scores"].append(
                        Score.objects.create(
                            project=project,
                            score_id=f"{seed:02d}{observation.observation_id}{name[:3]}",
                            name=name,
                            value=round(rng.random(), 3),
                            data_type="NUMERIC",
                            source=rng.choice(["API", "EVAL", "ANNOTATION"]),
                            environment=trace.environment,
                            trace_id=trace.trace_id,
                            observation_id=observation.observation_id,
                            timestamp=start + timedelta(seconds=rng.randrange(0, 600)),
                            metadata={seams.EVALUATOR_VERSION_KEY: rng.choice([1, 2])},
                        )
                    )
            if rng.random() < 0.6:
                passed = rng.random() < 0.6
                made["scores"].append(
                    Score.objects.create(
                        project=project,
                        score_id=f"{seed:02d}{observation.observation_id}bool",
                        name="passed",
                        value=1.0 if passed else 0.0,
                        string_value="True" if passed else "False",
                        data_type="BOOLEAN",
                        source="EVAL",
                        environment=trace.environment,
                        trace_id=trace.trace_id,
                        observation_id=observation.observation_id,
                        timestamp=start,
                    )
                )
            if rng.random() < 0.6:
                label = rng.choice(CATEGORIES)
                made["scores"].append(
                    Score.objects.create(
                        project=project,
                        score_id=f"{seed:02d}{observation.observation_id}cat",
                        name="quality",
                        value=float(CATEGORIES.index(label)),
                        string_value=label,
                        data_type="CATEGORICAL",
                        source="ANNOTATION",
                        environment=trace.environment,
                        trace_id=trace.trace_id,
                        observation_id=observation.observation_id,
                        timestamp=start,
                    )
                )
    return made
