"""The tick's plan for many tenants of one spec: upstream first, computed once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine.scale import schedule
from engine.scale.tenants import load_tenants, tenant_deployment
from engine.spec.load import iter_specs
from engine.state import open_store
from tests.scale.support import MACONOMY_CINODE


def test_tenants_of_one_spec_share_one_dependency_plan(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants:\n" + "".join(
        f"  t{n}:\n    setup: {{maconomy-cinode: {{project_schedule: 'every {n + 1}m'}}}}\n"
        for n in range(5)))
    with open_store(str(tmp_path / "state.db")) as store:
        deployment = tenant_deployment(list(iter_specs([MACONOMY_CINODE])),
                                       load_tenants(tenants, {}), store)
        before = len(schedule._BY_SHAPE)
        due = schedule.plan_tick(deployment.specs, {}, datetime.now(UTC))
    assert len(schedule._BY_SHAPE) - before <= 1  # one shape, whatever the tenants
    assert len(due) == 10
    for n in range(5):
        mine = [(sync, job.lock) for job, scope, sync, _ in due
                if scope == f"t{n}:maconomy-cinode"]
        # customers before projects, which reads its links and shares its lock
        assert mine == [("customers", f"sync:t{n}:maconomy-cinode/customers"),
                        ("projects", f"sync:t{n}:maconomy-cinode/customers")]
