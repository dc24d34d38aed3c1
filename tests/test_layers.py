"""The apps' layers hold: no app imports one above it, and the engine imports no
admin, API, task or service code. The contracts live in pyproject.toml."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(config: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_IMPORTS, "--config", str(config), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": ""},
        capture_output=True,
        text=True,
    )


def test_the_project_keeps_its_layers():
    result = lint_imports(ROOT / "pyproject.toml", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_lower_app_importing_a_higher_one_breaks_the_contract(tmp_path):
    """The same contracts over a copy of the layout in which contacts imports devtools."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    for package in config["root_packages"]:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for module in ("engine", "admin", "api", "tasks", "services"):
        (tmp_path / "segments" / f"{module}.py").write_text("")
    (tmp_path / "contacts" / "models.py").write_text("import devtools\n")
    (tmp_path / "setup.cfg").write_text(_as_ini(config))

    result = lint_imports(tmp_path / "setup.cfg", tmp_path)

    assert result.returncode != 0
    assert "contacts.models -> devtools" in result.stdout


def _as_ini(config: dict) -> str:
    lines = ["[importlinter]", "root_packages =", *(f"    {p}" for p in config["root_packages"])]
    for number, contract in enumerate(config["contracts"]):
        lines.append(f"[importlinter:contract:{number}]")
        for key, value in contract.items():
            if isinstance(value, list):
                lines += [f"{key} =", *(f"    {item}" for item in value)]
            else:
                lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"
