"""schemathesis against a live server's ``/openapi.json`` on loopback: no 500, as documented.

Bounded: a fixed number of examples per operation and generation mode, derandomized (the same
cases every run), against ``tecktrack serve`` on 127.0.0.1 with runs capped at 1 s. The number
of cases sent is printed (``-s``) and asserted, and quoted in the README.
"""

from __future__ import annotations

import pytest
from test_service import SERVER_PATHS, serve, stop, world  # noqa: F401 (fixture)

schemathesis = pytest.importorskip("schemathesis")  # the dev extra

pytestmark = pytest.mark.timeout(600)

#: Examples per operation and generation mode (positive: fits the schema; negative: does not).
EXAMPLES = 60


@pytest.fixture(scope="module")
def fuzzed_server(world, repo_root):  # noqa: F811 (the imported fixture)
    proc, base = serve(world, repo_root, "--max-run-s", "1", "--threads", "2", "--queue", "2")
    try:
        yield base
    finally:
        stop(proc)


def test_no_generated_request_gets_a_500_or_an_undocumented_answer(fuzzed_server):
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation.modes import GenerationMode
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance, negative_data_rejection]
    schema = schemathesis.openapi.from_url(f"{fuzzed_server}/openapi.json")
    sent: dict[tuple[str, str], int] = {}
    statuses: dict[int, int] = {}

    def exercise_all(operation, mode) -> None:
        key = (operation.label, str(mode))

        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def exercise(case):
            response = case.call_and_validate(base_url=fuzzed_server, checks=checks,
                                              timeout=30)
            assert not [p for p in SERVER_PATHS if p in response.text], response.text
            sent[key] = sent.get(key, 0) + 1
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        exercise()

    for result in schema.get_all_operations():
        operation = result.ok()
        exercise_all(operation, GenerationMode.POSITIVE)
        if operation.body:
            exercise_all(operation, GenerationMode.NEGATIVE)

    total = sum(sent.values())
    print(f"\nschemathesis: {total} cases, none a 500; by operation {sent}; "
          f"statuses {dict(sorted(statuses.items()))}")
    assert 500 not in statuses
    assert sent[("POST /run_inference", "positive")] >= EXAMPLES // 2
    assert sent[("POST /run_inference", "negative")] >= EXAMPLES // 2
