"""Creates every AWS resource FeedForward uses, on the emulator (or under moto's mock_aws in tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib.store import TABLE_DEFINITION, TTL_ATTRIBUTE

REGION = "eu-west-2"
TABLE = "feedforward"
BUCKET = "feedforward-site"
RENDER_QUEUE = "feedforward-render"
MAIL_QUEUE = "feedforward-mail"
DELIVERY_QUEUE = "feedforward-deliveries"  # partners' webhooks (chalicelib/webhooks.py)
SEARCH_QUEUE = "feedforward-search.fifo"  # FIFO, as on AWS; no delay here (FF_SEARCH_DEBOUNCE_SECONDS=0)
MAIL_EVENTS_TOPIC = "feedforward-mail-events"  # SES bounces and complaints (SNS) -> on_mail_event
# Not a secret: it seals the demo partners' secrets in a throwaway emulator (FF_WEBHOOK_SECRET_KEY).
LOCAL_WEBHOOK_KEY = "bG9jYWwtb25seS13ZWJob29rLXNlYWxpbmcta2V5ISE="
MAIL_FROM_ADDRESS = "stories@feedforward.example"
MAIL_FROM = f"FeedForward <{MAIL_FROM_ADDRESS}>"
MODERATOR_GROUP = "moderators"
DEMO_MODERATOR = {"username": "moderator@feedforward.example", "password": "Moderate-2026!", "name": "Demo Moderator"}
# A moderator an admin has just created (temporary password, no authenticator app yet): signing in
# as them walks the first sign-in on a pool that requires MFA (new password, then MFA_SETUP).
NEW_MODERATOR = {"username": "new.moderator@feedforward.example", "password": "Welcome-2026!", "name": "New Moderator"}
# The moderators' pool as infra/template.yaml makes it on AWS.
PASSWORD_POLICY = {
    "MinimumLength": 12,
    "RequireLowercase": True,
    "RequireUppercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": 3,
}


@dataclass
class Resources:
    table: str
    stream_arn: str
    bucket: str
    render_queue_url: str
    mail_queue_url: str
    render_dlq_url: str
    mail_dlq_url: str
    user_pool_id: str
    client_id: str
    mail_events_topic_arn: str = ""
    search_queue_url: str = ""
    search_dlq_url: str = ""
    delivery_queue_url: str = ""
    delivery_dlq_url: str = ""

    def environment(self, site_url: str, api_url: str, endpoint: str | None) -> dict[str, str]:
        """The FF_ settings that point the app at these resources."""
        env = {
            "FF_TABLE_NAME": self.table,
            "FF_SITE_BUCKET": self.bucket,
            "FF_RENDER_QUEUE_URL": self.render_queue_url,
            "FF_MAIL_QUEUE_URL": self.mail_queue_url,
            "FF_SEARCH_QUEUE_URL": self.search_queue_url,
            "FF_SEARCH_DEBOUNCE_SECONDS": "0",  # search finds a story as soon as it is published
            "FF_MAIL_FROM": MAIL_FROM,
            "FF_MAIL_RETRY_SECONDS": "0",  # the pump redelivers a failed job itself
            "FF_SITE_URL": site_url,
            "FF_API_URL": api_url,
            "FF_COGNITO_REGION": REGION,
            "FF_COGNITO_USER_POOL_ID": self.user_pool_id,
            "FF_COGNITO_CLIENT_ID": self.client_id,
            "FF_TABLE_STREAM_ARN": self.stream_arn,
            "FF_MAIL_EVENTS_TOPIC": MAIL_EVENTS_TOPIC,
            "FF_DELIVERY_QUEUE_URL": self.delivery_queue_url,
            # Partners' secrets are sealed under this key on one machine; on AWS, by KMS (docs/partners.md).
            "FF_WEBHOOK_SECRET_KEY": LOCAL_WEBHOOK_KEY,
            # The demo source is served from 127.0.0.1, which a lead's source may not be on AWS (core/addresses.py).
            "FF_SOURCES_ALLOW_LOCAL": "1",
        }
        if endpoint:
            env["FF_COGNITO_JWKS_URL"] = f"{endpoint}/{self.user_pool_id}/.well-known/jwks.json"
        return env


MAX_RECEIVES = {MAIL_QUEUE: "12", DELIVERY_QUEUE: "10"}  # as infra/template.yaml's


def create_all(session: Any, mfa_required: bool = False) -> Resources:
    """Create the table (with stream and TTL), bucket, queues with DLQs, SES identity and moderator pool.

    mfa_required: make the pool as on AWS (an authenticator app required, 12-character passwords).
    moto checks the codes only when MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP=true in the emulator's
    process, and it asks for the app's setup only after a temporary password is changed: a
    moderator whose password an admin set for good (DEMO_MODERATOR) still signs in with it alone.
    """
    ddb = session.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName=TABLE, **TABLE_DEFINITION)
    ddb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
    stream_arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]

    s3 = session.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})

    sqs = session.client("sqs", region_name=REGION)
    urls = {}
    for name in (RENDER_QUEUE, MAIL_QUEUE, DELIVERY_QUEUE):
        dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": "30",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES.get(name, "5")}
                ),
            },
        )["QueueUrl"]
        urls[name] = (url, dlq)
    fifo = {"FifoQueue": "true"}
    dlq = sqs.create_queue(QueueName=SEARCH_QUEUE.replace(".fifo", "-dlq.fifo"), Attributes=fifo)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=SEARCH_QUEUE,
        Attributes={
            **fifo,
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        },
    )["QueueUrl"]
    urls[SEARCH_QUEUE] = (url, dlq)

    ses = session.client("ses", region_name=REGION)
    ses.verify_email_identity(EmailAddress=MAIL_FROM_ADDRESS)
    topic_arn = session.client("sns", region_name=REGION).create_topic(Name=MAIL_EVENTS_TOPIC)["TopicArn"]

    idp = session.client("cognito-idp", region_name=REGION)
    pool = idp.create_user_pool(
        PoolName="feedforward-moderators",
        MfaConfiguration="OFF",
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        **({"Policies": {"PasswordPolicy": PASSWORD_POLICY}} if mfa_required else {}),
    )["UserPool"]["Id"]
    if mfa_required:
        idp.set_user_pool_mfa_config(
            UserPoolId=pool, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
        )
    client_id = idp.create_user_pool_client(
        UserPoolId=pool,
        ClientName="moderation-screen",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.create_group(UserPoolId=pool, GroupName=MODERATOR_GROUP)
    return Resources(
        table=TABLE,
        stream_arn=stream_arn,
        bucket=BUCKET,
        render_queue_url=urls[RENDER_QUEUE][0],
        mail_queue_url=urls[MAIL_QUEUE][0],
        render_dlq_url=urls[RENDER_QUEUE][1],
        mail_dlq_url=urls[MAIL_QUEUE][1],
        user_pool_id=pool,
        client_id=client_id,
        mail_events_topic_arn=topic_arn,
        search_queue_url=urls[SEARCH_QUEUE][0],
        search_dlq_url=urls[SEARCH_QUEUE][1],
        delivery_queue_url=urls[DELIVERY_QUEUE][0],
        delivery_dlq_url=urls[DELIVERY_QUEUE][1],
    )


def create_moderator(
    session: Any, res: Resources, username: str, password: str, name: str, group: str = MODERATOR_GROUP
) -> None:
    idp = session.client("cognito-idp", region_name=REGION)
    idp.admin_create_user(
        UserPoolId=res.user_pool_id,
        Username=username,
        UserAttributes=[
            {"Name": "email", "Value": username},
            {"Name": "name", "Value": name},
            {"Name": "email_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )
    idp.admin_set_user_password(UserPoolId=res.user_pool_id, Username=username, Password=password, Permanent=True)
    if group:
        idp.admin_add_user_to_group(UserPoolId=res.user_pool_id, Username=username, GroupName=group)


def create_new_moderator(
    session: Any, res: Resources, username: str, temporary_password: str, name: str, group: str = MODERATOR_GROUP
) -> None:
    """A moderator as an admin creates one in the console: a temporary password, changed at the first sign-in."""
    idp = session.client("cognito-idp", region_name=REGION)
    idp.admin_create_user(
        UserPoolId=res.user_pool_id,
        Username=username,
        TemporaryPassword=temporary_password,
        UserAttributes=[
            {"Name": "email", "Value": username},
            {"Name": "name", "Value": name},
            {"Name": "email_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )
    idp.admin_add_user_to_group(UserPoolId=res.user_pool_id, Username=username, GroupName=group)


def enrol_authenticator(session: Any, res: Resources, username: str, password: str, key_code: Any) -> None:
    """Add an authenticator app to a moderator's account, as they would at their first sign-in
    (MFA_SETUP: the app's key, then its first code). From then on the pool asks every sign-in for
    the app's code. `key_code(key)` gives the code an app holding `key` shows now (local.totp.code)."""
    idp = session.client("cognito-idp", region_name=REGION)
    first = idp.initiate_auth(
        ClientId=res.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    if first.get("ChallengeName") == "MFA_SETUP":
        key = idp.associate_software_token(Session=first["Session"])
        done = idp.verify_software_token(Session=key["Session"], UserCode=key_code(key["SecretCode"]))
        idp.respond_to_auth_challenge(
            ClientId=res.client_id,
            ChallengeName="MFA_SETUP",
            Session=done["Session"],
            ChallengeResponses={"USERNAME": username},
        )
    else:  # an emulator that does not enforce the pool's MFA: the same, from the signed-in session
        access = first["AuthenticationResult"]["AccessToken"]
        key = idp.associate_software_token(AccessToken=access)
        idp.verify_software_token(AccessToken=access, UserCode=key_code(key["SecretCode"]))
    idp.admin_set_user_mfa_preference(
        UserPoolId=res.user_pool_id,
        Username=username,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
