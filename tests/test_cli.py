import subprocess
import sys

import pytest

from xrbridge import cli
from xrbridge.errors import UnknownNameError, XrbridgeError
from xrbridge.names import MODELS, check_name


def test_help_lists_built_verbs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "xrbridge" in out


def test_no_verb_is_usage_error() -> None:
    assert cli.main([]) == 2


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match="patchcore, memseg"):
        check_name("model", "resnet", MODELS)
    assert issubclass(UnknownNameError, XrbridgeError)


def test_python_dash_m_runs() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "xrbridge", "--version"], capture_output=True, text=True
    )
    assert r.returncode == 0
    assert r.stdout.startswith("xrbridge ")
