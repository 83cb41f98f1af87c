from evalsite.llm.models import ModelPrice
from tests.support.cross_project import CrossProjectCase
from tests.traces.factories import ModelPriceFactory, ObservationFactory, TraceFactory
from traces.models import Trace


def make_trace(project):
    return {"trace_id": TraceFactory(project=project).trace_id}


def make_observation(project):
    return {"observation_id": ObservationFactory(trace=TraceFactory(project=project)).observation_id}


def make_session(project):
    return {"session_id": TraceFactory(project=project, session_id="victim-session").session_id}


def make_price(project):
    return {"price_id": ModelPriceFactory(project=project).id}


CASES = [
    CrossProjectCase(
        pattern="api/public/traces/<path:trace_id>",
        make=make_trace,
        still_there=lambda project, kwargs: Trace.objects.filter(project=project, trace_id=kwargs["trace_id"]).exists(),
    ),
    CrossProjectCase(pattern="api/public/observations/<path:observation_id>", make=make_observation),
    CrossProjectCase(pattern="api/public/sessions/<path:session_id>", make=make_session),
    CrossProjectCase(
        pattern="api/public/models/<str:price_id>",
        make=make_price,
        body={"modelName": "stolen", "matchPattern": "(?i)^stolen$", "unit": "TOKENS", "inputPrice": 1},
        still_there=lambda project, kwargs: ModelPrice.objects.filter(
            project=project, id=kwargs["price_id"], model_name__startswith="model-"
        ).exists(),
    ),
]


def make_media(project):
    from tests.traces.media.factories import png, stored_media

    return {"media_id": stored_media(project, png(rgb=(9, 9, 9))).media_id}


def media_unreported(project, kwargs):
    from traces.media.models import Media

    return Media.objects.filter(project=project, media_id=kwargs["media_id"], upload_http_status__isnull=True).exists()


CASES.append(
    CrossProjectCase(
        pattern="api/public/media/<str:media_id>",
        make=make_media,
        body={"uploadedAt": "2026-01-01T00:00:00Z", "uploadHttpStatus": 500, "uploadHttpError": "stolen"},
        still_there=media_unreported,
    )
)
