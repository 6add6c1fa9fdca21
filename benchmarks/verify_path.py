"""5. Verify path: verify-code with and without the Redis code cache.

Two gunicorns run the Procfile's `web` line side by side: one as shipped, one with
`VERIFICATION_CODE_CACHE=False` (the app's switch for the Redis code cache). Codes are
pre-created as the service stores them (seed, keyed hash, cache entry). wrk at 32
connections posts either a wrong code for a random phone out of 5,000 (every answer should
be 400), or each correct code once from a fresh pool per run (every answer should be 200).
Runs alternate; medians are shown.

    .venv/bin/python -m benchmarks.verify_path
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import databases, harness, load, processes, procfile, reporting

CONNECTIONS = 32
WRONG_PHONES = 5000
# Correct codes per run: more than one run can use (a code is good once).
POOL = 4000 if harness.QUICK else 15000

LUA_VERIFY = """
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  entries = {}
  for line in io.lines(args[1]) do
    local phone, code = line:match("^(%S+) (%S+)$")
    table.insert(entries, {phone, code})
  end
  nthreads = tonumber(args[2])
  sequential = args[3] == "sequential"
  expected = tonumber(args[4])
  index = tid + 1
  unexpected = 0
  math.randomseed(os.time() * 1000 + tid * 7919)
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local entry
  if sequential then
    entry = entries[((index - 1) % #entries) + 1]
    index = index + nthreads
  else
    entry = entries[math.random(1, #entries)]
  end
  local body = string.format('{"phone": "%s", "code": "%s"}', entry[1], entry[2])
  return wrk.format(nil, nil, nil, body)
end
response = function(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("unexpected")
  end
  io.write(string.format("UNEXPECTED %d\\n", total))
end
"""


def run() -> tuple[str, dict[str, Any]]:
    databases.setup_django()
    databases.reset_state()
    load.lua_script("verify", LUA_VERIFY)
    ports = {"on": processes.free_port(), "off": processes.free_port()}
    webs = [
        procfile.start_web(ports["on"], name="web-cache-on"),
        procfile.start_web(ports["off"], name="web-cache-off", VERIFICATION_CODE_CACHE="False"),
    ]
    try:
        wrong = _codes("wrong", WRONG_PHONES, "+79991", wrong=True)
        pools = {
            (cache, rep): _codes(
                f"pool-{cache}-{rep}", POOL, f"+7999{2 + 2 * rep + (cache == 'off')}"
            )
            for rep in range(harness.REPS)
            for cache in ("on", "off")
        }
        for port in ports.values():  # warm up (and leave no trace in the pools)
            _wrk(port, wrong, "random", 400, seconds=2)
        rep_of = {"on": 0, "off": 0}

        def correct(cache: str) -> Any:
            def go() -> Any:
                pool = pools[(cache, rep_of[cache])]
                rep_of[cache] += 1
                return _wrk(ports[cache], pool, "sequential", 200)

            return go

        results = reporting.alternate(
            {
                "wrong code, cache on (shipped)": lambda: _wrk(ports["on"], wrong, "random", 400),
                "wrong code, cache off": lambda: _wrk(ports["off"], wrong, "random", 400),
                "correct code, cache on (shipped)": correct("on"),
                "correct code, cache off": correct("off"),
            }
        )
    finally:
        for web in webs:
            processes.stop(web)
        databases.reset_state()
    return _report(results)


def _codes(name: str, count: int, prefix: str, *, wrong: bool = False) -> Path:
    """`count` live codes on distinct phones, stored and cached as the service does it;
    returns a file of "phone code" lines (the code is "000000" for the wrong-code set)."""
    from django.utils import timezone

    from verification import codes
    from verification.cache import verification_cache
    from verification.models import SMSVerification
    from verification.redis_client import get_redis

    now = timezone.now()
    lines, rows, models = [], [], []
    for index in range(count):
        # An hour: every code outlives the run.
        material = codes.new_material(now=now, ttl=3600)
        phone = f"{prefix}{index:06d}"  # prefix "+7999N": distinct, valid numbers
        rows.append(databases.row(phone=phone, status="sent", sent_at=now, **material.row_fields()))
        models.append(SMSVerification(phone=phone, **material.row_fields()))
        lines.append(f"{phone} {'000000' if wrong else material.code}")
    databases.copy_rows(rows)
    # The entry send-code writes (in its rate-limit round trip), written here directly.
    with get_redis().pipeline(transaction=False) as pipe:
        for model in models:
            key, value, ttl = verification_cache.entry(model.phone, model)
            pipe.set(key, value, ex=ttl)
        pipe.execute()
    path = harness.WORK_DIR / f"{name}.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _wrk(port: int, entries: Path, mode: str, expected: int, seconds: int | None = None) -> Any:
    argv_tail = [str(entries), "2", mode, str(expected)]
    result = load.run_wrk(
        f"http://127.0.0.1:{port}/api/auth/verify-code/",
        script=harness.WORK_DIR / "verify.lua",
        connections=CONNECTIONS,
        seconds=seconds or harness.WRK_SECONDS,
        script_args=argv_tail,
    )
    result.errors = _unexpected(result.raw)
    return result


def _unexpected(output: str) -> int:
    for line in output.splitlines():
        if line.startswith("UNEXPECTED "):
            return int(line.split()[1])
    return -1


def _report(results: dict[str, list[Any]]) -> tuple[str, dict[str, Any]]:
    rows, figures = [], {}
    for name, runs in results.items():
        rps = reporting.median(r.rps for r in runs)
        p99 = reporting.median(r.p99_ms for r in runs)
        figures[name] = {"rps": rps, "p99_ms": p99}
        rows.append(
            [
                name,
                rps,
                reporting.median(r.p50_ms for r in runs),
                p99,
                sum(r.errors for r in runs),
                sum(r.requests for r in runs),
            ]
        )
    text = reporting.table(
        ["verify-code", "req/s", "p50 ms", "p99 ms", "unexpected answers", "requests"],
        rows,
        title=(
            f"5. Verify path ({CONNECTIONS} connections, 4 sync workers each; medians of "
            f"{harness.REPS} alternated runs of {harness.WRK_SECONDS} s; wrong codes expect "
            "400, correct codes 200)"
        ),
    )
    return text, figures


def main() -> None:
    with processes.session():
        print(run()[0])


if __name__ == "__main__":
    main()
