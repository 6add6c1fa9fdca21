from django.urls import path

from verification.api import views

app_name = "verification"

urlpatterns = [
    path("send-code/", views.SendCodeView.as_view(), name="send-code"),
    path("verify-code/", views.VerifyCodeView.as_view(), name="verify-code"),
    path(
        "verifications/<uuid:verification_id>/",
        views.VerificationDetailView.as_view(),
        name="verification-detail",
    ),
]
