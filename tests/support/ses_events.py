"""SES bounce, complaint and delivery notifications inside the SNS event Lambda receives, in the
shapes AWS documents them (Amazon SES developer guide: "Amazon SNS notification examples for
Amazon SES" and "Examples of event data that Amazon SES publishes to Amazon SNS"; Lambda's SNS
event: Records[].Sns with the message as a JSON string).

Two shapes: "identity" (notifications set on a verified identity: "notificationType") and
"event" (a configuration set's event destination: "eventType", with mail.tags).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

TOPIC_ARN = "arn:aws:sns:eu-west-2:123456789012:feedforward-mail-events"
SOURCE = "FeedForward <stories@feedforward.example>"


def sns_event(*messages: dict[str, Any] | str) -> dict[str, Any]:
    """A Lambda SNS event with one record per message (a dict is sent as JSON, a str as it is)."""
    return {"Records": [sns_record(m) for m in messages]}


def sns_record(message: dict[str, Any] | str) -> dict[str, Any]:
    message_id = str(uuid.uuid4())
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{TOPIC_ARN}:{uuid.uuid4()}",
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": TOPIC_ARN,
            "Subject": None,
            "Message": message if isinstance(message, str) else json.dumps(message),
            "Timestamp": "2026-11-26T10:00:01.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
            "SigningCertUrl": "https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
            "UnsubscribeUrl": f"https://sns.eu-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={TOPIC_ARN}:{message_id}",
            "MessageAttributes": {},
        },
    }


def _mail(destination: list[str], shape: str) -> dict[str, Any]:
    mail: dict[str, Any] = {
        "timestamp": "2026-11-26T09:59:58.012Z",
        "source": SOURCE,
        "sourceArn": "arn:aws:ses:eu-west-2:123456789012:identity/feedforward.example",
        "sourceIp": "192.0.2.0",
        "sendingAccountId": "123456789012",
        "messageId": "0102019b6a2f1c2d-5f0e8a1b-3c4d-4e5f-9a8b-7c6d5e4f3a2b-000000",
        "destination": destination,
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": SOURCE},
            {"name": "To", "value": ", ".join(destination)},
            {"name": "Subject", "value": "New story about Ward 7 (Acute Medicine): Kind nurses"},
            {"name": "MIME-Version", "value": "1.0"},
            {"name": "Content-Type", "value": 'multipart/alternative; boundary="===============1234567890=="'},
        ],
        "commonHeaders": {
            "from": [SOURCE],
            "to": destination,
            "messageId": "0102019b6a2f1c2d-5f0e8a1b-3c4d-4e5f-9a8b-7c6d5e4f3a2b-000000",
            "subject": "New story about Ward 7 (Acute Medicine): Kind nurses",
        },
    }
    if shape == "event":
        mail["tags"] = {
            "ses:configuration-set": ["feedforward"],
            "ses:source-ip": ["192.0.2.0"],
            "ses:from-domain": ["feedforward.example"],
            "ses:caller-identity": ["feedforward-mail-worker"],
        }
    return mail


def _top(kind: str, shape: str) -> dict[str, Any]:
    return {"eventType": kind} if shape == "event" else {"notificationType": kind}


def bounce(
    addresses: list[str], bounce_type: str = "Permanent", sub_type: str = "General", shape: str = "identity"
) -> dict[str, Any]:
    recipients = []
    for a in addresses:
        r: dict[str, Any] = {"emailAddress": a}
        if bounce_type == "Permanent":
            r |= {"action": "failed", "status": "5.1.1", "diagnosticCode": f"smtp; 550 5.1.1 <{a}>... User unknown"}
        elif bounce_type == "Transient":
            r |= {"action": "delayed", "status": "4.2.2", "diagnosticCode": "smtp; 452 4.2.2 Mailbox full"}
        recipients.append(r)
    return _top("Bounce", shape) | {
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": sub_type,
            "bouncedRecipients": recipients,
            "timestamp": "2026-11-26T10:00:00.237Z",
            "feedbackId": "0102019b6a2f1c2d-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
            "remoteMtaIp": "192.0.2.10",
            "reportingMTA": "dsn; a8-70.smtp-out.eu-west-2.amazonses.com",
        },
        "mail": _mail(addresses, shape),
    }


def complaint(addresses: list[str], shape: str = "identity") -> dict[str, Any]:
    return _top("Complaint", shape) | {
        "complaint": {
            "userAgent": "AnyCompany Feedback Loop (V0.01)",
            "complainedRecipients": [{"emailAddress": a} for a in addresses],
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2026-11-26T10:00:00.000Z",
            "timestamp": "2026-11-26T10:00:00.623Z",
            "feedbackId": "0102019b6a2f1c2d-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
        },
        "mail": _mail(addresses, shape),
    }


def delivery(addresses: list[str], shape: str = "identity") -> dict[str, Any]:
    return _top("Delivery", shape) | {
        "mail": _mail(addresses, shape),
        "delivery": {
            "timestamp": "2026-11-26T10:00:00.184Z",
            "processingTimeMillis": 546,
            "recipients": addresses,
            "smtpResponse": "250 ok:  Message 64111812 accepted",
            "reportingMTA": "a8-70.smtp-out.eu-west-2.amazonses.com",
            "remoteMtaIp": "192.0.2.10",
        },
    }
