"""`python manage.py greensms_sandbox`: a loopback GreenSMS look-alike (SPEC §6)."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from verification.sandbox import PRICE_PER_SMS, build_server
from verification.sandbox.state import ERROR_KINDS, ConfigError


class Command(BaseCommand):
    help = "Serve a GreenSMS sandbox; point GREEN_SMS_BASE_URL at it."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8025)
        parser.add_argument("--latency-ms", type=int, default=0)
        parser.add_argument("--error-rate", type=float, default=0.0)
        parser.add_argument("--error-kind", choices=ERROR_KINDS, default="http500")
        parser.add_argument("--delivery-delay", type=float, default=2.0, help="seconds")
        parser.add_argument("--final-status", type=int, default=1)
        parser.add_argument(
            "--seed", type=int, default=None, help="seed the fault dice (reproducible faults)"
        )
        parser.add_argument("--balance", default="1000")
        parser.add_argument("--user", default=None, help="omit to accept any non-empty login")
        parser.add_argument("--password", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        if bool(options["user"]) != bool(options["password"]):
            raise CommandError("--user and --password go together")
        try:
            server = build_server(
                host=options["host"],
                port=options["port"],
                latency_ms=options["latency_ms"],
                error_rate=options["error_rate"],
                error_kind=options["error_kind"],
                delivery_delay=options["delivery_delay"],
                final_status=options["final_status"],
                seed=options["seed"],
                balance=options["balance"],
                user=options["user"],
                password=options["password"],
                log_sends=True,
            )
        except (ConfigError, ArithmeticError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"cannot listen: {exc.strerror}") from exc
        host, port = server.bound_address()
        self.stdout.write(
            f"GreenSMS sandbox on http://{host}:{port} (price {PRICE_PER_SMS} per SMS); "
            "Ctrl-C to stop"
        )
        self.stdout.flush()
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
