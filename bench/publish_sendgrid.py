"""Benchmark: publish one run to 100,000 recipients through the SendGrid adapter on SQLite.

A loopback SendGrid v3 fake (a child process, so its bookkeeping is not counted in this
process's memory) records every address it accepts and fails a seeded share of mail-send
requests: half answer 500 (not accepted, nothing recorded), half are accepted and recorded and
never answered. The run (7 variants, 1 % of the addresses suppressed) is built with bulk
inserts, approved through the approvals service, published with ``run_publish`` and delivered
with ``run_deliver`` in this process: the real adapter and the guarded client over loopback.

Each size is published twice, on two runs: once timed (wall time, peak RSS of the phase) and
once under tracemalloc (peak Python memory of the phase). Retry waits are skipped: the bench
replaces ``publishing.services.common.sleep`` with a no-op. Expected: 500s are retried, an
accepted request whose answer never came leaves its chunk ``unknown`` (SendGrid takes no
idempotency key) and is never resent, so no address is recorded twice.

    .venv/bin/python bench/publish_sendgrid.py [--recipients 100000] [--failure-rate 0.10]
        [--small 10000] [--timeout 1.0] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

API_KEY = "SG.bench-sendgrid-key-000000"
VARIANTS = 6  # cohorts, plus the generic variant
SUPPRESSED_EVERY = 100  # 1 % of the addresses are on the suppression list
STATS_PATH = "/__bench/stats"
RESET_PATH = "/__bench/reset"

# --- The SendGrid fake (runs in a child process) ---------------------------------------------


class SendGridFake:
    """``POST /v3/mail/send`` as SendGrid documents it (202, ``X-Message-Id``; 400 for a request
    it refuses), failing a seeded ``failure_rate`` of the requests: half with 500, half accepted
    (recorded) and never answered."""

    def __init__(self, *, failure_rate: float, hold_seconds: float):
        self.failure_rate = failure_rate
        self.hold_seconds = hold_seconds
        self.lock = threading.Lock()
        self.reset(seed=0)

    def reset(self, *, seed: int) -> None:
        with self.lock:
            self.rng = random.Random(seed)
            self.addresses: Counter[str] = Counter()
            self.keys: Counter[str] = Counter()
            self.counts: Counter[str] = Counter()

    def stats(self) -> dict:
        with self.lock:
            return {
                **self.counts,
                "addresses_recorded": sum(self.addresses.values()),
                "distinct_addresses": len(self.addresses),
                "addresses_twice": sum(1 for n in self.addresses.values() if n > 1),
                "keys_accepted_twice": sum(1 for n in self.keys.values() if n > 1),
            }

    def mail_send(self, headers, body) -> tuple[int, dict, str | None]:
        """(status, answer, failure): failure is None, "500" or "accept_then_timeout"."""
        with self.lock:
            self.counts["mail_requests"] += 1
            failure = None
            if self.rng.random() < self.failure_rate:
                failure = "500" if self.rng.random() < 0.5 else "accept_then_timeout"
            if headers.get("authorization") != f"Bearer {API_KEY}":
                self.counts["refused_401"] += 1
                return 401, {"errors": [{"message": "authorization required"}]}, None
            if failure == "500":
                self.counts["answered_500"] += 1
                return 500, {"errors": [{"message": "internal error"}]}, failure
            personalizations = (body or {}).get("personalizations") or []
            if (
                not 1 <= len(personalizations) <= 1000
                or not (body.get("from") or {}).get("email")
                or not body.get("content")
            ):
                self.counts["refused_400"] += 1
                return 400, {"errors": [{"message": "invalid mail send"}]}, None
            for personalization in personalizations:
                for to in personalization["to"]:
                    self.addresses[to["email"]] += 1
            self.keys[body["custom_args"]["marketingai_key"]] += 1
            self.counts["accepted"] += 1
            if failure:
                self.counts["accepted_then_timed_out"] += 1
            return 202, {"message_id": f"bench_{self.counts['accepted']}"}, failure

    def serve(self, connection) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _answer(self, status: int, document: dict, extra=None) -> None:
                body = json.dumps(document).encode() if status != 202 else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._answer(200, fake.stats())

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"null")
                if self.path == RESET_PATH:
                    fake.reset(seed=body["seed"])
                    return self._answer(200, {})
                if self.path != "/v3/mail/send":
                    return self._answer(404, {"errors": [{"message": "not found"}]})
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, document, failure = fake.mail_send(headers, body)
                if failure == "accept_then_timeout":
                    time.sleep(fake.hold_seconds)  # accepted; the answer never comes in time
                    return
                self._answer(status, document, {"X-Message-Id": document.get("message_id", "")})

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        connection.send(server.server_address[1])
        server.serve_forever()


def start_fake(*, failure_rate: float, hold_seconds: float) -> tuple[multiprocessing.Process, int]:
    """The fake in a child process (forked before Django is imported); returns it and its port."""
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    fake = SendGridFake(failure_rate=failure_rate, hold_seconds=hold_seconds)
    process = context.Process(target=fake.serve, args=(child,), daemon=True)
    process.start()
    return process, parent.recv()


def fake_call(port: int, path: str, document: dict | None = None) -> dict:
    """The bench's own line to the fake (not publishing traffic, so not the guarded client)."""
    data = json.dumps(document).encode() if document is not None else None
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", data=data, timeout=10) as answer:
        return json.loads(answer.read() or b"{}")


