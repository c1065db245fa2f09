"""`POST /pipelines/{name}/runs`: which deployment and parameters each pipeline gets, every refusal in the error
envelope (never FastAPI's 422), an unreachable or empty Prefect server, and one run created on a real one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings
from prefect.testing.utilities import prefect_test_harness
from prefect.utilities.callables import parameter_schema_from_entrypoint
from pydantic import SecretStr

from catalog_sync.service import create_app, trigger_plan, triggers
from catalog_sync.service.triggers import StartedRun
from sync_core.engine.registry import register, unregister
from sync_core.engine.spec import Pipeline
from sync_core.errors import ConfigError
from sync_core.settings import Settings
from tests.service import seed
from tests.service.test_errors import envelope

TOKEN = "tok-trigger-5e4d3c2b1a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[2]
RUN_ID = "0f5b7a3e-2c1d-4c8e-9a57-5d1c3e0b9f21"


@pytest.fixture
def store(_sqlite_url: str) -> Settings:
    return Settings(_env_file=None, database_url=_sqlite_url, api_token=SecretStr(TOKEN))  # type: ignore[call-arg]


def post(settings: Settings, path: str, body: Any = None, *, content: bytes | None = None) -> httpx.Response:
    """One request in this thread's context, so Prefect settings made temporary by the test apply."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(lambda: settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            if content is not None:
                return await client.post(path, content=content, headers=AUTH)
            return await client.post(path, json=body, headers=AUTH)

    return asyncio.run(send())


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """A fake Prefect: records each run asked for and answers as the server would."""
    calls: list[tuple[str, dict[str, Any]]] = []

    async def start(deployment: str, parameters: dict[str, Any]) -> StartedRun:
        calls.append((deployment, parameters))
        return StartedRun(RUN_ID, "amber-okapi", f"http://prefect.test/runs/flow-run/{RUN_ID}")

    monkeypatch.setattr(triggers, "start_flow_run", start)
    return calls


def accepted(response: httpx.Response, deployment: str) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["error"] is None and body["data"]["deployment"] == deployment
    data: dict[str, Any] = body["data"]
    return data


# ---- which deployment, which parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "body", "deployment", "parameters"),
    [
        ("products", {}, "sync-products/anar360-sazito-incremental", {"dry_run": False}),
        ("products", None, "sync-products/anar360-sazito-incremental", {"dry_run": False}),
        ("anar360-sazito", {"strategy": "full"}, "sync-products/anar360-sazito-full", {"dry_run": False}),
        (
            "products",
            {"strategy": "full", "dry_run": True},
            "sync-products/anar360-sazito-full",
            {"dry_run": True},
        ),
        ("events", {}, "sync-events/fever-hourly", {}),
        ("fever-events", {"strategy": "feed", "ids": None}, "sync-events/fever-hourly", {}),
        ("ingram", {}, "sync-ingram/ingram-every-6h", {}),
        ("ingram", {"strategy": "retry"}, "retry-failures/ingram-retry", {}),
    ],
)
def test_the_deployment_of_the_strategy_runs_with_what_its_flow_takes(
    store: Settings,
    started: list[tuple[str, dict[str, Any]]],
    name: str,
    body: Any,
    deployment: str,
    parameters: dict[str, Any],
) -> None:
    response = post(store, f"/pipelines/{name}/runs", body)
    assert accepted(response, deployment) == {
        "flow_run_id": RUN_ID,
        "flow_run_name": "amber-okapi",
        "deployment": deployment,
        "url": f"http://prefect.test/runs/flow-run/{RUN_ID}",
    }
    assert started == [(deployment, parameters)]


def test_an_empty_body_is_the_default_run(store: Settings, started: list[tuple[str, dict[str, Any]]]) -> None:
    accepted(post(store, "/pipelines/events/runs", content=b""), "sync-events/fever-hourly")


