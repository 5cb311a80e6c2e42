"""${ENV} references resolve at run time; a missing one is named, no value ever shown."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.spec.environment import MissingEnvironmentError, resolve_connection
from engine.spec.model import Connection


def _connection() -> Connection:
    return Connection("cinode", "cinode", "${CINODE_URL}",
                      {"access_id": "${CINODE_ID}", "access_secret": "${CINODE_SECRET}"},
                      {"company_id": "${CINODE_COMPANY}", "retries": 3},
                      (40, timedelta(seconds=2)), {}, "/connections/cinode")


def test_references_resolve_and_the_secret_stays_out_of_repr() -> None:
    env = {"CINODE_URL": "http://127.0.0.1:9000", "CINODE_ID": "id-1",
           "CINODE_SECRET": "s3cr3t-value", "CINODE_COMPANY": "7"}
    config = resolve_connection(_connection(), env)
    assert config.base_url == "http://127.0.0.1:9000"
    assert config.auth == {"access_id": "id-1", "access_secret": "s3cr3t-value"}
    assert config.options == {"company_id": "7", "retries": 3}
    assert config.rate_limit == (40, 2.0)
    assert "s3cr3t-value" not in repr(config)


def test_missing_variables_are_named_without_values() -> None:
    with pytest.raises(MissingEnvironmentError) as err:
        resolve_connection(_connection(), {"CINODE_SECRET": "s3cr3t-value"})
    message = str(err.value)
    assert "CINODE_COMPANY, CINODE_ID, CINODE_URL" in message
    assert "s3cr3t-value" not in message
