from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from framework.middleware import respond_to_nul_bytes

        from . import schema  # noqa: F401 - registers the token scheme with drf-spectacular
        from .problems import nul_problem

        # The API answers every error as problem details, the NUL guard's 400 too.
        respond_to_nul_bytes("/api/", nul_problem)
