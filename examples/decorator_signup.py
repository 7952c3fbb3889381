"""Decorator style: a signup that waits (durably, for free) for the user to confirm their
e-mail through a callback, then sends a welcome and, three days later, a tips mail.

    durable run examples/decorator_signup.py:handler --input '{"email": "ana@example.com"}'
    durable callback succeed CALLBACK_ID --result '{"confirmed": true}'
"""

from __future__ import annotations

import json
from typing import Any

from durable_core import DurableContext
from durable_decorator import durable_execution


def send_mail(to: str, template: str) -> str:
    """Stands in for a mail API; returns the message id."""
    return f"{template}:{to}"


@durable_execution
def handler(event: dict[str, Any], ctx: DurableContext) -> dict[str, Any]:
    email = str(event["email"])
    account = ctx.step(lambda _: f"acct-{email.split('@')[0]}", name="create-account")
    confirmation = ctx.create_callback(name="confirm-email")
    ctx.step(lambda _: send_mail(email, f"confirm/{confirmation.callback_id}"), name="ask")
    answer = json.loads(confirmation.result() or "{}")
    if not answer.get("confirmed"):
        return {"account": account, "status": "unconfirmed"}
    ctx.step(lambda _: send_mail(email, "welcome"), name="welcome")
    ctx.wait(3 * 24 * 60 * 60, name="three-days")
    ctx.step(lambda _: send_mail(email, "tips"), name="tips")
    return {"account": account, "status": "active"}