def test_an_unknown_pipeline_answers_404_naming_the_known_ones(
    store: Settings, started: list[tuple[str, dict[str, Any]]]
) -> None:
    message = envelope(post(store, "/pipelines/prodcts/runs", {}), 404, "not_found")
    assert message.startswith("no pipeline named 'prodcts' (known: ")
    assert {"products", "events", "ingram"} <= set(message.split("(known: ")[1].rstrip(")").split(", "))
    assert started == []


@pytest.mark.parametrize(
    ("name", "strategy", "message"),
    [
        ("products", "nightly", "pipeline products runs incremental or full, not 'nightly'"),
        ("ingram", "incremental", "pipeline ingram runs full or retry, not 'incremental'"),
        ("events", "FEED", "pipeline events runs feed, not 'FEED'"),
    ],
)
def test_an_unknown_strategy_answers_400_naming_the_pipelines_strategies(
    store: Settings, started: list[tuple[str, dict[str, Any]]], name: str, strategy: str, message: str
) -> None:
    response = post(store, f"/pipelines/{name}/runs", {"strategy": strategy})
    assert envelope(response, 400, "invalid_parameter") == message
    assert started == []


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        (
            "products",
            {"ids": ["SKU-1"]},
            "pipeline products takes strategy (incremental or full) and dry_run, not ids",
        ),
        (
            "products",
            {"ids": [], "category": "shoes"},
            "pipeline products takes strategy (incremental or full) and dry_run, not ids or category",
        ),
        ("events", {"category": "concerts"}, "pipeline events takes strategy (feed), not category"),
        ("ingram", {"ids": ["PN-1"]}, "pipeline ingram takes strategy (full or retry), not ids"),
        ("events", {"dry_run": True}, "pipeline events takes strategy (feed), not dry_run"),
        (
            "ingram",
            {"strategy": "retry", "dry_run": True},
            "pipeline ingram takes strategy (full or retry), not dry_run",
        ),
    ],
)
def test_what_a_pipeline_without_a_trigger_cannot_take_answers_400(
    store: Settings, started: list[tuple[str, dict[str, Any]]], name: str, body: dict[str, Any], message: str
) -> None:
    assert envelope(post(store, f"/pipelines/{name}/runs", body), 400, "invalid_parameter") == message
    assert started == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "body is invalid: invalid json: key must be a string at line 1 column 2"),
        (b'"full"', "body is invalid: input should be an object, not 'full'"),
        (b"[]", "body is invalid: input should be an object"),
        (b'{"strategie": "full"}', "strategie is invalid: extra inputs are not permitted"),
        (b'{"strategy": ""}', "strategy must not be empty"),
        (b'{"strategy": ["full"]}', "strategy is invalid: input should be a valid string"),
        (
            b'{"dry_run": "perhaps"}',
            "dry_run is invalid: input should be a valid boolean, unable to interpret input",
        ),
        (b'{"ids": "SKU-1"}', "ids is invalid: input should be a valid array, not 'SKU-1'"),
        (b'{"ids": ["a", " "]}', "ids[1] must not be empty"),
        (b'{"category": "c", "dry_run": 3}', "dry_run is invalid: input should be a valid boolean"),
    ],
)
def test_a_bad_body_answers_400_in_the_envelope(
    store: Settings, started: list[tuple[str, dict[str, Any]]], content: bytes, message: str
) -> None:
    response = post(store, "/pipelines/products/runs", content=content)
    assert envelope(response, 400, "invalid_parameter").startswith(message)
    assert "detail" not in response.text
    assert started == []


# ---- pipelines of their own -----------------------------------------------------------------------------------


def _declared(**fields: Any) -> Pipeline:
    defaults: dict[str, Any] = {
        "name": "rows-demo",
        "title": "rows into a table",
        "connectors": {},
        "strategies": ("full", "by-key"),
        "job": lambda ctx: None,
        "command": "rows",
    }
    return Pipeline(**(defaults | fields))


@pytest.fixture
def registered() -> Iterator[list[Pipeline]]:
    specs: list[Pipeline] = []
    yield specs
    for spec in specs:
        unregister(spec.name)


