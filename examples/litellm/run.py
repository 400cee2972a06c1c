"""LiteLLM with the modelwatch callback: a few calls, each reported.

    MODELWATCH_URL=http://127.0.0.1:8080 MODELWATCH_TOKEN=mw_… OPENAI_API_KEY=sk-… \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    python3 examples/litellm/run.py --model openai/gpt-4o-mini --report-as openai/gpt-4o-mini \
        --api-base https://api.openai.com/v1
"""

import argparse
import os
import sys
import time

import litellm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelwatch_callback import ModelwatchLogger  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", action="append", required=True, help="LiteLLM model names")
    parser.add_argument("--report-as", required=True, help="the model's id in modelwatch")
    parser.add_argument("--api-base", default=None)
    parser.add_argument("--calls", type=int, default=1)
    args = parser.parse_args()
    logger = ModelwatchLogger(
        os.environ["MODELWATCH_URL"],
        os.environ["MODELWATCH_TOKEN"],
        source="litellm-example",
        names={m: args.report_as for m in args.model},
    )
    litellm.callbacks = [logger]
    expected = 0
    for model in args.model:
        for _ in range(args.calls):
            expected += 1
            try:
                stream = litellm.completion(
                    model=model,
                    messages=[{"role": "user", "content": "Reply with the single word: ok"}],
                    max_tokens=16,
                    stream=True,
                    api_base=args.api_base,
                    num_retries=0,
                    max_retries=0,
                )
                text = "".join((c.choices[0].delta.content or "") for c in stream)
                print(f"{model}: {text!r}")
            except Exception as e:
                print(f"{model}: {type(e).__name__}: {e}", file=sys.stderr)
    # LiteLLM runs callbacks on its own threads after each call returns: wait for them.
    deadline = time.monotonic() + 10
    while logger.reporter.rows.qsize() + logger.reporter.sent < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    logger.reporter.close()
    r = logger.reporter
    print(f"reported {r.sent}, dropped {r.dropped}, refused {r.refused}")
    return 0 if r.sent == expected and not r.refused else 1


if __name__ == "__main__":
    sys.exit(main())
