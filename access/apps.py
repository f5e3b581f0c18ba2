from django.apps import AppConfig


class AccessConfig(AppConfig):
    """Who may do what: security groups, API tokens, rights, and the API's error envelope.
    The layer every other app builds on; it imports none of them."""

    name = "access"
    default_auto_field = "django.db.models.BigAutoField"