# --- Memory -----------------------------------------------------------------------------------


def _status_kib(name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def reset_rss_peak() -> bool:
    """Reset the kernel's RSS high-water mark (VmHWM) so a phase's peak can be read alone."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def rss_mib() -> float:
    return _status_kib("VmRSS") / 1024


def rss_peak_mib() -> float:
    return _status_kib("VmHWM") / 1024


# --- The bench --------------------------------------------------------------------------------


@dataclass
class Pass:
    size: int
    plan_s: float = 0.0
    deliver_s: float = 0.0
    plan_cpu: float = 0.0
    deliver_cpu: float = 0.0
    chunks: Counter = field(default_factory=Counter)
    recipients: Counter = field(default_factory=Counter)
    unknown_chunks: list[int] = field(default_factory=list)
    fake: dict = field(default_factory=dict)
    rss_before: float = 0.0
    rss_plan_peak: float = 0.0
    rss_deliver_peak: float = 0.0
    traced_plan_peak: float = 0.0
    traced_deliver_peak: float = 0.0
    waits: list[float] = field(default_factory=list)


def prepare(*, failure_rate: float, timeout: float) -> tuple[multiprocessing.Process, int, str]:
    """Start the fake, then Django on a new SQLite database allowed to reach it; migrate."""
    fake_process, port = start_fake(failure_rate=failure_rate, hold_seconds=timeout + 1.0)
    workdir = tempfile.mkdtemp(prefix="marketingai-bench-")
    os.environ["MARKETINGAI_VAR_DIR"] = workdir
    os.environ.pop("DATABASE_URL", None)
    os.environ["MARKETINGAI_OUTBOUND_ALLOWED_HOSTS"] = f"127.0.0.1:{port}"
    os.environ["MARKETINGAI_OUTBOUND_MAX_TIMEOUT"] = str(timeout)
    os.environ["MARKETINGAI_SECRET_NAMES"] = "SENDGRID_API_KEY"
    os.environ["SENDGRID_API_KEY"] = API_KEY
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketingai.settings")
    import django

    django.setup()
    logging.getLogger("django-q").setLevel(logging.WARNING)  # the approval's notification task
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return fake_process, port, workdir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--failure-rate", type=float, default=0.10)
    parser.add_argument(
        "--small",
        type=int,
        default=10_000,
        help="Also measured at this size, first, to show memory stays flat (0: skip).",
    )
    parser.add_argument(
        "--timeout", type=float, default=1.0, help="Outbound deadline per request, seconds."
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = sorted({args.small, args.recipients} - {0})
    fake_process, port, workdir = prepare(failure_rate=args.failure_rate, timeout=args.timeout)
    bench = Bench(port=port, seed=args.seed, timeout=args.timeout)
    rss_resettable = reset_rss_peak()
    print(
        f"SQLite (WAL) in {workdir}; {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the start\n"
        f"SendGrid fake on 127.0.0.1:{port} (child process): {args.failure_rate:.0%} of mail sends "
        f"fail, half with 500, half accepted then never answered (seed {args.seed}); outbound "
        f"deadline {args.timeout:g} s\n"
        "Retry waits skipped: publishing.services.common.sleep is replaced by a no-op "
        "(the waits asked for are counted below)"
    )
    if not rss_resettable:
        print("(/proc/self/clear_refs is not writable: phase RSS peaks are the process's peak)")
    results = []
    try:
        for size in sizes:
            print(f"\n== {size:,} recipients ==")
            timed = bench.measure(size, traced=False)
            traced = bench.measure(size, traced=True)
            bench.report(timed, traced)
            results.append((timed, traced))
    finally:
        fake_process.terminate()
        fake_process.join(5)
    if len(results) > 1:
        print("\nAgainst size (times and RSS: timed pass; Python peak: traced pass):")
        print(
            f"{'recipients':>10} {'chunks':>6} {'plan s':>7} {'(CPU)':>6} {'deliver s':>9} "
            f"{'(CPU)':>6} {'recip/s':>7} {'RSS before':>10} {'RSS peak':>8} "
            f"{'traced plan':>11} {'traced deliver':>14}"
        )
        for timed, traced in results:
            total = sum(timed.chunks.values())
            print(
                f"{timed.size:>10,} {total:>6} {timed.plan_s:>7.2f} {timed.plan_cpu:>6.2f} "
                f"{timed.deliver_s:>9.2f} {timed.deliver_cpu:>6.2f} "
                f"{timed.size / (timed.plan_s + timed.deliver_s):>7.0f} "
                f"{timed.rss_before:>6.0f} MiB "
                f"{max(timed.rss_plan_peak, timed.rss_deliver_peak):>4.0f} MiB "
                f"{traced.traced_plan_peak:>7.1f} MiB {traced.traced_deliver_peak:>10.1f} MiB"
            )
    print(
        f"\nmax resident set size of the process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        f" (includes building the data); load average {os.getloadavg()[0]:.1f} at the end"
    )


class Bench:
    def __init__(self, *, port: int, seed: int, timeout: float):
        from demo.loader import load_demo
        from publishing.models import Destination
        from workflows.models import Workflow

        load_demo(force=True)
        self.port = port
        self.seed = seed
        self.timeout = timeout
        self.workflow = Workflow.objects.get(slug="trial_expiration_email")
        self.brief = self.workflow.briefs.select_related("audience_segment").order_by("pk").first()
        from django.contrib.auth import get_user_model

        self.users = {u.username: u for u in get_user_model().objects.all()}
        destination = Destination(
            workflow=self.workflow,
            name="Trial list (SendGrid, bench)",
            kind=Destination.Kind.SENDGRID,
            target="trial-ending",
            sender="news@kestrel.example",
            secret_name="SENDGRID_API_KEY",
            api_base_url=f"http://127.0.0.1:{port}",
            requires_publish_gate=True,  # a high-risk send: a person presses Publish
        )
        destination.full_clean()
        destination.save()
        others = Destination.objects.filter(workflow=self.workflow, enabled=True)
        assert others.exclude(pk=destination.pk).count() == 0, (
            "the bench publishes to the fake only"
        )
        self.snapshot_size = 0

    # --- Data ----------------------------------------------------------------------------------

    def import_snapshot(self, size: int) -> None:
        """A full snapshot of the brief's segment with ``size`` opted-in recipients, inserted in bulk."""
        from django.utils import timezone

        from inputs.models import AudienceImport, Recipient
        from publishing.models import SuppressedAddress
        from workflows.models import with_history_context

        now = timezone.now()
        record = AudienceImport(
            segment=self.brief.audience_segment,
            source_name=f"bench-{size}.csv",
            status=AudienceImport.Status.IMPORTED,
            row_count=size,
            imported_at=now,
            imported_by=self.users["ops"],
        )
        with_history_context(record, by=self.users["ops"], reason="Bench audience")
        record.save()
        batch = 5000
        for start in range(0, size, batch):
            Recipient.objects.bulk_create(
                Recipient(
                    segment_id=record.segment_id,
                    audience_import=record,
                    customer_id=f"c{i:07d}",
                    email=f"reader{i:07d}@example.com",
                    role="engineering manager",
                    plan="Team",
                    consent=Recipient.Consent.OPTED_IN,
                    usage_summary="Built 3 boards.",
                    usage_as_of=now,
                    attributes={"usage_tier": "high" if i % 2 else "low"},
                )
                for i in range(start, min(size, start + batch))
            )
            SuppressedAddress.objects.bulk_create(
                (
                    SuppressedAddress(email=f"reader{i:07d}@example.com", reason="Bench bounce")
                    for i in range(start, min(size, start + batch), SUPPRESSED_EVERY)
                ),
                ignore_conflicts=True,
            )
        self.snapshot = record
        self.snapshot_size = size

    def approved_run(self, size: int):
        """A run with its variants and outputs, its recipients assigned in bulk, approved by a reviewer."""
        from django.db import transaction

        from approvals.models import ApprovalItem
        from approvals.services import item_decide, run_auto_approve, run_request_approval
        from inputs.models import Recipient, RecipientAssignment
        from workflows import services
        from workflows.models import Run, RunOutput, RunVariant, with_history_context

        if self.snapshot_size != size:
            with transaction.atomic():
                self.import_snapshot(size)
        ops = self.users["ops"]
        run = services.run_start(
            workflow=self.workflow, brief=self.brief, started_by=ops, enqueue=False
        )
        run.mark_generating(by=ops)
        variants = []
        for n in range(VARIANTS + 1):
            generic = n == VARIANTS
            variant = RunVariant(
                run=run,
                key=RunVariant.GENERIC_KEY if generic else f"cohort={n}",
                attributes={} if generic else {"cohort": n},
                is_generic=generic,
            )
            with_history_context(variant, by=ops, reason="Bench variant")
            variant.save()
            output = RunOutput(
                run=run,
                variant=variant,
                content={
                    "subject_lines": [f"Your trial ends soon ({variant.key})", "Two", "Three"],
                    "preview_text": "Keep your boards.",
                    "email_body": "Hi there,\n\nYour trial ends in 3 days.\n\nThe Kestrel team",
                    "cta_text": "Choose a plan",
                    "rationale": "Bench.",
                    "risk_flags": [],
                },
                schema_valid=True,
                source=Run.OutputSource.MODEL,
            )
            with_history_context(output, by=ops, reason="Bench output")
            output.save()
            variants.append(variant)
        ids = list(
            Recipient.objects.filter(audience_import=self.snapshot)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        with transaction.atomic():
            for start in range(0, len(ids), 5000):
                RecipientAssignment.objects.bulk_create(
                    RecipientAssignment(
                        run=run,
                        recipient_id=recipient_id,
                        variant=variants[position % len(variants)],
                        treatment=RecipientAssignment.Treatment.GENERIC
                        if variants[position % len(variants)].is_generic
                        else RecipientAssignment.Treatment.PERSONALIZED,
                    )
                    for position, recipient_id in enumerate(ids[start : start + 5000], start)
                )
        routed = run_request_approval(run=run, run_flags=[])
        run.mark_generated(
            by=ops, source=Run.OutputSource.MODEL, status=Run.Status.AWAITING_APPROVAL
        )
        if routed.auto_approved:
            run_auto_approve(item_id=routed.item.pk)
        else:
            item = ApprovalItem.objects.select_related("team").get(pk=routed.item.pk)
            reviewer = next(
                u
                for u in self.users.values()
                if u.is_active and u.groups.filter(pk=item.team.group_id).exists()
            )
            item_decide(item_id=item.pk, decision="approve", reviewer=reviewer, enqueue=False)
        run.refresh_from_db()
        assert run.status == Run.Status.APPROVED, run.status
        return run

    # --- One pass ------------------------------------------------------------------------------

    def measure(self, size: int, *, traced: bool) -> Pass:
        from django.db.models import Count, Sum

        from publishing import services
        from publishing.models import PublishAttempt
        from publishing.services import common

        run = self.approved_run(size)
        result = Pass(size=size)
        common.sleep = result.waits.append  # no waiting between tries; the waits are counted
        fake_call(self.port, RESET_PATH, {"seed": self.seed})
        publisher = self.users["manager"]  # has the publish permission and did not start the run
        result.rss_before = rss_mib()
        if traced:
            tracemalloc.start()
        reset_rss_peak()
        started, cpu = time.perf_counter(), time.process_time()
        publish = services.run_publish(run=run, user=publisher, reason="Bench send", enqueue=False)
        result.plan_s = time.perf_counter() - started
        result.plan_cpu = time.process_time() - cpu
        result.rss_plan_peak = rss_peak_mib()
        if traced:
            result.traced_plan_peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.reset_peak()
        reset_rss_peak()
        started, cpu = time.perf_counter(), time.process_time()
        report = services.run_deliver(run_id=run.pk)
        result.deliver_s = time.perf_counter() - started
        result.deliver_cpu = time.process_time() - cpu
        result.rss_deliver_peak = rss_peak_mib()
        if traced:
            result.traced_deliver_peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        assert publish.to_send == len(report.outcomes), (publish.to_send, report.summary)
        attempts = PublishAttempt.objects.filter(run=run)
        result.chunks = Counter(
            dict(attempts.values_list("status").annotate(n=Count("pk")).order_by())
        )
        totals = attempts.aggregate(
            sent=Sum("sent_count"), dropped=Sum("dropped_count"), failed=Sum("failed_count")
        )
        unknown = attempts.filter(status=PublishAttempt.Status.UNKNOWN)
        result.unknown_chunks = list(
            unknown.order_by("chunk_index").values_list("chunk_index", flat=True)
        )
        unknown_recipients = sum(
            len(ids) - dropped
            for ids, dropped in unknown.values_list("recipient_ids", "dropped_count")
        )
        result.recipients = Counter(
            delivered=totals["sent"] or 0,
            unknown=unknown_recipients,
            failed=totals["failed"] or 0,
            dropped=totals["dropped"] or 0,
        )
        result.fake = fake_call(self.port, STATS_PATH)
        return result

    def report(self, timed: Pass, traced: Pass) -> None:
        size = timed.size
        chunks = sum(timed.chunks.values())
        r, f = timed.recipients, timed.fake
        print(
            f"plan    (run_publish)  {timed.plan_s:7.2f} s (CPU {timed.plan_cpu:5.2f} s)   "
            f"RSS peak {timed.rss_plan_peak:4.0f} MiB (before {timed.rss_before:.0f})   "
            f"traced peak {traced.traced_plan_peak:5.1f} MiB"
        )
        print(
            f"deliver (run_deliver)  {timed.deliver_s:7.2f} s (CPU {timed.deliver_cpu:5.2f} s)   "
            f"RSS peak {timed.rss_deliver_peak:4.0f} MiB{'':14}"
            f"traced peak {traced.traced_deliver_peak:5.1f} MiB"
        )
        unknown_wait = len(timed.unknown_chunks) * self.timeout
        print(
            f"throughput             {size / timed.deliver_s:7.0f} recipients/s delivering, "
            f"{size / (timed.plan_s + timed.deliver_s):.0f} recipients/s planning + delivering "
            f"({unknown_wait:g} s of it waiting out unanswered requests)"
        )
        print(
            f"chunks                 {chunks} (at most 1,000 recipients each): "
            + ", ".join(f"{n} {status}" for status, n in sorted(timed.chunks.items()))
        )
        print(
            f"recipients             delivered {r['delivered']:,}, unknown {r['unknown']:,} "
            f"(chunks {', '.join(map(str, timed.unknown_chunks)) or 'none'}), failed {r['failed']:,}, "
            f"dropped {r['dropped']:,} (suppressed)"
        )
        print(
            f"fake                   {f.get('mail_requests', 0)} mail sends: {f.get('answered_500', 0)} "
            f"answered 500 (retried: {len(timed.waits)} waits of {sum(timed.waits):g} s skipped), "
            f"{f.get('accepted_then_timed_out', 0)} accepted then never answered; "
            f"{f.get('addresses_recorded', 0):,} addresses recorded "
            f"(= delivered + unknown: {f.get('addresses_recorded', 0) == r['delivered'] + r['unknown']})"
        )
        twice = f.get("addresses_twice", 0)
        print(
            f"recipients received twice: {twice}"
            f" (traced pass: {traced.fake.get('addresses_twice', 0)}); "
            f"chunks accepted twice: {f.get('keys_accepted_twice', 0)}"
        )
        accounted = r["delivered"] + r["unknown"] + r["failed"] + r["dropped"]
        assert accounted == size, (accounted, size)
        assert twice == 0 and traced.fake.get("addresses_twice", 0) == 0


if __name__ == "__main__":
    main()
