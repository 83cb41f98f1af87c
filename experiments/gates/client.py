"""Evaluate a release gate from CI against a remote server, with only a project API key.

    python -m experiments.gates.client GATE CANDIDATE [--cannot-tell pass|fail] [--json]

The key and the server come from the variables the langfuse SDK already reads (LANGFUSE_PUBLIC_KEY,
LANGFUSE_SECRET_KEY, LANGFUSE_BASE_URL or LANGFUSE_HOST), or from --public-key, --secret-key and
--host. It calls `POST /api/public/gates/{GATE}/evaluate` (the public API, nothing else), prints a
short table of the rules, and exits 0 on pass, 1 on fail, 1 on "cannot tell" (0 with
--cannot-tell pass), and 2 when the gate could not be evaluated (bad arguments, an unknown gate or
candidate, a refused key, an unreachable server).

Standard library only, and no import of the platform: the file can be copied into any CI job.
`manage.py gate` prints the same table on the server.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2
OUTCOME_LABELS = {"pass": "PASS", "fail": "FAIL", "cannot_tell": "CANNOT TELL"}
COLUMNS = ("rule", "score", "outcome", "value", "bound", "p", "interval", "n", "needed")


def exit_code(outcome: str, *, cannot_tell_passes: bool = False) -> int:
    if outcome == "pass" or (outcome == "cannot_tell" and cannot_tell_passes):
        return EXIT_PASS
    return EXIT_FAIL


def _number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def render(result: dict) -> str:
    """The gate's answer as a few lines of text: a headline, one row per rule, and the reasons."""
    baseline = result.get("baseline")
    candidate = result.get("candidate") or {}
    headline = (
        f"gate {result['gate']} v{result['version']}: {OUTCOME_LABELS.get(result['outcome'], result['outcome'])}"
        f" — candidate {candidate.get('name')} ({candidate.get('id')})"
        + (f" vs baseline {baseline['name']} ({baseline['id']})" if baseline else " — no baseline")
    )
    rows = [COLUMNS]
    notes = []
    for index, rule in enumerate(result.get("rules", []), start=1):
        interval = ""
        if rule.get("ciLow") is not None and rule.get("ciHigh") is not None:
            interval = f"[{_number(rule['ciLow'])}, {_number(rule['ciHigh'])}]"
        rows.append(
            (
                f"{index}. {rule['type']}",
                rule.get("score") or "",
                OUTCOME_LABELS.get(rule["outcome"], rule["outcome"]).lower(),
                _number(rule.get("value")),
                _number(rule.get("bound")),
                _number(rule.get("pValue")) if rule.get("pValue") is not None else "",
                interval,
                str(rule.get("n", "")),
                str(rule["requiredN"]) if rule.get("requiredN") is not None else "",
            )
        )
        if rule.get("reason"):
            notes.append(f"  {index}. {rule['reason']}")
    widths = [max(len(str(row[column])) for row in rows) for column in range(len(COLUMNS))]
    lines = [headline, ""]
    for row in rows:
        lines.append("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if result.get("baselineNote"):
        notes.insert(0, f"  baseline: {result['baselineNote']}")
    if notes:
        lines += ["", "why:", *notes]
    return "\n".join(lines)


def evaluate(*, host: str, public_key: str, secret_key: str, gate: str, candidate: str, timeout: float) -> dict:
    """POST /api/public/gates/{gate}/evaluate; raises GateError with the server's message on a refusal."""
    url = f"{host.rstrip('/')}/api/public/gates/{urllib.parse.quote(gate, safe='')}/evaluate"
    token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
    request = urllib.request.Request(
        url,
        data=json.dumps({"candidate": candidate}).encode(),
        method="POST",
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace")
        try:
            message = json.loads(body).get("message") or body
        except (ValueError, AttributeError):
            message = body[:500]
        raise GateError(f"{error.code} from {url}: {message}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise GateError(f"cannot reach {url}: {getattr(error, 'reason', error)}") from None


class GateError(Exception):
    pass


def parser() -> argparse.ArgumentParser:
    env = os.environ
    p = argparse.ArgumentParser(
        prog="python -m experiments.gates.client",
        description="Evaluate a release gate on a candidate run; exit 0 on pass, 1 on fail or cannot tell, 2 on error.",
    )
    p.add_argument("gate", help="the gate policy's name")
    p.add_argument("candidate", help="the candidate run's id, or its name (the newest run of that name)")
    p.add_argument("--host", default=env.get("LANGFUSE_BASE_URL") or env.get("LANGFUSE_HOST"),
                   help="server URL (default: $LANGFUSE_BASE_URL or $LANGFUSE_HOST)")
    p.add_argument("--public-key", default=env.get("LANGFUSE_PUBLIC_KEY"), help="default: $LANGFUSE_PUBLIC_KEY")
    p.add_argument("--secret-key", default=env.get("LANGFUSE_SECRET_KEY"), help="default: $LANGFUSE_SECRET_KEY")
    p.add_argument("--cannot-tell", choices=("fail", "pass"), default="fail",
                   help="how to exit when the gate cannot tell (default: fail, exit 1)")
    p.add_argument("--json", action="store_true", help="print the server's JSON answer instead of the table")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the server (default 120)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    missing = [name for name in ("host", "public_key", "secret_key") if not getattr(args, name)]
    if missing:
        print(f"error: missing {', '.join('--' + name.replace('_', '-') for name in missing)}", file=sys.stderr)
        return EXIT_ERROR
    try:
        result = evaluate(
            host=args.host, public_key=args.public_key, secret_key=args.secret_key,
            gate=args.gate, candidate=args.candidate, timeout=args.timeout,
        )
    except GateError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(result, indent=2) if args.json else render(result))
    return exit_code(result["outcome"], cannot_tell_passes=args.cannot_tell == "pass")


if __name__ == "__main__":
    sys.exit(main())
