from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from verification.api.views import HealthView, JWKSView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/", include("verification.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("health/", HealthView.as_view(), name="health"),
    path(".well-known/jwks.json", JWKSView.as_view(), name="jwks"),
]

handler404 = "verification.api.errors.not_found"
handler500 = "verification.api.errors.server_error"
