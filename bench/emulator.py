"""The local stack's emulator in a process of its own: python -m bench.emulator PORT.

moto's Query reads one partition here, as DynamoDB does (bench.env.fast_moto).
Prints "ready" when it answers, and stops when its stdin closes (so it never outlives the bench).
"""

from __future__ import annotations

import sys


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from bench.env import fast_moto
    from local.run import start_emulator

    fast_moto()
    server = start_emulator(int(sys.argv[1]))
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
