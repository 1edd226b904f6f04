"""The untrusted copy of a mypy config: code-running keys gone, everything else kept."""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

from stomper_lsp.checkers.mypy_config import find_config, sanitized_config


def test_toml_config_loses_plugins_and_python_executable_only(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mypy]\nplugins = ["pydantic.mypy"]\npython_executable = "/x/python"\n'
        'strict = true\nmypy_path = "$MYPY_CONFIG_FILE_DIR/stubs"\n'
        '[[tool.mypy.overrides]]\nmodule = ["a.*", "b"]\nignore_errors = true\n'
        'install_types = true\n'
    )
    copy = sanitized_config(tmp_path, tmp_path / "scratch")
    assert copy is not None and copy.name == "pyproject.toml"
    mypy = tomllib.loads(copy.read_text())["tool"]["mypy"]
    assert mypy == {
        "strict": True,
        "mypy_path": f"{tmp_path}/stubs",
        "overrides": [{"module": ["a.*", "b"], "ignore_errors": True}],
    }


def test_ini_config_is_found_above_the_checked_folder(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "setup.cfg").write_text(
        "[metadata]\nname = x\n[mypy]\nplugins = evil\nwarn_unused_ignores = True\n"
        "[mypy-tests.*]\npython_executable = /bin/evil\ndisallow_untyped_defs = False\n"
    )
    sub = tmp_path / "pkg"
    sub.mkdir()
    assert find_config(sub) == tmp_path / "setup.cfg"
    copy = sanitized_config(sub, tmp_path / "scratch")
    assert copy is not None and copy.name == "mypy.ini"
    parser = configparser.RawConfigParser()
    parser.read(copy)
    assert parser.sections() == ["mypy", "mypy-tests.*"]
    assert dict(parser.items("mypy")) == {"warn_unused_ignores": "True"}
    assert dict(parser.items("mypy-tests.*")) == {"disallow_untyped_defs": "False"}


def test_a_config_without_code_running_keys_is_used_as_it_is(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n")
    assert sanitized_config(tmp_path, tmp_path / "scratch") is None
    (tmp_path / "mypy.ini").unlink()
    assert find_config(tmp_path) is None  # the search stops at the repository's top
