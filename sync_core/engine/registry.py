"""The pipelines and the connector each uses per role: the one place the command line, the tasks and the
health report look them up, so none of them names a provider."""

from __future__ import annotations

from dataclasses import dataclass

from sync_core.connectors.anar360 import Anar360
from sync_core.connectors.base import HttpConnector
from sync_core.connectors.fever import FeverFeed
from sync_core.connectors.sazito import Sazito
from sync_core.pipelines.anar360_sazito import PIPELINE
from sync_core.pipelines.fever_events import EVENTS_PIPELINE
from sync_core.settings import Settings


@dataclass(frozen=True)
class PipelineSpec:
    """A pipeline's name and its connectors by role ("source", "target")."""

    name: str
    connectors: dict[str, type[HttpConnector]]

    @property
    def needs(self) -> tuple[str, ...]:
        """Every setting its connectors cannot work without."""
        return tuple(name for cls in self.connectors.values() for name in cls.needs)

    def configured(self, settings: Settings) -> bool:
        return all(getattr(settings, name) for name in self.needs)


PIPELINES = {
    spec.name: spec
    for spec in (
        PipelineSpec(PIPELINE, {"source": Anar360, "target": Sazito}),
        PipelineSpec(EVENTS_PIPELINE, {"source": FeverFeed}),
    )
}
