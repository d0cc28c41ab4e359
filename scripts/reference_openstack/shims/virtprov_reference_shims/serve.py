"""Serve one OpenStack WSGI application with gunicorn, keeping the services' argv clean.

Keystone, Nova and Neutron parse ``sys.argv`` with oslo.config when their application is
built, so gunicorn's own options must not be on the command line::

    python -m virtprov_reference_shims.serve keystone.wsgi.api:application 127.0.0.1:19500
"""

from __future__ import annotations

import sys
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.util import import_app


class Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, target: str, bind: str, name: str) -> None:
        self.target = target
        self.options = {
            "bind": bind,
            "workers": 1,
            "worker_class": "gthread",
            "threads": 8,
            "timeout": 300,
            "graceful_timeout": 5,
            # Idle connections are kept as long as a client may keep them in its pool
            # (gunicorn's 2 s default closes them under a client about to reuse one: with
            # 50 clients at once, Nova's scheduler then lost its Placement requests).
            "keepalive": 75,
            "proc_name": name,
            "accesslog": "-",
            "errorlog": "-",
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return import_app(self.target)


def main() -> None:
    target, bind, name = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.argv = [name]
    Server(target, bind, name).run()


if __name__ == "__main__":
    main()
