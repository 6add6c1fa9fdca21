"""A sandbox process that already knows N messages (for polling at scale).

The sandbox has no seeding endpoint, so this builds the same server the management command
builds, records N sends directly in its state (the first half already delivered, the
second half still pending), writes their request ids to a file, then serves.

    python -m benchmarks.seeded_sandbox --port 8025 --count 100000 --ids /tmp/ids.txt
"""

from __future__ import annotations

import argparse
import sys

from verification.sandbox import build_server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()

    server = build_server(
        port=args.port,
        latency_ms=args.latency_ms,
        balance=10**12,
        user=args.user,
        password=args.password,
    )
    state = server.state
    with open(args.ids, "w") as out:
        for index in range(args.count):
            if index in (0, args.count // 2):
                # First half final at once, second half pending for an hour.
                state.configure(delivery_delay=0 if index == 0 else 3600)
            message = state.record_send(
                to=f"7999{index:07d}", txt="Ваш код: 000000", sender="", tag="", hidden="",
                login="user:" + args.user,
            )  # fmt: skip
            assert message is not None
            out.write(message.request_id + "\n")
    print("seeded", args.count, flush=True)
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
