from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data set and accounts: `generate_demo` (O*NET-scale data) and `create_demo_accounts`."""

    name = "demo"
    verbose_name = "Demo data"
