"""Health state of one system, folded from node-health events into model features."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

# Components whose own metrics become features. Individual nodes are too many: they are counted.
_SHARED = ("file-system", "node-group", "ost", "switch")


class HealthState:
    """Latest status and metrics per shared component, and how many nodes are not ok.

    Examples
    --------
    >>> health = HealthState()
    >>> health.update({"component": "scratch", "component_type": "file-system", "status": "degraded",
    ...                "metrics": {"full_pct": 81.0}})
    >>> health.snapshot()
    {'health.scratch.not_ok': 1.0, 'health.scratch.full_pct': 81.0}
    """

    def __init__(self, max_components: int = 64, max_nodes: int = 100_000):
        self.components: OrderedDict[str, dict[str, float]] = OrderedDict()
        self.bad_nodes: OrderedDict[str, None] = OrderedDict()
        self.max_components, self.max_nodes = max_components, max_nodes
        self._snapshot: dict[str, float] = {}

    def update(self, event: Mapping[str, Any]) -> None:
        """Fold in one node-health event."""
        name, status = event["component"], event["status"]
        if event.get("component_type", "file-system") in _SHARED:
            values = {"not_ok": float(status != "ok")}
            values.update({k: float(v) for k, v in event.get("metrics", {}).items()})
            self.components[name] = values
            self.components.move_to_end(name)
            while len(self.components) > self.max_components:
                self.components.popitem(last=False)
        elif status == "ok":
            self.bad_nodes.pop(name, None)
        else:
            self.bad_nodes[name] = None
            while len(self.bad_nodes) > self.max_nodes:
                self.bad_nodes.popitem(last=False)
        self._snapshot = self._flatten()

    def _flatten(self) -> dict[str, float]:
        flat = {f"health.{c}.{k}": v for c, values in self.components.items() for k, v in values.items()}
        if self.bad_nodes:
            flat["health.nodes_not_ok"] = float(len(self.bad_nodes))
        return flat

    def snapshot(self) -> dict[str, float]:
        """Current health as flat numeric features (a shared read-only dict)."""
        return self._snapshot
