from django.apps import AppConfig


class EnvironmentsConfig(AppConfig):
    name = "environments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from environments.selectors import environment_links, variable_names
        from workflows import environment_chain

        environment_chain.provide(chain=environment_links, variable_names=variable_names)
