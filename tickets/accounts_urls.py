from django.urls import path

from tickets.views import accounts

app_name = "accounts"
urlpatterns = [
    path("login/", accounts.login_view, name="login"),
    path("logout/", accounts.logout_view, name="logout"),
    path("signup/", accounts.signup, name="signup"),
    path("signup/sent/", accounts.signup_done, name="signup_done"),
    path("verify/resend/", accounts.verify_resend, name="verify_resend"),
    path("verify/<str:token>/", accounts.verify_email, name="verify_email"),
    path("preferences/", accounts.preferences, name="preferences"),
    path("password/change/", accounts.PasswordChangeView.as_view(), name="password_change"),
    path("password/reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", accounts.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password/reset/done/", accounts.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
