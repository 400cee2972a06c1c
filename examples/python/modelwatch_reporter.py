"""Report the outcome of your own model calls to modelwatch (standard library only).

modelwatch judges each model on its probes and on your application's real traffic. This
module batches one observation per call and sends them to `POST /api/v1/observations` with
an API token of the `ingest` scope, from a background thread, so a call never waits on
modelwatch, and modelwatch being down never breaks a call (rows are dropped, counted in
`Reporter.dropped`).

    reporter = Reporter("http://127.0.0.1:8080", os.environ["MODELWATCH_TOKEN"], source="checkout")
    with reporter.timed("openai/gpt-4o-mini") as call:
        stream = client.chat.completions.create(..., stream=True)
        for chunk in stream:
            call.first_token()          # the first chunk with text
            ...
    # an exception inside the block is reported as a failure and re-raised

Failures are sent as the HTTP status and the exception's class name: modelwatch classifies
them as its probers classify theirs (429 is your quota, 400/401/403/404 your request or key:
none of those counts against the model).
"""

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

BATCH = 500


class Call:
    """One timed call: marks its first token, ends as ok or failed."""

    def __init__(self, model):
        self.model = model
        self.started = time.monotonic()
        self.at = datetime.now(timezone.utc)
        self.ttft_ms = None

    def first_token(self):
        if self.ttft_ms is None:
            self.ttft_ms = int((time.monotonic() - self.started) * 1000)

    def row(self, error=None):
        row = {
            "model": self.model,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "total_ms": int((time.monotonic() - self.started) * 1000),
        }
        if self.ttft_ms is not None:
            row["ttft_ms"] = self.ttft_ms
        if error is None:
            row["outcome"] = "ok"
        else:
            row.update(describe(error))
        return row


def describe(error):
    """The status and error type of an SDK exception (OpenAI, Anthropic, httpx, LiteLLM)."""
    out = {"error_type": type(error).__name__}
    status = getattr(error, "status_code", None)
    if status is None:
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", None)
    if isinstance(status, int) and 100 <= status <= 599:
        out["status"] = status
    body = getattr(error, "body", None)
    # Providers name overload in the error body ("overloaded_error", "...is overloaded").
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("type"), str):
            out["error_type"] = inner["type"]
    if "overloaded" in str(error).lower():
        out["error_type"] = "overloaded"
    return out


class _Timed:
    def __init__(self, reporter, model):
        self.reporter = reporter
        self.call = Call(model)

    def __enter__(self):
        return self.call

    def __exit__(self, kind, error, tb):
        self.reporter.add(self.call.row(error))
        return False  # re-raise


class Reporter:
    """Batches observations and sends them from a background thread."""

    def __init__(self, url, token, source=None, flush_every=1.0, timeout=5.0):
        self.endpoint = url.rstrip("/") + "/api/v1/observations"
        self.token = token
        self.source = source
        self.flush_every = flush_every
        self.timeout = timeout
        self.rows = queue.Queue(maxsize=100_000)
        self.sent = 0
        self.dropped = 0
        self.refused = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def timed(self, model):
        """A context manager timing one call of `model` (`provider/model` in modelwatch)."""
        return _Timed(self, model)

    def add(self, row):
        if self.source and "source" not in row:
            row["source"] = self.source
        try:
            self.rows.put_nowait(row)
        except queue.Full:
            self.dropped += 1

    def close(self):
        """Sends what is left and stops the thread."""
        self._stop.set()
        self._thread.join(self.timeout + 1)

    def _run(self):
        while not self._stop.is_set():
            self._stop.wait(self.flush_every)
            self._flush()
        self._flush()

    def _flush(self):
        while True:
            batch = []
            while len(batch) < BATCH:
                try:
                    batch.append(self.rows.get_nowait())
                except queue.Empty:
                    break
            if not batch:
                return
            self._send(batch)

    def _send(self, batch):
        request = urllib.request.Request(
            self.endpoint,
            data=json.dumps(batch).encode(),
            headers={
                "Authorization": "Bearer " + self.token,
                "Content-Type": "application/json",
            },
            method="POST",
        )
        for attempt in range(3):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    body = json.load(answer)
                    self.sent += body.get("accepted", 0)
                    self.refused.extend(body.get("refused", []))
                    return
            except urllib.error.HTTPError as e:
                if e.code in (429, 503):
                    # modelwatch asks to wait: the batch was not kept, send it again.
                    time.sleep(float(e.headers.get("Retry-After", "1")))
                    continue
                self.dropped += len(batch)
                return
            except OSError:
                time.sleep(0.2 * (attempt + 1))
        self.dropped += len(batch)
