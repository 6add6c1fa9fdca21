"""kombu's Redis transport, keeping one Redis client per channel (celeryconfig selects it).

kombu's channel builds a new `redis.Redis` for every command it sends outside its event
loop (`conn_or_acquire` -> `_create_client`): every publish, and in the worker every
message's two unacked-hash writes (on delivery and on ack). Building one costs ~0.17 ms of
CPU (redis-py fills a table of ~170 response callbacks each time), as much as the LPUSH
itself: about 40% of a publish from send-code and a tenth of a worker's CPU per send. A
client is only a handle on the channel's connection pool and is thread-safe, so the channel
keeps one per pool. Everything else is kombu's.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):  # type: ignore[misc]
    _reused_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            # The event loop's clients (BRPOP, pub/sub) are kombu's, made once per channel.
            return super()._create_client(asynchronous=True)  # type: ignore[misc]
        client = self._reused_client
        # A new pool (the channel reconnected) gets a new client: never a closed pool's.
        if client is None or client.connection_pool is not self.pool:
            client = self._reused_client = super()._create_client()  # type: ignore[misc]
        return client


class Transport(redis.Transport):  # type: ignore[misc]
    Channel = Channel
