"""The one-machine stack: `make run` (python -m local.run [--no-seed]).

Starts, all on 127.0.0.1 and with no AWS account:
  moto in server mode (DynamoDB with its stream, S3, SQS, SES, SNS, Cognito) and every resource;
  the moderators' pool as on AWS (an authenticator app required), with two demo moderators: one
  ready to sign in with a password and an authenticator app (the emulator's key; python -m local.totp
  gives its code), one at their first sign-in (new password, then the app);
  the service directory and the static pages;
  `chalice local` for the API (a subprocess);
  the event pump (a thread), which runs the stream, queue, SNS and scheduled handlers that
  chalice local does not (the daily digest at its time of day, UTC);
  the static site server and the mailbox (threads);
  the demo: staff subscriptions, stories submitted and moderated over HTTP as people would, and
  the conversation on them (read receipts, staff responses, author replies).
Then it prints the addresses and `Ready.`, and runs until Ctrl-C or SIGTERM.

Ports: FF_SITE_PORT (8080), FF_API_PORT (8000), FF_MAIL_PORT (8025), FF_AWS_PORT (4566).
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".local-state"
HOST = "127.0.0.1"
PORTS = (  # (name, env var, make variable, default)
    ("site", "FF_SITE_PORT", "SITE_PORT", 8080),
    ("API", "FF_API_PORT", "API_PORT", 8000),
    ("mailbox", "FF_MAIL_PORT", "MAIL_PORT", 8025),
    ("AWS emulator", "FF_AWS_PORT", "AWS_PORT", 4566),
)
API_READY_TIMEOUT = 60.0
QUIET_TIMEOUT = 420.0  # catching up after the seed takes two to three minutes here


class StartupError(RuntimeError):
    """A piece of the stack did not start; the message says which and where to look."""


class Shutdown(BaseException):
    """Raised in the main thread by SIGTERM (and turned from SIGINT), to stop everything cleanly."""


def say(line: str = "") -> None:
    print(line, flush=True)


# ---- ports --------------------------------------------------------------------------------------


def read_ports() -> dict[str, int]:
    ports = {}
    for _name, var, make_var, default in PORTS:
        raw = os.environ.get(var, "").strip() or str(default)
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise SystemExit(
                f"{var}={raw!r} is not a port number. Set {var} (or `make run {make_var}=...`) to 1-65535."
            )
        ports[var] = int(raw)
    if len(set(ports.values())) != len(ports):
        raise SystemExit(f"Each port must be different; got {', '.join(f'{k}={v}' for k, v in ports.items())}.")
    return ports


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As the servers themselves do: a port held only by closed connections (TIME_WAIT) is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(ports: dict[str, int]) -> None:
    problems = []
    for name, var, make_var, _ in PORTS:
        port = ports[var]
        if not port_is_free(port):
            problems.append(
                f"Port {port} ({name}) on {HOST} is already in use. Stop whatever is using it, or choose another port "
                f"with {var}={port + 1} (or `make run {make_var}={port + 1}`)."
            )
    if problems:
        raise SystemExit("\n".join(problems))


# ---- the pieces -------------------------------------------------------------------------------


def start_emulator(port: int) -> Any:
    from moto.server import ThreadedMotoServer

    class SerializedMotoServer(ThreadedMotoServer):
        """moto's threaded server, handling one request at a time.

        moto's backends are not thread-safe: with the API, the pump and the seeder calling at once,
        TransactWriteItems deep-copies a table while another request changes it and fails with
        "dictionary changed size during iteration". Connections still get a thread each (keep-alive
        works); only the application runs under a lock.
        """

        def _server_entry(self) -> None:
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                MotoRequestHandler,
                create_backend_app,
            )
            from werkzeug.serving import make_server

            app = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def serialized(environ: dict, start_response: Any) -> list[bytes]:
                with lock:
                    return list(app(environ, start_response))

            self._server = make_server(
                self._ip_address, self._port, serialized, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from local import moto_speed  # with moto's server: a Query reads its partition, a transaction copies little

    moto_speed.apply()
    from local import cognito_mfa  # the pool's MfaConfiguration ON is enforced, as on AWS

    cognito_mfa.apply()
    server = SerializedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    wait_for(lambda: _http_ok(f"http://{HOST}:{port}/moto-api/data.json"), 20, f"the AWS emulator on port {port}")
    return server


def aws_environment(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_DEFAULT_REGION": "eu-west-2",
        "AWS_REGION": "eu-west-2",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # nosec B310 - our own local servers
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_for(check: Callable[[], bool], timeout: float, what: str, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if not alive():
            raise StartupError(f"{what} stopped while starting.")
        time.sleep(0.2)
    raise StartupError(f"{what} did not answer within {timeout:.0f} s.")


def _detach_but_die_with_parent() -> None:
    """In the child, before exec: a new session, and SIGTERM when the parent dies (Linux only)."""
    os.setsid()
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: stop_process still stops it on every clean exit
        pass


def start_api(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    chalice = Path(sys.executable).parent / "chalice"
    cmd = [
        str(chalice) if chalice.exists() else "chalice",
        "local",
        "--stage",
        "local",
        "--host",
        HOST,
        "--port",
        str(port),
        # No reloader: it watches the whole repo, so its own log (and any edit) would restart it again and again.
        "--no-autoreload",
    ]
    log = open(log_path, "ab", buffering=0)
    # Its own session: a Ctrl-C in the terminal reaches us, and we stop chalice ourselves. If we are
    # killed outright (SIGKILL), Linux stops it too (parent-death signal), so no orphan keeps the port.
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_detach_but_die_with_parent,
    )
    log.close()
    return proc


def stop_process(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)  # the group we started: chalice and its reloader child
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


def make_pump(session: Any, resources: Any) -> Any:
    """The event pump, watched: it counts idle rounds so we can tell when it has gone quiet."""
    from app import app
    from local.moto_peek import MotoPeek
    from local.pump import Pump, chalice_invoker

    class WatchedPump(Pump):
        """Counts idle rounds (so we can tell when it has gone quiet), and can be paused.

        While the demo stories are seeded the pump is paused, so that the stream's records
        arrive in big batches, as with a Lambda batching window: the change handler then sends
        each page's render job once per batch instead of once per story. The stream goes first
        (a round that read records leaves the queues for the next one), and the render queue's
        backlog is taken whole, each distinct page rendered once (Pump.coalesce): catching up
        after the seed, a page that many changes touched is built once, from the final state.
        """

        idle_rounds = 0
        handled = 0  # stream records and queue messages handled so far
        _round = 0

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.paused = threading.Event()

        def stream_once(self) -> int:
            self._round = 0 if self.paused.is_set() else super().stream_once()
            return self._round

        def queues_once(self) -> int:
            if self.paused.is_set():
                self.idle_rounds = 0
                return 0
            if self._round:
                self.handled += self._round
                self.idle_rounds = 0
                return 0
            n = super().queues_once()
            self.handled += self._round + n
            if self._round + n == 0:
                self.idle_rounds += 1
            else:
                self.idle_rounds = 0
            return n

    # The emulator is a thread of this process: the pump looks at its memory before each call, so
    # that an idle stack does not spend a third of a core asking empty queues (local/moto_peek.py).
    pump = WatchedPump(session, resources, chalice_invoker(app), peek=MotoPeek())
    pump.coalesce.add(resources.render_queue_url)
    return pump


def daily_schedules(app: Any) -> list[tuple[str, int, int]]:
    """(handler, hour, minute) of each scheduled handler in app.py that runs once a day (UTC); hour -1
    for one that runs every hour at that minute (the sources' import, issue 21)."""
    from chalice.app import Cron, ScheduledEventConfig

    out = []
    for source in app.event_sources:
        cron = getattr(source, "schedule_expression", None)
        if isinstance(source, ScheduledEventConfig) and isinstance(cron, Cron):
            every_day = all(str(f) in ("*", "?") for f in (cron.day_of_month, cron.month, cron.day_of_week, cron.year))
            if isinstance(cron.minutes, int) and every_day and (isinstance(cron.hours, int) or cron.hours == "*"):
                out.append((source.name, cron.hours if isinstance(cron.hours, int) else -1, cron.minutes))
    return out


def queues_empty(sqs: Any, urls: list[str]) -> bool:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    for url in urls:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        if any(int(attrs.get(n, "0")) for n in names):
            return False
    return True


def wait_until_quiet(
    pump: Any, sqs: Any, resources: Any, thread: threading.Thread, timeout: float = QUIET_TIMEOUT
) -> bool:
    """Wait until the pump has had nothing to do for a while and both queues are empty."""
    from tqdm import tqdm

    deadline = time.monotonic() + timeout
    start = pump.handled
    with tqdm(
        desc="Event pump", unit=" events", file=sys.stderr, dynamic_ncols=True, disable=not sys.stderr.isatty()
    ) as bar:
        while time.monotonic() < deadline:
            bar.update(pump.handled - start - bar.n)
            if not thread.is_alive():
                return False
            if pump.idle_rounds >= 5 and queues_empty(
                sqs, [resources.render_queue_url, resources.mail_queue_url, resources.search_queue_url]
            ):
                return True
            time.sleep(0.2)
    return False


def directory_slugs() -> list[str]:
    """Every service in data/directory.json."""
    import json

    from chalicelib.directory import flatten

    return [i["slug"] for i in flatten(json.loads((ROOT / "data" / "directory.json").read_text(encoding="utf-8")))]


def missing_service_pages(s3: Any, bucket: str) -> list[str]:
    """Slugs of services in data/directory.json whose page is not in the bucket yet."""
    slugs = directory_slugs()
    have = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="services/"):
        have.update(o["Key"].split("/")[1] for o in page.get("Contents", []) if o["Key"].count("/") == 2)
    return [s for s in slugs if s not in have]


