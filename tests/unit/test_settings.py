"""The settings loader: FF_* variables into the Settings model, with errors that name the variable."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.core.settings import Settings, SettingsError, get_settings, load_settings, reset_settings


def test_defaults_without_any_variable():
    s = load_settings({})
    assert s == Settings()
    assert s.author_link_days == 730 and s.signup_domains == {} and s.stage == "local"


def test_variables_are_read_by_name_in_any_case_and_converted():
    s = load_settings({"FF_TABLE_NAME": "t1", "ff_stage": "prod", "Ff_Author_Link_Days": "30"})
    assert (s.table_name, s.stage, s.author_link_days) == ("t1", "prod", 30)


def test_dict_and_list_fields_are_json():
    s = load_settings({"FF_SIGNUP_DOMAINS": '{"riverside-trust": ["nhs.net", "riverside.nhs.uk"]}'})
    assert s.signup_domains == {"riverside-trust": ["nhs.net", "riverside.nhs.uk"]}


def test_unknown_and_unprefixed_variables_are_ignored():
    s = load_settings({"FF_NO_SUCH_SETTING": "x", "TABLE_NAME": "nope", "PATH": "/bin", "FFTABLE_NAME": "nope"})
    assert s.table_name == "feedforward"


@pytest.mark.parametrize(
    "env, named",
    [
        ({"FF_AUTHOR_LINK_DAYS": "soon"}, "FF_AUTHOR_LINK_DAYS"),
        ({"ff_author_link_days": "0"}, "ff_author_link_days"),  # below its bound, named as it was spelled
        ({"FF_SIGNUP_DOMAINS": "{not json"}, "FF_SIGNUP_DOMAINS"),
        ({"FF_SIGNUP_DOMAINS": '{"org": "nhs.net"}'}, "FF_SIGNUP_DOMAINS"),  # JSON, but not a list of domains
    ],
)
def test_a_bad_value_raises_an_error_naming_the_variable(env, named):
    with pytest.raises(SettingsError) as e:
        load_settings(env)
    assert named in str(e.value)


def test_settings_are_frozen_and_read_once_until_reset(monkeypatch):
    monkeypatch.setenv("FF_TABLE_NAME", "first")
    reset_settings()
    first = get_settings()
    assert first.table_name == "first"
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.table_name = "changed"  # type: ignore[misc]
    monkeypatch.setenv("FF_TABLE_NAME", "second")
    assert get_settings() is first
    reset_settings()
    assert get_settings().table_name == "second"
    reset_settings()


def test_importing_the_app_reads_no_settings_and_imports_no_pydantic():
    # The cold start budget: settings (and pydantic) load on first use, not at import.
    code = "import sys, app; print(sorted(m for m in ('pydantic', 'pydantic_settings', 'chalicelib.core.settings') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]"
