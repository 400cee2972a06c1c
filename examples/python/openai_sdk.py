"""A few lines around an OpenAI SDK call that report each call's outcome to modelwatch.

    MODELWATCH_URL=http://127.0.0.1:8080 MODELWATCH_TOKEN=mw_… \
    OPENAI_BASE_URL=https://api.openai.com/v1 OPENAI_API_KEY=sk-… \
    python3 examples/python/openai_sdk.py --model gpt-4o-mini --report-as openai/gpt-4o-mini

`--report-as` is the model's id in modelwatch (`provider-id/model-id`, as /api/v1/routing
lists it). The same shape works around the Anthropic SDK: time `client.messages.stream(…)`
and call `call.first_token()` on the first `text` event.
"""

import argparse
import os
import sys

from openai import OpenAI

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelwatch_reporter import Reporter  # noqa: E402


def ask(client, reporter, model, report_as, prompt):
    """One streamed chat call, timed and reported; returns the text or None on failure."""
    text = []
    try:
        with reporter.timed(report_as) as call:
            stream = client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=16,
                stream=True,
            )
            for chunk in stream:
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    call.first_token()
                    text.append(delta)
    except Exception as e:  # reported as a failure by the `with` block
        print(f"{model}: {type(e).__name__}: {e}", file=sys.stderr)
        return None
    return "".join(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", required=True, help="repeat for several")
    parser.add_argument("--report-as", required=True)
    parser.add_argument("--calls", type=int, default=1, help="calls per model")
    parser.add_argument("--source", default="openai-sdk-example")
    args = parser.parse_args()
    reporter = Reporter(os.environ["MODELWATCH_URL"], os.environ["MODELWATCH_TOKEN"], source=args.source)
    client = OpenAI(max_retries=0)
    for model in args.model:
        for _ in range(args.calls):
            answer = ask(client, reporter, model, args.report_as, "Reply with the single word: ok")
            print(f"{model}: {answer!r}")
    reporter.close()
    print(f"reported {reporter.sent}, dropped {reporter.dropped}, refused {reporter.refused}")
    return 0 if reporter.dropped == 0 and not reporter.refused else 1


if __name__ == "__main__":
    sys.exit(main())
