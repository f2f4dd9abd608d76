"""Notifications as the settings configure them: which channels the planner queues for (in-app
always; e-mail, SMS and the 12345 webhook only when their server is configured) and the dispatcher
with the channel adapters that deliver them."""
from __future__ import annotations

from yijianshi.engine.notifications.channels import Channel, Email, HttpSmsGateway, InApp, RevisitWatch, Sms, Webhook
from yijianshi.engine.notifications.dispatcher import Dispatcher
from yijianshi.engine.notifications.notices import Notices
from yijianshi.engine.settings import Settings


def configure(notices: Notices, settings: Settings) -> None:
    """Turn on the channels the settings configure (in place: the command runner holds `notices`)."""
    notices.email = bool(settings.smtp_host)
    notices.sms = bool(settings.sms_gateway_url)
    notices.hotline_url = settings.hotline_webhook_url
    notices.revisit_working_days = settings.hotline_revisit_working_days


def dispatcher(engine, settings: Settings) -> Dispatcher:
    """The dispatcher of an engine, with a channel for each kind of row the settings let be queued."""
    channels: dict[str, Channel] = {"inapp": InApp(engine.db, engine.clock), "revisit": RevisitWatch(engine.db, engine.clock)}
    if settings.smtp_host:
        channels["email"] = Email(settings.smtp_host, settings.smtp_port, settings.smtp_sender, settings.smtp_user,
                                  settings.smtp_password, settings.smtp_starttls)
    if settings.sms_gateway_url:
        channels["sms"] = Sms(HttpSmsGateway(settings.sms_gateway_url, settings.sms_gateway_token))
    if settings.hotline_webhook_url and settings.hotline_webhook_secret:
        channels["webhook"] = Webhook(settings.hotline_webhook_secret)
    return Dispatcher(engine.db, engine.clock, channels, max_attempts=settings.notify_max_attempts,
                      backoff_s=settings.notify_backoff_seconds)
