"""`bulwark tools call`: exit codes and output."""

from __future__ import annotations

import json

from helpers import CORE_TOOLS, run_cli


def test_tools_call_prints_the_result_as_json(bulwark_bin, data_dir):
    r = run_cli(bulwark_bin, data_dir, "tools", "call", "test_tool", "--args", '{"message":"x"}')
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["content"] == [{"type": "text", "text": "x"}]
    assert result.get("isError") in (None, False)


def test_tools_call_structured_content(bulwark_bin, data_dir):
    r = run_cli(bulwark_bin, data_dir, "tools", "call", "get_sensor_info", "--args", '{"sid":"local"}')
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["structuredContent"]["sid"] == "local"


def test_tools_call_args_not_json_exits_2_naming_args(bulwark_bin, data_dir):
    r = run_cli(bulwark_bin, data_dir, "tools", "call", "test_tool", "--args", "not json")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "--args" in r.stderr
    assert r.stdout == ""


def test_tools_call_args_not_an_object_exits_2(bulwark_bin, data_dir):
    r = run_cli(bulwark_bin, data_dir, "tools", "call", "test_tool", "--args", "[1, 2]")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "--args" in r.stderr


def test_tools_call_tool_error_exits_1_with_is_error(bulwark_bin, data_dir):
    r = run_cli(bulwark_bin, data_dir, "tools", "call", "get_sensor_info", "--args", '{"sid":"other"}')
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    result = json.loads(r.stdout)
    assert result["isError"] is True
    assert "other" in result["content"][0]["text"]


def test_tools_call_unknown_tool_exits_2(bulwark_bin, data_dir):
    r = run_cli(bulwark_bin, data_dir, "tools", "call", "no_such_tool_xyz")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "no_such_tool_xyz" in r.stderr
    assert r.stdout == ""


def test_tools_call_respects_profile(bulwark_bin, data_dir):
    # test_simple_text lives only in the isolated conformance profile.
    r = run_cli(bulwark_bin, data_dir, "tools", "call", "test_simple_text")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    r = run_cli(bulwark_bin, data_dir, "tools", "call", "test_simple_text", "--profile", "conformance")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["content"][0]["text"] == "This is a simple text response for testing."


def test_tools_list_json_core(bulwark_bin, data_dir):
    r = run_cli(bulwark_bin, data_dir, "tools", "list", "--profile", "core", "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    names = {t["name"] for t in (listed["tools"] if isinstance(listed, dict) else listed)}
    assert names == CORE_TOOLS
