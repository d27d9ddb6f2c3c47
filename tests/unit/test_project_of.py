"""Where the local state folder is looked for: the uv workspace a module lies in, and none for an install outside a
checkout (a wheel in site-packages), which then reads only `$SYNCLINE_HOME` and the working directory."""

from pathlib import Path

from syncline_platform.settings import PROJECT, local_password_files, project_of


def test_the_workspace_is_found_above_a_module(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.uv.workspace]\nmembers = ["libs/*"]\n')
    module = tmp_path / "libs" / "a" / "src" / "a" / "m.py"
    module.parent.mkdir(parents=True)
    (tmp_path / "libs" / "a" / "pyproject.toml").write_text('[project]\nname = "a"\n')  # a member, not the root
    module.write_text("")
    assert project_of(module) == tmp_path


def test_an_install_outside_a_checkout_has_none(tmp_path: Path) -> None:
    module = tmp_path / "site-packages" / "syncline_platform" / "settings.py"
    module.parent.mkdir(parents=True)
    module.write_text("")
    assert project_of(module) is None


def test_this_checkout_is_the_project() -> None:
    assert Path(__file__).resolve().parents[2] == PROJECT
    assert local_password_files(environ={}, cwd=Path("/nowhere")) == [
        Path("/nowhere/.local/pg/superuser.password"),
        PROJECT / ".local" / "pg" / "superuser.password",
    ]
