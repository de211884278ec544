"""The REST API from outside, with nothing but HTTP and two personal tokens (docs/api.md).

Starts a run, follows it to its end, reads its trace, fetches the production prompt twice
(the second answer is 304 Not Modified) and, as a reviewer, decides the run's approval item.

    python scripts/api_demo.py --url http://127.0.0.1:8000 --brief 1 \\
        --token "$OPS_TOKEN" --reviewer-token "$REVIEWER_TOKEN"

Tokens may also come from MARKETINGAI_API_TOKEN and MARKETINGAI_REVIEWER_TOKEN. Standard
library only: it runs wherever Python does, without this project installed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request


class ApiError(Exception):
    pass


class Api:
    def __init__(self, base_url: str, token: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        """(status, headers, parsed JSON or None); an error status raises ApiError with its message."""
        request = urllib.request.Request(
            path if path.startswith("http") else self.base_url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/json",
                **({"Content-Type": "application/json"} if body is not None else {}),
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
                return response.status, response.headers, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return 304, exc.headers, None
            raw = exc.read()
            try:
                message = json.loads(raw).get("error", raw.decode())
            except ValueError:
                message = raw.decode(errors="replace")
            raise ApiError(f"{method} {path}: HTTP {exc.code}: {message}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default=os.environ.get("MARKETINGAI_API_URL", "http://127.0.0.1:8000")
    )
    parser.add_argument("--token", default=os.environ.get("MARKETINGAI_API_TOKEN", ""))
    parser.add_argument(
        "--reviewer-token", default=os.environ.get("MARKETINGAI_REVIEWER_TOKEN", "")
    )
    parser.add_argument("--workflow", default="trial_expiration_email")
    parser.add_argument(
        "--brief", type=int, required=True, help="A campaign brief id of the workflow."
    )
    parser.add_argument(
        "--decision", default="approve", choices=["approve", "request_changes", "reject"]
    )
    parser.add_argument("--note", default="", help="Required unless approving.")
    parser.add_argument("--wait-seconds", type=float, default=900)
    args = parser.parse_args(argv)
    if not args.token or not args.reviewer_token:
        parser.error(
            "give --token and --reviewer-token (or MARKETINGAI_API_TOKEN, MARKETINGAI_REVIEWER_TOKEN)"
        )
    starter, reviewer = Api(args.url, args.token), Api(args.url, args.reviewer_token)
    try:
        return demo(starter, reviewer, args)
    except ApiError as exc:
        print(exc, file=sys.stderr)
        return 1


def demo(starter: Api, reviewer: Api, args) -> int:
    _, _, run = starter.call(
        "POST", "/api/v1/runs/", {"workflow": args.workflow, "brief": args.brief}
    )
    print(f"started {run['run_id']} (id {run['id']}) on {run['prompt_version']}: {run['status']}")

    deadline = time.monotonic() + args.wait_seconds
    while run["in_progress"]:
        if time.monotonic() > deadline:
            print(
                f"{run['run_id']} is still {run['status']} after {args.wait_seconds:.0f} s",
                file=sys.stderr,
            )
            return 1
        time.sleep(1)
        _, _, run = starter.call("GET", run["links"]["self"])
    print(
        f"{run['run_id']} is {run['status']}"
        + (f" (risk {run['risk_level']})" if run["risk_level"] else "")
    )

    _, _, trace = starter.call("GET", run["links"]["trace"])
    steps = [step.get("name", "?") for step in trace["document"].get("steps", [])]
    print(f"trace {trace['trace_id']}: steps {', '.join(steps) or '-'}")

    prompt_path = f"/api/v1/workflows/{args.workflow}/production-prompt/"
    status, headers, prompt = starter.call("GET", prompt_path)
    etag = headers["ETag"]
    print(f"production prompt {prompt['version']} ({status}, ETag {etag})")
    status, _, _ = starter.call("GET", prompt_path, headers={"If-None-Match": etag})
    print(f"production prompt again with If-None-Match: {status}")
    if status != 304:
        print("expected 304 Not Modified for an unchanged prompt", file=sys.stderr)
        return 1

    _, _, queue = reviewer.call("GET", "/api/v1/review-queue/")
    items = [item for item in queue["items"] if item["run"] == run["id"]]
    if not items:
        print(f"{run['run_id']} is not in this reviewer's queue ({run['status']})", file=sys.stderr)
        return 1
    item = items[0]
    _, _, decided = reviewer.call(
        "POST", item["links"]["decision"], {"decision": args.decision, "note": args.note}
    )
    print(
        f"{decided['reviewer']} decided {args.decision} on {run['run_id']} "
        f"(team {item['team']}): the run is {decided['run']['status']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
