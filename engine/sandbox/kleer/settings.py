"""The Kleer sandbox's own knobs (beside its credentials): what `SandboxConfig` does not
say because only Kleer has it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KleerSettings"]


@dataclass(frozen=True)
class KleerSettings:
    """Kleer-only behaviour of the simulator; every default is an assumption (no source).

    - `rate_limit`: requests per second per token, answered 429 with `Retry-After` when
      exceeded (off when `SandboxConfig.rate_limits` is False). Kleer publishes none.
    - `new_project_status`: the `status` a client project gets when it is created;
      `client-project-writeable` cannot set it (kleer-v1.xsd `client-project-readable`).
    """

    rate_limit: int = 5
    new_project_status: str = "Open"

    def __post_init__(self) -> None:
        if self.rate_limit < 1:
            raise ValueError(f"rate_limit has value {self.rate_limit!r}; expected >= 1")
        if self.new_project_status not in ("Draft", "Open", "Closed"):
            raise ValueError(f"new_project_status has value {self.new_project_status!r}; "
                             "expected Draft, Open or Closed")
