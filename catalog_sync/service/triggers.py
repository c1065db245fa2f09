"""`POST /pipelines/{name}/runs`: start a run of a pipeline's deployment on the Prefect server (PREFECT_API_URL).

Which deployment and which flow parameters: ``trigger_plan``. The run is only created here (state Scheduled);
a worker of the deployment's pool runs it. Answers 202 with the flow run's id, name and Prefect UI address.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from catalog_sync.service.auth import WRITE_REFUSALS
from catalog_sync.service.deps import WriteAccess
from catalog_sync.service.errors import error_response, one_line, parameter_message
from catalog_sync.service.trigger_plan import TriggerRefused, TriggerRequest, plan

log = logging.getLogger(__name__)
router = APIRouter(tags=["pipelines"])

START_TIMEOUT_S = 30.0  # for reading the deployment and creating the run, retries included
NOT_DEPLOYED = "run `catalog-sync deploy` first"


class TriggeredRun(BaseModel):
    flow_run_id: str = Field(examples=["0f5b7a3e-2c1d-4c8e-9a57-5d1c3e0b9f21"])
    flow_run_name: str = Field(examples=["amber-okapi"])
    deployment: str = Field(
        description="<flow>/<deployment> that runs it", examples=["sync-products/anar360-sazito-full"]
    )
    url: str | None = Field(
        description="the run in the Prefect UI (PREFECT_UI_URL, else PREFECT_API_URL without /api)",
        examples=["http://127.0.0.1:4200/runs/flow-run/0f5b7a3e-2c1d-4c8e-9a57-5d1c3e0b9f21"],
    )


class TriggerResponse(BaseModel):
    """The run was created on the Prefect server (Scheduled); a worker of its pool starts it."""

    data: TriggeredRun
    error: None = None


class TriggerErrorOut(BaseModel):
    code: Literal["invalid_parameter", "not_found", "not_deployed", "unavailable"]
    message: str = Field(examples=["pipeline products runs incremental or full, not 'nightly'"])


class TriggerErrorResponse(BaseModel):
    data: None = None
    error: TriggerErrorOut


def _refusal(text: str) -> dict[str, Any]:
    return {"model": TriggerErrorResponse, "description": text}


RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": TriggerResponse, "description": "The run was created (Scheduled); a worker starts it"},
    400: _refusal(
        "Bad body, unknown strategy, or a field the pipeline does not take (code `invalid_parameter`; the "
        "message says what the pipeline takes)",
    ),
    **WRITE_REFUSALS,
    404: _refusal("No such pipeline (code `not_found`; the message lists the known ones)"),
    409: _refusal(
        "The deployment is not on the Prefect server, or its parameters are out of date (code "
        "`not_deployed`: run `catalog-sync deploy`)",
    ),
    503: _refusal(
        "API_TOKEN is not set, PREFECT_API_URL is not set, or the Prefect server does not answer (code "
        "`unavailable`)",
    ),
}
EXAMPLES = {
    "default": {"summary": "the default strategy", "value": {}},
    "strategy": {"summary": "a strategy, as a dry run", "value": {"strategy": "full", "dry_run": True}},
    "items": {
        "summary": "some items (pipelines whose trigger takes ids)",
        "value": {"ids": ["SKU-1001", "SKU-1002"]},
    },
}
REQUEST_BODY = {
    "required": False,
    "content": {"application/json": {"schema": TriggerRequest.model_json_schema(), "examples": EXAMPLES}},
}


@dataclass(frozen=True)
class StartedRun:
    flow_run_id: str
    flow_run_name: str
    url: str | None


def _ui_url(flow_run_id: str) -> str | None:
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

    base = PREFECT_UI_URL.value() or (PREFECT_API_URL.value() or "").rstrip("/").removesuffix("/api")
    return f"{str(base).rstrip('/')}/runs/flow-run/{flow_run_id}" if base else None


def _unreachable(reason: str) -> TriggerRefused:
    from prefect.settings import PREFECT_API_URL

    log.warning("the Prefect server at %s did not answer: %s", PREFECT_API_URL.value(), reason)
    return TriggerRefused(
        503,
        "unavailable",
        "the Prefect server in PREFECT_API_URL does not answer; the service's log has the details",
    )


async def start_flow_run(deployment: str, parameters: dict[str, Any]) -> StartedRun:
    """Create a run of ``deployment`` on the Prefect server in PREFECT_API_URL (Scheduled, for its workers);
    TriggerRefused 409 when the server does not hold it, 503 when the server cannot be asked."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():  # else Prefect would start a throw-away server and run it there
        raise TriggerRefused(
            503,
            "unavailable",
            "PREFECT_API_URL is not set: runs are started on a Prefect server; point it at yours",
        )
    gone = TriggerRefused(
        409, "not_deployed", f"the Prefect server has no deployment {deployment}; {NOT_DEPLOYED}"
    )
    try:
        async with asyncio.timeout(START_TIMEOUT_S), get_client() as client:
            found = await client.read_deployment_by_name(deployment)
            run = await client.create_flow_run_from_deployment(found.id, parameters=parameters)
    except ObjectNotFound:
        raise gone from None
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        log.warning(
            "the Prefect server refused a run of %s (HTTP %s): %s", deployment, status, exc.response.text
        )
        if status == 404:
            raise gone from None
        if status in (409, 422):  # the parameters do not fit the deployed flow's schema
            raise TriggerRefused(
                409,
                "not_deployed",
                f"the Prefect server refused the parameters for {deployment} (an older deployment?); "
                f"{NOT_DEPLOYED}",
            ) from None
        raise _unreachable(f"HTTP {status}") from None
    except (httpx.TransportError, OSError, TimeoutError) as exc:
        raise _unreachable(one_line(exc) if str(exc) else type(exc).__name__) from None
    run_id = str(run.id)
    return StartedRun(run_id, run.name, _ui_url(run_id))


