"""The ``warmline`` command as a user runs it: ``python -m ivr`` in a subprocess, from the root.

Exit codes, stdout and stderr are the interface: ``validate`` prints ``path:line: message`` (or
JSON), ``serve`` refuses to start on a bad deployment or without the Twilio token, and
``simulate`` places a call in-process, typed or scripted, or against a real server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.golden import expected_problems
from tests.support.services import AUTH_TOKEN, clean_env, free_port, start_server, warmline

pytestmark = pytest.mark.e2e

KEYPAD_SCENARIO = "tests/scenarios/keypad_refinance_texas.yaml"
LOCAL_ANSWERS = (
    "answers: loan_type=refinance, state=TX, credit_band=good, goal=refinance to a lower rate, "
    "intent=unknown, score=70, qualified=yes"
)
LOCAL_SCORE = "score:   70 (qualified): intent model not loaded (+70)"
MORTGAGE_PATH = (
    "disclosure → loan_type → property_state → credit → goal → qualify → route → connect"
)
DEAD_END = (
    "tests/flows/bad/dead_end.yaml:8: step 'message': the flow ends here: "
    "give this last step a 'next', or end with a hangup"
)
UNKNOWN_CAMPAIGN = [
    "tests/deployments/bad/unknown_campaign.yaml:19: numbers[0]: "
    "unknown campaign 'sunbelts' (did you mean 'sunbelt'?)",
    "tests/deployments/bad/unknown_campaign.yaml:22: numbers[1]: unknown campaign 'national'",
]
BROKEN_FLOW = [
    "tests/deployments/bad/broken_flow.yaml:15: campaigns[0]: "
    "unknown state 'Florida' (did you mean 'FL'?)",
    "tests/deployments/bad/broken_flows/intake.yaml:7: step 'loan_type': field 'parser': "
    "unknown parser 'loan_typ' (known parsers: credit_band, digits, free_text, loan_type, "
    "us_state, yes_no)",
    "tests/deployments/bad/broken_flows/intake.yaml:13: step 'connect': field 'on_fail': "
    "unknown step 'goodbye' (did you mean 'bye'?)",
]


# --- validate ------------------------------------------------------------------------------


def test_validate_without_arguments_checks_the_shipped_deployment() -> None:
    result = warmline("validate")
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == "ok: 1 file(s) checked\n"


def test_validate_a_bad_flow_prints_path_line_message() -> None:
    result = warmline("validate", "tests/flows/bad/dead_end.yaml")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [DEAD_END]
    assert result.stderr == ""


def test_validate_a_bad_deployment_reports_its_flows_problems_too() -> None:
    result = warmline("validate", "tests/deployments/bad/broken_flow.yaml")
    assert result.returncode == 1
    assert result.stdout.splitlines() == BROKEN_FLOW


def test_validate_a_deployment_missing_a_section_is_read_as_a_deployment() -> None:
    """It has no 'numbers', but is still not mistaken for a flow (no "missing field 'flow'")."""
    result = warmline("validate", "tests/deployments/bad/missing_required_section.yaml")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "tests/deployments/bad/missing_required_section.yaml:5: missing field 'numbers'",
        "tests/deployments/bad/missing_required_section.yaml:10: campaigns[0]: "
        "missing field 'name'",
        "tests/deployments/bad/missing_required_section.yaml:13: campaigns[0]: field 'states': "
        "List should have at least 1 item after validation, not 0",
    ]


def test_validate_json_lists_path_line_and_message() -> None:
    result = warmline("validate", "--json", "tests/deployments/bad/unknown_campaign.yaml")
    assert result.returncode == 1
    assert json.loads(result.stdout) == [
        {
            "path": "tests/deployments/bad/unknown_campaign.yaml",
            "line": 19,
            "message": "numbers[0]: unknown campaign 'sunbelts' (did you mean 'sunbelt'?)",
        },
        {
            "path": "tests/deployments/bad/unknown_campaign.yaml",
            "line": 22,
            "message": "numbers[1]: unknown campaign 'national'",
        },
    ]


def test_validate_json_of_good_files_is_an_empty_list() -> None:
    result = warmline("validate", "--json", "warmline.yaml", "flows")
    assert (result.returncode, json.loads(result.stdout)) == (0, [])


def test_validate_several_paths_reports_every_problem_in_order() -> None:
    result = warmline(
        "validate",
        "tests/flows/bad/dead_end.yaml",
        "no/such/flows.yaml",
        "tests/deployments/bad/unknown_campaign.yaml",
        "flows",
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        DEAD_END,
        "no/such/flows.yaml:0: no such file or directory",
        *UNKNOWN_CAMPAIGN,
    ]


def test_validate_a_missing_path_fails() -> None:
    result = warmline("validate", "--json", "nowhere")
    assert result.returncode == 1
    assert json.loads(result.stdout) == [
        {"path": "nowhere", "line": 0, "message": "no such file or directory"}
    ]


def test_validate_a_directory_of_deployments_reports_each_problem_once() -> None:
    """Two deployments share the broken flow directory: its problems are printed once."""
    bad = Path("tests/deployments/bad")
    # a top-level list cannot be told from a flow, so it is checked (and reported) as one
    expected = {
        line
        for path in bad.glob("*.yaml")
        if path.stem != "top_level_list"
        for line in expected_problems(path)
    }
    expected.add(
        f"{bad}/top_level_list.yaml:3: Input should be a valid dictionary or instance of Flow"
    )
    result = warmline("validate", str(bad))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert set(lines) == expected
    assert len(lines) == len(expected)
    assert (
        f"{bad}/broken_flows/intake.yaml:13: step 'connect': field 'on_fail': "
        "unknown step 'goodbye' (did you mean 'bye'?)" in lines
    )


# --- schema --------------------------------------------------------------------------------


def test_schema_prints_the_flow_json_schema() -> None:
    result = warmline("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "Warmline call flow"
    assert {"flow", "steps"} <= set(schema["required"])


# --- serve ---------------------------------------------------------------------------------


def test_serve_refuses_an_invalid_deployment() -> None:
    port = free_port()
    result = warmline(
        "serve",
        "--deployment",
        "tests/deployments/bad/unknown_campaign.yaml",
        "--port",
        str(port),
        env={"WARMLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN},
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        *UNKNOWN_CAMPAIGN,
        "warmline: 2 problem(s) in the deployment; not starting.",
    ]


def test_serve_without_the_twilio_token_names_the_variable(redis_url: str) -> None:
    env = {"WARMLINE_REDIS_URL": redis_url, "WARMLINE_PORT": str(free_port())}
    assert "WARMLINE_TWILIO_AUTH_TOKEN" not in clean_env(env)
    assert "TWILIO_AUTH_TOKEN" not in clean_env(env)
    result = warmline("serve", env=env, timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith("warmline: WARMLINE_TWILIO_AUTH_TOKEN is not set")
    assert "serving" not in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_rejects_a_malformed_port_setting() -> None:
    result = warmline("serve", env={"WARMLINE_PORT": "http", "WARMLINE_TWILIO_AUTH_TOKEN": "t"})
    assert result.returncode == 1
    assert result.stderr.startswith("warmline: invalid settings in the environment: ")
    assert "port" in result.stderr
    assert "Traceback" not in result.stderr


# --- simulate: in-process ------------------------------------------------------------------


def test_simulate_script_in_process_passes(scenario_deployment_path: Path, redis_url: str) -> None:
    result = warmline(
        "simulate",
        "--deployment",
        str(scenario_deployment_path),
        "--script",
        KEYPAD_SCENARIO,
        env={"WARMLINE_REDIS_URL": redis_url},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Calling +18005550100 from +15125550123 through the in-process engine."
    assert f"path:    {MORTGAGE_PATH}" in lines
    assert LOCAL_ANSWERS in lines
    assert LOCAL_SCORE in lines
    assert "outcome: transferred" in lines
    assert "transfer: +15125550121" in lines
    assert lines[-1] == "PASS Refinance by keypad, Texas by ZIP, good credit — transferred"
    assert result.stderr == ""


def test_simulate_from_state_overrides_the_scripts(tmp_path: Path) -> None:
    script = tmp_path / "asked.yaml"
    script.write_text(
        "name: a caller the flow must ask before recording\n"
        "turns:\n"
        "  - digits: '2'\n"
        "  - hangup: true\n"
        "expect:\n"
        "  consent: notice\n",
        encoding="utf-8",
    )
    told = warmline("simulate", "--script", str(script), "--from-state", "TX")
    assert told.returncode == 0, told.stdout + told.stderr
    asked = warmline("simulate", "--script", str(script), "--from-state", "CA")
    assert asked.returncode == 1
    assert "FAIL consent: expected 'notice', got 'refused'" in asked.stdout.splitlines()


def test_simulate_script_with_a_wrong_expectation_fails(tmp_path: Path) -> None:
    script = tmp_path / "wrong.yaml"
    script.write_text(
        "name: expects the wrong outcome\n"
        "turns:\n"
        "  - digits: '1'\n"
        "  - digits: '75201'\n"
        "  - digits: '2'\n"
        "  - speech: lower my rate\n"
        "  - transfer: accepted\n"
        "expect:\n"
        "  outcome: not_served\n"
        "  answers: {loan_type: purchase}\n",
        encoding="utf-8",
    )
    result = warmline("simulate", "--script", str(script))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "outcome: transferred" in lines
    assert [line for line in lines if line.startswith(("FAIL", "PASS"))] == [
        "FAIL answers: expected {'loan_type': 'purchase'}, got {'loan_type': 'refinance', "
        "'state': 'TX', 'credit_band': 'good', 'goal': 'lower my rate', 'intent': 'unknown', "
        "'score': '70', 'qualified': 'yes'}",
        "FAIL outcome: expected 'not_served', got 'transferred'",
    ]


def test_simulate_script_that_runs_out_of_turns_fails_without_a_traceback(
    tmp_path: Path,
) -> None:
    script = tmp_path / "short.yaml"
    script.write_text("turns:\n  - digits: '1'\n", encoding="utf-8")
    result = warmline("simulate", "--script", str(script))
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == (
        "FAIL script ran out of turns: the app asked for <Gather input='dtmf speech'> after the "
        "caller heard: Which state is the property in? Say the state, or enter the property's "
        "five digit ZIP code."
    )
    assert "Traceback" not in result.stderr


def test_simulate_script_with_turns_left_over_fails(tmp_path: Path) -> None:
    script = tmp_path / "long.yaml"
    script.write_text(
        "turns:\n  - digits: '5'\n  - digits: '75201'\n  - digits: '1'\n  - silence: true\n"
        "  - silence: true\n  - digits: '9'\n",
        encoding="utf-8",
    )
    result = warmline("simulate", "--script", str(script))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (
        "path:    disclosure → loan_type → property_state → credit → goal → qualify → route → "
        "not_served_loan"
    ) in lines
    assert lines[-1] == "FAIL the call ended with 1 turn(s) of the script unused"


def test_simulate_script_with_bad_yaml_prints_path_and_line(tmp_path: Path) -> None:
    script = tmp_path / "broken.yaml"
    script.write_text("turns:\n  - digits: '1'\n  - [\n", encoding="utf-8")
    result = warmline("simulate", "--script", str(script))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{script}:4: invalid YAML: expected the node content, but found '<stream end>'",
        "warmline: 1 problem(s) in the script; no call placed.",
    ]


def test_simulate_script_with_bad_turns_reports_each_with_its_line(tmp_path: Path) -> None:
    script = tmp_path / "turns.yaml"
    script.write_text(
        "turns:\n"
        "  - digits: '1'\n"
        "  - dgits: '75201'\n"
        "  - speech\n"
        "expect:\n"
        "  said: may be recorded\n",
        encoding="utf-8",
    )
    result = warmline("simulate", "--script", str(script))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{script}:3: turn 1 {{'dgits': '75201'}}: needs exactly one of "
        "['digits', 'hangup', 'record', 'silence', 'speech', 'transfer']",
        f"{script}:4: turn 2 'speech': each turn is a mapping, e.g. digits: '1'",
        f"{script}:6: expect: said must be a list of texts the caller hears",
        "warmline: 3 problem(s) in the script; no call placed.",
    ]


def test_simulate_interactive_call_with_piped_answers(
    scenario_deployment_path: Path, redis_url: str
) -> None:
    # loan type 1 (refinance), state by voice, credit 2 (good), the goal in words, officer answers
    result = warmline(
        "simulate",
        "--deployment",
        str(scenario_deployment_path),
        stdin="1\ntexas\n2\nrefinance to a lower rate\na\n",
        env={"WARMLINE_REDIS_URL": redis_url},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Calling +18005550100 from +15125550123 through the in-process engine."
    assert "… ringing +15125550121" in result.stdout
    assert f"path:    {MORTGAGE_PATH}" in lines
    assert LOCAL_ANSWERS in lines
    assert LOCAL_SCORE in lines
    assert "outcome: transferred" in lines
    assert "transfer: +15125550121" in lines


def test_simulate_interactive_caller_can_hang_up() -> None:
    result = warmline("simulate", "--number", "+18005550101", stdin="/hangup\n")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Calling +18005550101 from +15125550123 through the in-process engine."
    assert "path:    disclosure → loan_type" in lines
    assert "outcome: abandoned" in lines


def test_simulate_unknown_number_is_a_clear_error() -> None:
    result = warmline("simulate", "--number", "+19999999999")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "warmline: +19999999999 is not a tracking number in warmline.yaml "
        "(known: +18005550100, +18005550101)\n"
    )


# --- simulate: against a server (what scripts/run.sh does) ---------------------------------


def test_simulate_against_a_server_plays_the_scenario(
    redis_url: str, tmp_path: Path, scenario_deployment_path: Path
) -> None:
    server = start_server(redis_url, None, tmp_path, deployment=scenario_deployment_path)
    try:
        result = warmline(
            "simulate",
            "--server",
            server.url,
            "--script",
            KEYPAD_SCENARIO,
            env={"WARMLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "WARMLINE_REDIS_URL": redis_url},
        )
    finally:
        assert server.stop() == 0
    assert result.returncode == 0, result.stdout + result.stderr + server.log()
    lines = result.stdout.splitlines()
    assert lines[0] == f"Calling +18005550100 from +15125550123 through server {server.url}."
    assert f"path:    {MORTGAGE_PATH}" in lines
    answers = next(line for line in lines if line.startswith("answers: "))
    assert answers.startswith("answers: loan_type=refinance, state=TX, credit_band=good")
    assert LOCAL_SCORE in lines  # read back from the call state the server kept
    assert "outcome: transferred" in lines
    assert "transfer: +15125550121" in lines
    assert lines[-1] == "PASS Refinance by keypad, Texas by ZIP, good credit — transferred"


def test_simulate_against_a_server_needs_the_token(redis_url: str) -> None:
    result = warmline(
        "simulate",
        "--server",
        f"http://127.0.0.1:{free_port()}",
        "--script",
        KEYPAD_SCENARIO,
        env={"WARMLINE_REDIS_URL": redis_url},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("warmline: WARMLINE_TWILIO_AUTH_TOKEN is not set")