def write_env_file(path: Path, env: dict[str, str]) -> None:
    lines = [
        "# Written by `python -m local.run`: the settings of the running local stack.",
        "# Use with: python -m tools.ff --env-file FILE COMMAND, or in a shell: . FILE",
        "# (this file: " + str(path.relative_to(ROOT)) + ")",
    ]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---- the stack -------------------------------------------------------------------------------


DEMO_PARTNER_SERVICE = "northbridge-teaching-hospitals"


def register_demo_partner(hooks: Any, mailbox_url: str) -> dict[str, Any]:
    """One partner for a trust's events, whose endpoint is the mailbox's webhook receiver; the
    secret the registration shows once goes to the receiver, which checks every signature."""
    from chalicelib import wiring

    partner, secret = wiring.webhooks().register(
        DEMO_PARTNER_SERVICE, f"{mailbox_url}/webhooks/receive/demo", "Demo partner", by="make run"
    )
    hooks.add_receiver("demo", secret)
    return partner


def run(seed: bool = True) -> int:
    ports = read_ports()
    check_ports(ports)
    site_port, api_port, mail_port, aws_port = (ports[v] for _, v, _, _ in PORTS)
    endpoint = f"http://{HOST}:{aws_port}"
    site_url, api_url = f"http://{HOST}:{site_port}", f"http://{HOST}:{api_port}"
    os.chdir(ROOT)  # chalice's test client (the pump) and chalice local read .chalice/ from here
    STATE.mkdir(exist_ok=True)

    stop = threading.Event()
    cleanups: list[Callable[[], None]] = []

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
        raise Shutdown(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        say(f"Starting the AWS emulator on {endpoint} ...")
        os.environ.update(aws_environment(endpoint))
        # The emulator runs in this process: make its Cognito check authenticator codes.
        os.environ["MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"] = "true"
        # The pump runs the handlers in this process: keep their INFO lines out of the terminal
        # (set POWERTOOLS_LOG_LEVEL=INFO to see them). chalice local's own log keeps the stage's level.
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        emulator = start_emulator(aws_port)
        cleanups.append(emulator.stop)

        import boto3

        from chalicelib import wiring
        from chalicelib.core.jobs import RenderJob
        from local.resources import (
            DEMO_MODERATOR,
            NEW_MODERATOR,
            REGION,
            create_all,
            create_moderator,
            create_new_moderator,
            enrol_authenticator,
        )
        from local.totp import code, emulator_key

        session = boto3.Session(region_name=REGION)
        say("Creating the table, bucket, queues, mail identity and moderator pool ...")
        resources = create_all(session, mfa_required=True)
        create_moderator(
            session, resources, DEMO_MODERATOR["username"], DEMO_MODERATOR["password"], DEMO_MODERATOR["name"]
        )
        # The demo moderator has added FeedForward to an authenticator app (the emulator's one key).
        enrol_authenticator(session, resources, DEMO_MODERATOR["username"], DEMO_MODERATOR["password"], code)
        create_new_moderator(
            session, resources, NEW_MODERATOR["username"], NEW_MODERATOR["password"], NEW_MODERATOR["name"]
        )
        ff_env = resources.environment(site_url, api_url, endpoint)
        os.environ.update(ff_env)
        wiring.reset()
        write_env_file(STATE / f"stack-{aws_port}.env", aws_environment(endpoint) | ff_env)

        from tools import ff

        counts = ff.load_directory(ROOT / "data" / "directory.json", show_progress=sys.stderr.isatty())
        say(f"Services: {counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged.")
        say("Rendering the static pages ...")
        wiring.site().render(RenderJob(page="static"))
        wiring.site().render(RenderJob(page="home"))  # otherwise the home page appears with the first story
        wiring.site().render(RenderJob(page="search"))  # the search page and the shards manifest, before any story

        log_path = STATE / f"chalice-{api_port}.log"
        say(f"Starting the API (chalice local) on {api_url}/api/ ; its log: {log_path.relative_to(ROOT)}")
        api = start_api(api_port, dict(os.environ), log_path)
        cleanups.append(lambda: stop_process(api))
        wait_for(
            lambda: _http_ok(f"{api_url}/api/services?q=wa"),
            API_READY_TIMEOUT,
            f"The API (see {log_path})",
            alive=lambda: api.poll() is None,
        )

        pump = make_pump(session, resources)
        from app import app as chalice_app

        for handler, hour, minute in daily_schedules(chalice_app):
            if hour < 0:
                pump.hourly(handler, minute)
            else:
                pump.daily(handler, hour, minute)
        # SES's bounces and complaints reach on_mail_event through SNS: here, through a queue subscribed to the topic.
        sqs = session.client("sqs", region_name=REGION)
        sns_queue = sqs.create_queue(QueueName="feedforward-mail-events-local")["QueueUrl"]
        pump.subscribe(resources.mail_events_topic_arn, sns_queue, "on_mail_event")
        pump_stop = threading.Event()
        pump_thread = threading.Thread(target=pump.run, args=(pump_stop,), name="event-pump", daemon=True)
        pump_thread.start()
        cleanups.append(lambda: (pump_stop.set(), pump_thread.join(timeout=10)))

        from local.mailbox import Mailbox
        from local.static_server import StaticServer

        site_server = StaticServer(
            session.client("s3", region_name=REGION), resources.bucket, HOST, site_port, api_url=api_url
        ).start()
        cleanups.append(site_server.stop)

        def send_todays_digests() -> dict[str, Any]:
            # What daily_digest does at 07:00 for yesterday, for the stories published so far today.
            from chalicelib.core import clock

            day = clock.now().date().isoformat()
            return pump.call_soon(lambda: wiring.alerts().queue_digests(day)).result(timeout=60)

        sns = session.client("sns", region_name=REGION)

        def publish_mail_event(notification: dict[str, Any]) -> None:
            import json

            sns.publish(TopicArn=resources.mail_events_topic_arn, Message=json.dumps(notification))

        from local.hooks import HookInbox

        hooks = HookInbox()
        mailbox = Mailbox(
            endpoint,
            HOST,
            mail_port,
            send_digests=send_todays_digests,
            publish_mail_event=publish_mail_event,
            in_process=True,
            hooks=hooks,
        ).start()
        cleanups.append(mailbox.stop)
        partner = register_demo_partner(hooks, f"http://{HOST}:{mail_port}")

        if seed:
            pump.paused.set()
            try:
                result = ff.seed_demo(
                    api_url,
                    DEMO_MODERATOR["username"],
                    DEMO_MODERATOR["password"],
                    show_progress=True,
                    authenticator_key=emulator_key(),
                )
                # Every service's page too (so that every link in the directory works), queued with the
                # seed's own jobs: the pump renders each page once, from the final state.
                wiring.queues().send(RenderJob(page="service", ref=slug) for slug in directory_slugs())
            finally:
                pump.paused.clear()
            say(ff.seed_summary(result))
            reach = result.get("reach")
            if reach:  # issue 19
                say(f"Demo invitation: {reach['invitation']} (its card: {reach['card']} ; poster: {reach['poster']})")
                say(f"  Its card as PDF (add /poster/pdf for the A4 poster, ?lang=cy for Welsh): {reach['card_pdf']}")
                say(
                    f"  A story came through it, and a moderator entered one taken by phone: {site_url}/stories/{reach['phone_story']}/"
                )
                say(
                    f"Welsh site: {site_url}/cy/ (stories told in Welsh: "
                    + ", ".join(f"{site_url}/cy/stories/{s}/" for s in reach.get("welsh_stories", []))
                    + ")"
                )
            for err in result["errors"]:
                say(f"  seeding error: {err}")
            from local.sources import seed_demo_source  # issue 21: a JSON Feed pulled in by the importer

            try:
                say(seed_demo_source(session.client("s3", region_name=REGION), resources.bucket, site_url))
            except Exception as e:  # noqa: BLE001 - the demo source is one more demo: the stack runs without it
                say(f"  seeding error: the demo source: {type(e).__name__}: {e}")
        say("Waiting for the event pump to publish pages and send mail ...")
        quiet = wait_until_quiet(pump, sqs, resources, pump_thread)
        if seed and quiet:
            # Pages of the services no demo story is about, so that every link in the directory works.
            missing = missing_service_pages(session.client("s3", region_name=REGION), resources.bucket)
            if missing:
                say(f"Rendering the pages of {len(missing)} services with no stories yet ...")
                wiring.queues().send(RenderJob(page="service", ref=slug) for slug in missing)
                quiet = wait_until_quiet(pump, sqs, resources, pump_thread)
        if not quiet:
            say("Warning: the event pump did not go quiet; some pages or mail may be missing.")
        for err in pump.errors[-10:]:
            say(f"  pump error: {err}")

        say()
        say(f"Site: {site_url}/")
        say(f"API: {api_url}/api/")
        say(f"Mail: http://{HOST}:{mail_port}/")
        say(f"Webhooks: http://{HOST}:{mail_port}/webhooks  ({partner['name']}, for {partner['service']}'s events)")
        say(f"AWS: {endpoint}")
        say(
            f"Moderation: {api_url}/api/moderate  (sign in as {DEMO_MODERATOR['username']} / {DEMO_MODERATOR['password']},"
        )
        say(
            f"  then the code of an authenticator app: add the key {emulator_key().upper()} to yours (every account "
            "on the emulator has that key), or get the code with: python -m local.totp)"
        )
        say(
            f"  A first sign-in with an authenticator app: {NEW_MODERATOR['username']} / {NEW_MODERATOR['password']} "
            "(choose a new password of 12 or more characters, then scan the QR code the screen shows or add its key"
        )
        say("  to your app; or get the code with: python -m local.totp)")
        say(f"Admin tools: python -m tools.ff --env-file {(STATE / f'stack-{aws_port}.env').relative_to(ROOT)} --help")
        say("Press Ctrl-C to stop.")
        say("Ready.")
        reported = len(pump.errors)
        while not stop.is_set():
            if api.poll() is not None:
                say(f"The API (chalice local) stopped with code {api.returncode}; see {log_path}.")
                return 1
            for err in pump.errors[reported:]:
                say(f"pump error: {err}")
            reported = len(pump.errors)
            stop.wait(0.5)
        return 0
    except (Shutdown, KeyboardInterrupt):
        return 0
    finally:
        # Ignore a second Ctrl-C while stopping: finish stopping instead.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if cleanups:
            say("Stopping ...")
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception as e:  # stop everything else regardless
                say(f"  while stopping: {e!r}")
        if cleanups:
            say("Stopped.")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m local.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--no-seed", action="store_true", help="do not submit the demo stories (faster; for tests)")
    args = p.parse_args(argv)
    try:
        return run(seed=not args.no_seed)
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr, flush=True)
            return 2
        raise
    except StartupError as e:
        print(f"Could not start the local stack: {e}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