def _field(loc: tuple[int | str, ...]) -> str:
    """A body error's location as people write it: ``ids[2]``; ``body`` for the body as a whole."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".") or "body"


def parse_body(raw: bytes) -> TriggerRequest:
    """The request's JSON body (empty: all defaults); TriggerRefused 400 naming the first bad field."""
    try:
        return TriggerRequest.model_validate_json(raw if raw.strip() else b"{}")
    except ValidationError as exc:
        errors = [{**error, "loc": (_field(error["loc"]),)} for error in exc.errors()]
        raise TriggerRefused(400, "invalid_parameter", parameter_message(errors)) from None


def _import_prefect() -> None:
    import prefect.client.orchestration  # noqa: F401  (about a second: kept off the event loop)


@router.post(
    "/pipelines/{name}/runs",
    status_code=202,
    summary="Start a run of a pipeline",
    response_model=TriggerResponse,
    responses=RESPONSES,
    openapi_extra={"requestBody": REQUEST_BODY},
)
async def trigger_run(
    name: Annotated[
        str,
        PathParam(
            description="a pipeline's name or its command (as in `catalog-sync sync <command>`)",
            examples=["products"],
        ),
    ],
    request: Request,
    _: WriteAccess,
) -> Response:
    """Start a run of the pipeline on the Prefect server: its deployment for the strategy asked (its default
    when none), with ``dry_run`` for flows that take it; ``ids`` and ``category`` only for pipelines whose
    trigger takes them. Needs `Authorization: Bearer <API_TOKEN>`."""
    try:
        body = parse_body(await request.body())
        deployment, params = await run_in_threadpool(plan, name, body)  # may import the pipelines
        await run_in_threadpool(_import_prefect)
        started = await start_flow_run(deployment, params)
    except TriggerRefused as refused:
        return error_response(refused.status, refused.code, str(refused))
    log.info("started flow run %s of %s (%s) for pipeline %s", started.flow_run_id, deployment, params, name)
    data = TriggeredRun(deployment=deployment, **asdict(started))
    return Response(
        orjson.dumps({"data": data.model_dump(), "error": None}),
        status_code=202,
        media_type="application/json",
    )
