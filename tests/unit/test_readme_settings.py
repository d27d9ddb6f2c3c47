"""The README's settings table is the one the settings models give (`tests/support/settings_table.py`): a setting
added, removed, renamed or re-documented without regenerating it fails here."""

from tests.support.settings_table import BEGIN, END, README, SERVICES, rewritten, settings_of, table


def test_the_readme_settings_table_matches_the_settings_models() -> None:
    readme = README.read_text()
    assert BEGIN in readme
    assert END in readme
    assert rewritten(readme) == readme, "regenerate it: uv run --frozen python -m tests.support.settings_table"


def test_the_table_has_every_variable_of_every_service_with_its_meaning() -> None:
    rows = table()
    for model in SERVICES.values():
        for setting in settings_of(model):
            assert f"| `{setting.variable}` |" in rows
            assert setting.meaning, f"{setting.variable} has no docstring"
    assert "gateway `9180`, policy `9181`, scheduler `9182`, executor `9183`" in rows
    assert "| `SYNCLINE_FILES__ROOT` | gateway, policy, executor | `.local/files` |" in rows
