from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from verification.admin_statistics import statistics_view
from verification.api.metrics import metrics_view
from verification.api.views import HealthView, JWKSView

READ_ONLY = ["get", "head"]

urlpatterns = [
    path(
        "admin/statistics/",
        admin.site.admin_view(statistics_view),  # staff only, like the rest of the admin
        name="admin-statistics",
    ),
    path("admin/", admin.site.urls),
    path("api/auth/", include("verification.api.urls")),
    # GET only: the Swagger page's HTML renderer has no template for an OPTIONS answer (a 500).
    path("api/schema/", SpectacularAPIView.as_view(http_method_names=READ_ONLY), name="schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", http_method_names=READ_ONLY),
        name="docs",
    ),
    path("health/", HealthView.as_view(), name="health"),
    path(".well-known/jwks.json", JWKSView.as_view(), name="jwks"),
    path("metrics", metrics_view, name="metrics"),
]

handler404 = "verification.api.errors.not_found"
handler500 = "verification.api.errors.server_error"
