"""SQLAlchemy's pytest plugin, for its dialect compliance suite (``sqlalchemy.testing.suite``).

This directory is its own pytest root (``setup.cfg`` here; ``dsql/setup.cfg`` for
``auroradsql+pgwire``): ``scripts/test-sqlalchemy`` runs it once per dialect with
``--dburi``; the project's own test run leaves it out (tests/sqlalchemy/conftest.py), because
SQLAlchemy's plugin takes over pytest's session.

A few tests of the suite use a feature that their requirements do not name (PostgreSQL has
them all, so it never shows there): :data:`UNSTATED` names it, and a test is skipped when the
run's requirements class closes that feature.
"""

from collections.abc import Callable
from typing import Any

import pytest

pytest.register_assert_rewrite("sqlalchemy.testing.assertions")

from sqlalchemy.testing.plugin import pytestplugin as _sa_plugin  # noqa: E402
from sqlalchemy.testing.plugin.pytestplugin import *  # noqa: E402, F403

#: (suite class, test name, which of its parameter sets, the requirement it needs unsaid).
UNSTATED: list[tuple[str, str | None, Callable[[dict[str, Any]], bool], str]] = [
    # The variants without a view run CREATE TABLE ... AS.
    (
        "TableViaSelectTest",
        "test_without_metadata",
        lambda params: not params.get("use_view"),
        "create_table_as",
    ),
    # Its table t2 has an identity column with CACHE 4.
    ("IdentityReflectionTest", None, lambda params: True, "sequence_cache_any"),
    # It sets an isolation level other than the default and AUTOCOMMIT.
    (
        "IsolationLevelTest",
        "test_dialect_user_setting_is_restored",
        lambda params: True,
        "non_default_isolation_level",
    ),
]


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    _sa_plugin.pytest_collection_modifyitems(session, config, items)
    from sqlalchemy.testing import config as sa_config

    for item in items:
        for suite_class, name, applies, requirement in UNSTATED:
            # The suite's classes are subclassed per database: match by the base's name.
            bases = {base.__name__ for base in getattr(item.cls, "__mro__", ())}
            if suite_class not in bases:
                continue
            if name is not None and item.originalname != name:
                continue
            params = item.callspec.params if hasattr(item, "callspec") else {}
            if applies(params) and not getattr(sa_config.requirements, requirement).enabled:
                item.add_marker(pytest.mark.skip(reason=f"needs {requirement}"))
