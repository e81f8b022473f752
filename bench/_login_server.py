"""The service for the throttle benchmark: as `sealbox serve` runs it, or with no throttle.

``--no-throttle`` swaps the runtime's throttle for one that never counts or refuses:
the anchor that shows what the atomic throttle costs a login. ``--redis URL`` (with
``--redis-prefix``) keeps the counters, and the revocation lists, in Redis, as
several workers do.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from sealbox.accounts.throttle import Attempt
from sealbox.service.app import create_app
from sealbox.service.connection import connection_class
from sealbox.service.runtime import Runtime
from sealbox.service.serve import prepare, uvicorn_options
from sealbox.service.settings import ServiceSettings


class NoThrottle:
    async def acquire(self, limits: object, window: int) -> Attempt:
        return Attempt(0)

    async def settle(
        self, attempt: object = None, *, clear: object = (), give_back: object = ()
    ) -> None:
        return None

    async def close(self) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--no-throttle", action="store_true")
    parser.add_argument("--redis")
    parser.add_argument("--redis-prefix", default="sealbox-bench:")
    args = parser.parse_args()
    shared = {"redis_url": args.redis, "redis_prefix": args.redis_prefix} if args.redis else {}
    # Limits above the load: 8 logins in flight for one account must not be refused.
    # mypy builds the settings' __init__ from the fields (pydantic's dataclass_transform),
    # without the _env_file that BaseSettings.__init__ takes.
    settings = ServiceSettings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=args.data_dir,
        port=args.port,
        password_profile="test",
        throttle_user_attempts=1000,
        throttle_address_attempts=1000,
        **shared,
    )
    prepare(settings)
    if args.no_throttle:
        opened = Runtime.open

        async def open_without_throttle(s: ServiceSettings) -> Runtime:
            runtime = await opened(s)
            runtime.throttle = NoThrottle()
            return runtime

        # mypy sees Runtime.open as the bound classmethod, not as the descriptor on the class
        # that the staticmethod replaces; calls through the class behave the same.
        Runtime.open = staticmethod(open_without_throttle)  # type: ignore[assignment]
    config = uvicorn.Config(
        create_app(settings),
        http=connection_class(settings),
        **uvicorn_options(settings, log_level="warning"),
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
