from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from verification.admin_statistics import statistics_view
from verification.api.metrics import metrics_view
from verification.api.views import HealthView, JWKSView

urlpatterns = [
    path(
        "admin/statistics/",
        admin.site.admin_view(statistics_view),  # staff only, like the rest of the admin
        name="admin-statistics",
    ),
    path("admin/", admin.site.urls),
    path("api/auth/", include("verification.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("health/", HealthView.as_view(), name="health"),
    path(".well-known/jwks.json", JWKSView.as_view(), name="jwks"),
    path("metrics", metrics_view, name="metrics"),
]

handler404 = "verification.api.errors.not_found"
handler500 = "verification.api.errors.server_error"
