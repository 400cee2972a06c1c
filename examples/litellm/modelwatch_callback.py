"""A LiteLLM callback that reports every call's outcome to modelwatch.

    import litellm
    from modelwatch_callback import ModelwatchLogger
    litellm.callbacks = [ModelwatchLogger(url="http://127.0.0.1:8080", token=os.environ["MODELWATCH_TOKEN"],
                                          source="my-gateway", names={"openai/gpt-4o-mini": "openai/gpt-4o-mini"})]

LiteLLM calls it after each request (success or failure, streamed or not) with the start
and end times and, for streams, when the first chunk came (`completion_start_time`). It
hands one observation per call to a background reporter (see
`examples/python/modelwatch_reporter.py`), so LiteLLM never waits on modelwatch.

`names` maps LiteLLM's `<provider>/<model>` (e.g. `anthropic/claude-3-5-haiku-latest`) to
the model's id in modelwatch; a call of a model not in `names` is reported as
`<provider>/<model>` and refused by modelwatch if no such model is configured.
"""

import os
import sys
from datetime import timezone

from litellm.integrations.custom_logger import CustomLogger

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from modelwatch_reporter import Reporter, describe  # noqa: E402


def _ms(delta):
    return max(0, int(delta.total_seconds() * 1000))


class ModelwatchLogger(CustomLogger):
    def __init__(self, url, token, source="litellm", names=None):
        super().__init__()
        self.reporter = Reporter(url, token, source=source)
        self.names = names or {}

    def _model(self, kwargs):
        params = kwargs.get("litellm_params") or {}
        provider = params.get("custom_llm_provider") or ""
        model = kwargs.get("model") or ""
        if "/" in model and not provider:
            provider, model = model.split("/", 1)
        full = f"{provider}/{model}" if provider else model
        return self.names.get(full) or self.names.get(model) or full

    def _row(self, kwargs, start_time, end_time, error=None):
        row = {
            "model": self._model(kwargs),
            "at": start_time.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
            "total_ms": _ms(end_time - start_time),
        }
        first = kwargs.get("completion_start_time")
        if error is None:
            row["outcome"] = "ok"
            if first is not None and kwargs.get("stream"):
                row["ttft_ms"] = _ms(first - start_time)
        else:
            row.update(describe(error))
        return row

    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        self.reporter.add(self._row(kwargs, start_time, end_time))

    def log_failure_event(self, kwargs, response_obj, start_time, end_time):
        error = kwargs.get("exception") or Exception(str(kwargs.get("exception_str", "error")))
        self.reporter.add(self._row(kwargs, start_time, end_time, error))

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self.log_success_event(kwargs, response_obj, start_time, end_time)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self.log_failure_event(kwargs, response_obj, start_time, end_time)