def test_a_pipelines_trigger_decides_the_deployment_and_parameters(
    store: Settings, started: list[tuple[str, dict[str, Any]]], registered: list[Pipeline]
) -> None:
    asked: list[dict[str, Any]] = []

    def trigger(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        asked.append(fields)
        if fields["category"] is not None:
            raise ConfigError("rows cannot be chosen by category; give ids")
        return "sync-pipeline/rows-items", {"pipeline": "rows-demo", "params": {"ids": fields["ids"]}}

    registered.append(register(_declared(trigger=trigger)))
    response = post(store, "/pipelines/rows/runs", {"ids": ["r1", 2]})
    accepted(response, "sync-pipeline/rows-items")
    assert started == [
        ("sync-pipeline/rows-items", {"pipeline": "rows-demo", "params": {"ids": ["r1", "2"]}})
    ]
    assert asked == [{"strategy": None, "ids": ["r1", "2"], "category": None, "dry_run": False}]

    refused = post(store, "/pipelines/rows/runs", {"category": "c"})
    assert envelope(refused, 400, "invalid_parameter") == "rows cannot be chosen by category; give ids"
    unknown = post(store, "/pipelines/rows/runs", {"strategy": "nope"})
    assert envelope(unknown, 400, "invalid_parameter") == "pipeline rows runs full or by-key, not 'nope'"
    assert len(asked) == 2 and len(started) == 1  # the strategy is checked before the trigger is asked


def test_a_flow_that_takes_a_strategy_gets_it(
    store: Settings,
    started: list[tuple[str, dict[str, Any]]],
    registered: list[Pipeline],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A strategy without a deployment of its own runs on the default one's when its flow takes ``strategy``
    (here sync-pipeline, read from its entrypoint), and is refused when it does not."""
    monkeypatch.setattr(
        trigger_plan, "_entrypoints", lambda: {"rows-full": "flows/pipeline_run.py:sync_pipeline"}
    )
    registered.append(register(_declared(deployments={"full": "sync-pipeline/rows-full"})))
    accepted(post(store, "/pipelines/rows/runs", {"strategy": "by-key"}), "sync-pipeline/rows-full")
    assert started == [("sync-pipeline/rows-full", {"strategy": "by-key", "dry_run": False})]

    registered.append(register(_declared(name="other-demo", command="other", deployments={"full": "x/y"})))
    response = post(store, "/pipelines/other/runs", {"strategy": "by-key"})
    assert (
        envelope(response, 400, "invalid_parameter")
        == "pipeline other has no deployment that runs strategy 'by-key'"
    )


def test_a_pipeline_without_deployments_answers_409(
    store: Settings, started: list[tuple[str, dict[str, Any]]], registered: list[Pipeline]
) -> None:
    registered.append(register(_declared()))
    response = post(store, "/pipelines/rows/runs", {})
    assert (
        envelope(response, 409, "not_deployed")
        == "pipeline rows declares no deployment; run it with `catalog-sync sync`"
    )
    assert started == []


def test_the_flow_parameters_come_from_prefect_yaml() -> None:
    assert trigger_plan.flow_parameters("sync-products/anar360-sazito-full") == {
        "scope",
        "since_ms",
        "dry_run",
        "connections",
    }
    assert trigger_plan.flow_parameters("sync-events/fever-hourly") == {"url", "connections"}
    assert trigger_plan.flow_parameters("sync-nothing/not-in-prefect-yaml") == frozenset()


# ---- the Prefect server ---------------------------------------------------------------------------------------


def test_no_prefect_api_url_answers_503(store: Settings) -> None:
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        response = post(store, "/pipelines/products/runs", {})
    assert envelope(response, 503, "unavailable").startswith("PREFECT_API_URL is not set")


def test_an_unreachable_prefect_server_answers_503(store: Settings, caplog: pytest.LogCaptureFixture) -> None:
    port = seed.free_port()  # nothing listens there
    with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}):
        response = post(store, "/pipelines/products/runs", {"strategy": "full"})
    message = envelope(response, 503, "unavailable")
    assert (
        message == "the Prefect server in PREFECT_API_URL does not answer; the service's log has the details"
    )
    assert str(port) not in response.text and "Traceback" not in response.text
    assert f"127.0.0.1:{port}" in caplog.text  # the operator finds the address in the log


@pytest.fixture(scope="module")
def prefect_server() -> Iterator[str]:
    with prefect_test_harness(server_startup_timeout=60):
        yield str(PREFECT_API_URL.value())


async def _deploy_full_products() -> None:
    entrypoint = "flows/sync_products.py:sync_products"
    schema = parameter_schema_from_entrypoint(f"{ROOT}/{entrypoint}").model_dump_for_openapi()
    async with get_client() as client:
        flow_id = await client.create_flow_from_name("sync-products")
        await client.create_deployment(
            flow_id=flow_id,
            name="anar360-sazito-full",
            entrypoint=entrypoint,
            parameters={"scope": "full", "dry_run": False},
            parameter_openapi_schema=schema,
            enforce_parameter_schema=True,
        )


async def _flow_run(run_id: str) -> Any:
    async with get_client() as client:
        return await client.read_flow_run(run_id)  # type: ignore[arg-type]


@pytest.mark.e2e
def test_a_run_is_created_on_a_real_prefect_server(
    store: Settings, prefect_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    missing = post(store, "/pipelines/products/runs", {"strategy": "full"})
    assert envelope(missing, 409, "not_deployed") == (
        "the Prefect server has no deployment sync-products/anar360-sazito-full; run `catalog-sync deploy` first"
    )

    asyncio.run(_deploy_full_products())
    response = post(store, "/pipelines/products/runs", {"strategy": "full", "dry_run": True})
    data = accepted(response, "sync-products/anar360-sazito-full")
    run = asyncio.run(_flow_run(data["flow_run_id"]))
    assert str(run.id) == data["flow_run_id"] and run.name == data["flow_run_name"]
    assert run.parameters == {
        "scope": "full",
        "dry_run": True,
    }  # the deployment's, with the request's dry_run
    assert run.state is not None and run.state.is_scheduled()  # a worker of the pool starts it
    assert data["url"] == f"{PREFECT_UI_URL.value()}/runs/flow-run/{run.id}"
    assert data["url"].startswith(prefect_server.removesuffix("/api"))


# ---- ploomes-products: a trigger of its own ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "deployment", "parameters"),
    [
        ({}, "sync-ploomes/ploomes-every-15m", {"strategy": "auto", "ids": None, "category": None}),
        (
            {"ids": ["17", 42]},
            "sync-ploomes/ploomes-every-15m",
            {"strategy": "auto", "ids": [17, 42], "category": None},
        ),
        (
            {"strategy": "real-time", "ids": ["7"]},
            "sync-ploomes/ploomes-every-15m",
            {"strategy": "real-time", "ids": [7], "category": None},
        ),
        (
            {"strategy": "batch", "category": "Atlas"},
            "sync-ploomes/ploomes-nightly",
            {"strategy": "batch", "ids": None, "category": "Atlas"},
        ),
    ],
)
def test_ploomes_runs_any_strategy_with_ids_or_a_category(
    store: Settings,
    started: list[tuple[str, dict[str, Any]]],
    body: dict[str, Any],
    deployment: str,
    parameters: dict[str, Any],
) -> None:
    accepted(post(store, "/pipelines/ploomes/runs", body), deployment)
    assert started == [(deployment, parameters | {"dry_run": False})]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"ids": ["abc"]}, "ids must be Ploomes product ids"),
        ({"strategy": "real-time"}, "give at least one"),
        ({"strategy": "real-time", "ids": [str(n) for n in range(1, 12)]}, "at most 10 ids"),
        ({"ids": ["1"], "category": "Atlas"}, "not both"),
    ],
)
def test_ploomes_refuses_what_a_strategy_cannot_take_with_a_400(
    store: Settings, started: list[tuple[str, dict[str, Any]]], body: dict[str, Any], said: str
) -> None:
    answer = post(store, "/pipelines/ploomes-products/runs", body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_parameter" and said in error["message"], error
    assert started == []
