"""The project's URLs plus the comparison endpoints (benchmark-only)."""

from django.urls import path

from benchmarks import bench_views
from project.urls import handler404, handler500
from project.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    *project_urlpatterns,
    path("bench/bare/", bench_views.BareView.as_view()),
    path("bench/sync-send/", bench_views.SyncSendView.as_view()),
    path("bench/insert-only/", bench_views.InsertOnlyView.as_view()),
    path("bench/durable-floor/", bench_views.DurableFloorView.as_view()),
    path("bench/round-trips-floor/", bench_views.RoundTripsFloorView.as_view()),
    path("bench/one-round-trip-floor/", bench_views.OneRoundTripFloorView.as_view()),
]

__all__ = ["handler404", "handler500", "urlpatterns"]
