"""The project's URLs plus the two comparison endpoints (benchmark-only).

`BENCH_CODE_CACHE=off` in the environment replaces the Redis code cache with a no-op in
this process (the app has no switch for it yet); see benchmarks/README.md.
"""

import os

from django.urls import path

from benchmarks import bench_views
from project.urls import handler404, handler500
from project.urls import urlpatterns as project_urlpatterns

if os.environ.get("BENCH_CODE_CACHE", "on") == "off":
    bench_views.disable_code_cache()

urlpatterns = [
    *project_urlpatterns,
    path("bench/bare/", bench_views.BareView.as_view()),
    path("bench/sync-send/", bench_views.SyncSendView.as_view()),
    path("bench/insert-only/", bench_views.InsertOnlyView.as_view()),
]

__all__ = ["handler404", "handler500", "urlpatterns"]
