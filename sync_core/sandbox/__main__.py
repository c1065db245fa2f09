"""`python -m sync_core.sandbox [--products N ...]`: serve the sandbox in the foreground."""

from __future__ import annotations

import argparse
import dataclasses

from sync_core.sandbox.catalogue import SandboxConfig
from sync_core.sandbox.server import serve


def main(argv: list[str] | None = None) -> None:
    """Parse one flag per SandboxConfig field (e.g. --fault-rate 0.05) and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m sync_core.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8360)
    kinds = {"int": int, "float": float, "str": str}
    for f in dataclasses.fields(SandboxConfig):
        flag = "--" + f.name.replace("_", "-")
        parser.add_argument(flag, type=kinds[str(f.type)], default=f.default, dest=f.name)
    args = vars(parser.parse_args(argv))
    host, port = args.pop("host"), args.pop("port")
    serve(SandboxConfig(**args), host=host, port=port)


if __name__ == "__main__":
    main()
