from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from roles.workflow import decided

        from .services import notify_decided

        # Told by the state machine after every reviewer decision, inside the decision's transaction.
        decided.connect(notify_decided, dispatch_uid="notifications.notify_decided")
        from roles.workflow.samples import settled

        from .services import notify_settled

        settled.connect(notify_settled, dispatch_uid="notifications.notify_settled")
        from roles.soc import suggested

        from .services import notify_suggested

        # Told by the task worker when the SOC suggestions a curator asked for are made.
        suggested.connect(notify_suggested, dispatch_uid="notifications.notify_suggested")
