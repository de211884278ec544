"""Uploads have a size limit and are parsed as a stream, in forms and commands alike; a refused file changes nothing."""

from __future__ import annotations

import csv
from datetime import datetime
from datetime import timezone as dt_timezone

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from evals.importing import parse_dataset, parse_outcomes
from inputs.importing import parse_recipients
from workflows.uploads import CHUNK_BYTES, NotUtf8, Upload, UploadTooLarge

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=dt_timezone.utc)
HEADER = b"customer_id,email,consent,role\n"
LIMIT = 4096
TOO_LARGE = "The file is larger than the upload limit of 4 KB (MARKETINGAI_MAX_UPLOAD_BYTES)."


class EndlessCsv:
    """A binary file of recipients that never ends; counts the bytes it was asked for."""

    def __init__(self):
        self.served = 0
        self.number = 0

    def read(self, size=-1):
        out = HEADER if self.served == 0 else b""
        while len(out) < size:
            self.number += 1
            out += f"c{self.number},u{self.number}@example.com,opted_in,dev\n".encode()
        self.served += len(out)
        return out


def recipients_csv(rows: int) -> bytes:
    body = "".join(f'c{i},u{i}@example.com,opted_in,"role\nline {i}"\n' for i in range(rows))
    return HEADER + body.encode()


# --- The reader: no database ----------------------------------------------------------------


def test_an_upload_past_the_limit_stops_reading_at_the_limit():
    source = EndlessCsv()
    upload = Upload(source, limit=10 * CHUNK_BYTES)

    with pytest.raises(UploadTooLarge, match="larger than the upload limit of 640 KB"):
        for _ in upload.lines():
            pass
    assert source.served <= 11 * CHUNK_BYTES


def test_lines_are_read_as_a_stream_not_the_whole_file():
    source = EndlessCsv()
    reader = csv.reader(Upload(source, limit=10**9).lines(), strict=True)

    assert next(reader) == ["customer_id", "email", "consent", "role"]
    assert next(reader) == ["c1", "u1@example.com", "opted_in", "dev"]
    assert source.served <= 2 * CHUNK_BYTES  # a billion-byte limit, yet only a chunk or two read


def test_a_known_size_over_the_limit_is_refused_before_reading():
    with pytest.raises(UploadTooLarge):
        Upload(b"x" * (LIMIT + 1), limit=LIMIT)
    with pytest.raises(UploadTooLarge):
        Upload(SimpleUploadedFile("a.csv", b"x" * (LIMIT + 1)), limit=LIMIT)


def test_a_bad_byte_past_the_first_chunk_is_named_with_its_offset_and_line():
    data = b"a,b\n" + b"x" * (CHUNK_BYTES - 1) + b"\xc3\xa9\n\xff\n"

    with pytest.raises(NotUtf8) as raised:
        list(Upload(data, limit=10**6).lines())

    offset = data.index(b"\xff")
    assert str(raised.value) == (
        f"The file is not UTF-8 text: byte 0xff at byte offset {offset} (line 3) is not valid UTF-8. "
        "Re-export the file as UTF-8 (in Excel: 'CSV UTF-8')."
    )


def test_a_multi_chunk_csv_with_quoted_newlines_parses_whole():
    data = recipients_csv(3000)
    assert len(data) > 2 * CHUNK_BYTES

    result = parse_recipients(data, now=NOW, filename="a.csv", limit=len(data))

    assert result.ok, result.errors[:3]
    assert len(result.rows) == 3000 and result.rows[-1].role == "role\nline 2999"


def test_every_parser_refuses_a_file_over_the_limit_with_one_sentence():
    data = recipients_csv(200)
    assert len(data) > LIMIT

    results = [
        parse_recipients(data, now=NOW, filename="a.csv", limit=LIMIT),
        parse_dataset(data, filename="d.csv", limit=LIMIT),
        parse_outcomes(data, limit=LIMIT),
    ]

    assert [[str(e) for e in r.errors] for r in results] == [[TOO_LARGE]] * 3
    assert all(not r.rows for r in results)


# --- Forms and commands -----------------------------------------------------------------------


@pytest.fixture
def small_limit(settings):
    settings.MARKETINGAI_MAX_UPLOAD_BYTES = LIMIT
    return LIMIT


@pytest.fixture
def segment(db):
    from workflows.models import AudienceSegment

    return AudienceSegment.objects.create(slug="s1", name="S1")


@pytest.mark.django_db
def test_the_recipient_form_refuses_a_file_over_the_limit(admin_client, segment, small_limit):
    url = reverse("admin:workflows_audiencesegment_import", args=[segment.pk])

    response = admin_client.post(
        url, {"file": SimpleUploadedFile("a.csv", recipients_csv(200)), "format": "auto"}
    )

    assert response.status_code == 200
    assert TOO_LARGE in response.content.decode()
    assert segment.recipients.count() == 0
    good = admin_client.post(
        url, {"file": SimpleUploadedFile("a.csv", recipients_csv(5)), "format": "auto"}
    )
    assert good.status_code == 302 and segment.recipients.count() == 5


@pytest.mark.django_db
def test_the_import_audience_command_refuses_a_file_over_the_limit(
    segment, small_limit, tmp_path, capsys, service_account
):
    path = tmp_path / "a.csv"
    path.write_bytes(recipients_csv(200))

    with pytest.raises(CommandError, match="Nothing imported: 1 error"):
        call_command("import_audience", "s1", str(path))

    assert TOO_LARGE in capsys.readouterr().err
    assert segment.recipients.count() == 0


@pytest.mark.django_db
def test_the_dataset_and_outcome_forms_refuse_a_file_over_the_limit(
    admin_client, workspace, small_limit
):
    from evals.models import CampaignOutcome, EvalDataset

    workflow = workspace["workflow"]
    outcomes_before = CampaignOutcome.objects.count()
    big = recipients_csv(200)
    dataset = admin_client.post(
        reverse("admin:evals_evaldataset_import"),
        {
            "workflow": workflow.pk,
            "name": "Big",
            "file": SimpleUploadedFile("d.csv", big),
            "format": "auto",
        },
    )
    outcomes = admin_client.post(
        reverse("admin:evals_campaignoutcome_import"),
        {"workflow": workflow.pk, "file": SimpleUploadedFile("o.csv", big)},
    )

    for response in (dataset, outcomes):
        assert response.status_code == 200 and TOO_LARGE in response.content.decode()
    assert not EvalDataset.objects.filter(slug="big").exists()
    assert CampaignOutcome.objects.count() == outcomes_before


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["import_dataset", "import_outcomes"])
def test_the_eval_import_commands_refuse_a_file_over_the_limit(
    workspace, small_limit, tmp_path, capsys, command
):
    from evals.models import CampaignOutcome, EvalDataset

    outcomes_before = CampaignOutcome.objects.count()
    path = tmp_path / "big.csv"
    path.write_bytes(recipients_csv(200))
    args = (
        ["trial_expiration_email", "Big", str(path)]
        if command == "import_dataset"
        else ["trial_expiration_email", str(path)]
    )

    with pytest.raises(CommandError, match="Nothing imported: 1 error"):
        call_command(command, *args)

    assert TOO_LARGE in capsys.readouterr().err
    assert (
        not EvalDataset.objects.filter(slug="big").exists()
        and CampaignOutcome.objects.count() == outcomes_before
    )
